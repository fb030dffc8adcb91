"""Prediction.timeline: chunk times from the front end, merged segments."""

from __future__ import annotations

import json

import numpy as np
import pytest

from genrescope import Classifier
from genrescope.features import chunk_frames
from genrescope.labels import genre
from genrescope.synth import chord, groove
from genrescope.timeline import Timeline, TimelineChunk, build_timeline, clock

GENRES = [genre("jazz"), genre("rock"), genre("pop")]


def _timeline(leading: list[int], chunk_s: float = 3.0) -> Timeline:
    chunks = []
    for i, g in enumerate(leading):
        p = np.full(3, 0.1, dtype=np.float32)
        p[g] = 0.8
        start, end = i * chunk_s, (i + 1) * chunk_s
        chunks.append(TimelineChunk(start, end, p, start, end))
    return Timeline(GENRES, chunks, 0.0, len(leading) * chunk_s)


def _assert_tiles(timeline: Timeline, start_s: float, end_s: float) -> None:
    chunks = timeline.chunks
    assert chunks[0].start_s == pytest.approx(start_s)
    assert chunks[-1].end_s == pytest.approx(end_s)
    for a, b in zip(chunks, chunks[1:]):
        assert a.end_s == pytest.approx(b.start_s)
    assert sum(c.duration_s for c in chunks) == pytest.approx(end_s - start_s)
    for c in chunks:
        assert c.start_s - 1e-6 <= c.input_start_s < c.input_end_s <= c.end_s + 1e-6


def test_one_chunk_flicker_is_not_a_change():
    segments = _timeline([0, 0, 0, 1, 0, 0, 2, 2, 2]).segments()
    assert [(s.genre.id, s.start_s, s.end_s, s.n_chunks) for s in segments] == [
        ("jazz", 0.0, 18.0, 6), ("pop", 18.0, 27.0, 3)]


def test_two_chunk_run_is_a_change():
    segments = _timeline([0, 0, 1, 1, 0, 0]).segments()
    assert [s.genre.id for s in segments] == ["jazz", "rock", "jazz"]


def test_flicker_between_two_genres_joins_the_stronger_neighbour():
    tl = _timeline([0, 0, 2, 1, 1])
    tl.chunks[2].probabilities[:] = [0.05, 0.35, 0.6]   # pop leads, rock is second
    assert [(s.genre.id, s.n_chunks) for s in tl.segments()] == [("jazz", 2), ("rock", 3)]


def test_edge_flicker_absorbed_but_two_chunks_keep_their_change():
    assert [s.genre.id for s in _timeline([1, 0, 0, 0]).segments()] == ["jazz"]
    assert [s.genre.id for s in _timeline([0, 1], chunk_s=11.4).segments()] == ["jazz", "rock"]


def test_describe_uses_clock_times_and_language():
    tl = _timeline([0] * 24 + [1] * 30)
    assert tl.describe() == "0:00-1:12 Jazz, 1:12-2:42 Rock"
    assert tl.describe("zh") == f"0:00-1:12 {genre('jazz').zh}, 1:12-2:42 {genre('rock').zh}"
    assert clock(3725) == "1:02:05"


def test_build_timeline_tiles_the_window_with_centred_vgg_chunks():
    frame_rate_hz = 22050 / 512
    n_frames, duration_s = 1292, 30.0
    chunks = chunk_frames(n_frames, duration_s, 11.4)      # 2 chunks, ~3.6 s left at each end
    scores = np.array([[0.7, 0.2, 0.1], [0.1, 0.8, 0.1]])
    tl = build_timeline(scores, chunks, frame_rate_hz, GENRES, offset_s=60.0, duration_s=duration_s)
    _assert_tiles(tl, 60.0, 90.0)
    assert tl.chunks[0].input_start_s == pytest.approx(60.0 + chunks[0][0] / frame_rate_hz)
    assert tl.chunks[0].input_start_s > 63.0                  # the unanalysed lead-in is shown
    assert tl.chunks[0].end_s == pytest.approx(60.0 + chunks[0][1] / frame_rate_hz)


def test_build_timeline_normalises_tag_scores():
    tl = build_timeline(np.array([[0.2, 0.2, 0.1]]), [(0, 10)], 1.0, GENRES, offset_s=0.0,
                        duration_s=10.0, normalise=True)
    assert tl.chunks[0].probabilities.sum() == pytest.approx(1.0)
    assert tl.chunks[0].probabilities[2] == pytest.approx(0.2)


@pytest.fixture(scope="module")
def default_classifier():
    return Classifier.load()


@pytest.mark.parametrize("duration_s,offset_s", [(30.0, 0.0), (7.3, 2.5), (2.0, 0.0)])
def test_default_model_chunk_times_add_up(default_classifier, duration_s, offset_s):
    y = chord(duration_s + offset_s, 16000)
    pred = default_classifier.classify(y, sr=16000, offset_s=offset_s, duration_s=duration_s)
    tl = pred.timeline
    assert len(tl.chunks) == len(pred.features.chunks) == pred.chunk_probabilities.shape[0]
    _assert_tiles(tl, offset_s, offset_s + pred.audio.duration_s)
    if duration_s >= 6:                                       # 3 s patches from the front end
        assert tl.chunks[1].input_start_s - tl.chunks[0].input_start_s == pytest.approx(
            187 * 256 / 16000)


def test_two_halves_change_near_the_join(default_classifier):
    sr = 16000
    y = np.concatenate([chord(15.0, sr), groove(15.0, sr)])
    pred = default_classifier.classify(y, sr=sr)
    segments = pred.timeline.segments()
    assert len(segments) == 2, pred.timeline.describe()
    assert segments[0].genre != segments[1].genre
    assert abs(segments[0].end_s - 15.0) <= 187 * 256 / sr        # within one patch
    first_half = [c for c in pred.timeline.chunks if c.end_s <= 15.0]
    assert all(c.leading == pred.genres.index(segments[0].genre) for c in first_half)
    out = json.loads(json.dumps(pred.to_dict()))
    assert [s["label"] for s in out["timeline"]["segments"]] == [s.genre.id for s in segments]
    assert len(out["timeline"]["chunks"]) == 10
    assert len(out["timeline"]["chunks"][0]["probabilities"]) == len(out["timeline"]["labels"])


def test_vgg_chunk_times_come_from_the_front_end(vgg_classifier):
    pred = vgg_classifier.classify(chord(30.0, 22050), sr=22050)
    tl = pred.timeline
    assert len(tl.chunks) == 2
    _assert_tiles(tl, 0.0, 30.0)
    fr = pred.features.frame_rate_hz
    for c, (a, b) in zip(tl.chunks, pred.features.chunks):
        assert c.input_start_s == pytest.approx(a / fr)
        assert c.input_end_s == pytest.approx(b / fr)
        assert c.input_end_s - c.input_start_s == pytest.approx(11.4, abs=0.05)


def test_cli_table_prints_the_segments(tmp_path, capsys):
    import soundfile as sf

    from genrescope.cli import main

    wav = tmp_path / "halves.wav"
    sf.write(wav, np.concatenate([chord(15.0, 16000), groove(15.0, 16000)]), 16000)
    assert main(["classify", str(wav)]) == 0
    line = next(x for x in capsys.readouterr().out.splitlines() if "over time:" in x)
    first, second = line.split("over time:")[1].split(",")
    assert first.strip().startswith("0:00-0:15 ") and second.strip().startswith("0:15-0:30 ")
