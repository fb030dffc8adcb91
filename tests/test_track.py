"""track.py: the one pooling and the one set of notes (a clip, a track of windows)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from genrescope.audio import AudioWarning
from genrescope.labels import genre
from genrescope.models.config import BundleConfig
from genrescope.track import clip_scores, clips_scores, combine_windows, model_notes

CONFIG = BundleConfig.parse({"name": "t", "architecture": "embedding_head",
                             "labels": ["a", "b", "c"], "not_music": {"threshold": 0.5},
                             "calibration": {"unsure_below": 0.5}})


def test_clip_scores_mean_and_rescale():
    chunks = np.array([[0.2, 0.2, 0.0], [0.4, 0.0, 0.2]], dtype=np.float32)
    assert np.allclose(clip_scores(chunks, normalise=False), [0.3, 0.1, 0.1])
    assert np.allclose(clip_scores(chunks, normalise=True), [0.6, 0.2, 0.2])
    assert np.array_equal(clip_scores(np.zeros((2, 3)), normalise=True), np.zeros(3))
    # many clips at once: the same numbers as one by one
    groups = np.array([0, 1, 1, 0])
    rows = np.random.default_rng(0).random((4, 3)).astype(np.float32)
    both = clips_scores(rows, groups, 2, normalise=True)
    assert np.array_equal(both[1], clip_scores(rows[[1, 2]], normalise=True))


def test_model_notes():
    assert [w.code for w in model_notes(CONFIG, 0.4, 0.9)] == ["not_music"]
    assert [w.code for w in model_notes(CONFIG, 0.4, 0.1)] == ["ambiguous"]
    assert model_notes(CONFIG, 0.8, 0.1) == []
    plain = BundleConfig.parse({"name": "p", "architecture": "vgg11_bn", "labels": ["a"]})
    assert [w.code for w in model_notes(plain, 0.59, 0.99)] == ["ambiguous"]   # no head


def _window(probs, n_chunks, warnings=(), embedding=None):
    genres = [genre(k) for k in ("a", "b", "c")]
    return SimpleNamespace(genres=genres, probabilities=dict(zip("abc", probs)),
                           chunk_probabilities=np.zeros((n_chunks, 3)),
                           warnings=[AudioWarning(c, c) for c in warnings],
                           embedding=embedding, heard=[])


def test_combine_windows_weights_chunks_and_decides_notes_again():
    track = combine_windows([_window([1.0, 0.0, 0.0], 3, ["ambiguous"], np.ones(2)),
                             _window([0.0, 1.0, 0.0], 1, ["clipping"], np.zeros(2))], CONFIG)
    assert track.probabilities == pytest.approx([0.75, 0.25, 0.0])
    assert list(track.order[:2]) == [0, 1]
    assert [w.code for w in track.warnings] == ["clipping"]       # 0.75 is sure: no ambiguous
    assert track.embedding == pytest.approx([0.75, 0.75])
    unsure = combine_windows([_window([0.4, 0.3, 0.3], 2), _window([0.4, 0.3, 0.3], 2)], CONFIG)
    assert [w.code for w in unsure.warnings] == ["ambiguous"]
    noise = combine_windows([_window([0.4, 0.3, 0.3], 2, ["not_music"]),
                             _window([0.4, 0.3, 0.3], 2, ["not_music"])], CONFIG)
    assert [w.code for w in noise.warnings] == ["not_music"]     # never beside ambiguous
