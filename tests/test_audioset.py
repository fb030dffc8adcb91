"""The ``audioset`` model (EfficientAT mn04 port): bundle, front end, network,
port check against the original's reference outputs, hearing rules, CLI."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import write_audio
from safetensors.torch import load_file, save_file

from genrescope.cli import main
from genrescope.efficientat_mel import MelSpec, chunk_starts, kaldi_mel_filterbank, log_mel
from genrescope.errors import GenrescopeError
from genrescope.hearing import (ABSENT, DOMINANT, PRESENT, chunk_peaks, hear, heard,
                                outside_ten, used_ids, what_is_it)
from genrescope.models.efficientat import EfficientAT, EfficientATModel
from genrescope.models.registry import load_model, resolve
from genrescope.synth import chord

BUNDLE = Path(__file__).resolve().parents[1] / "genrescope" / "assets" / "audioset"
REFERENCE = Path("/work/shared/models/efficientat_mn04/reference")
N_CLASSES, EMBEDDING_DIM, N_TENSORS = 527, 384, 312


@pytest.fixture(scope="module")
def model() -> EfficientATModel:
    return load_model(resolve("audioset"))


@pytest.fixture(scope="module")
def config() -> dict:
    return json.loads((BUNDLE / "config.json").read_text(encoding="utf-8"))


# ---------------------------------------------------------------- bundle ---
def test_shipped_bundle_loads_strictly_with_names_licence_and_credit(model, config):
    assert isinstance(model, EfficientATModel) and not model.training
    assert model.output == "sigmoid" and model.normalise is False
    assert model.sr == 32000 and len(model.labels) == N_CLASSES
    assert len(load_file(str(BUNDLE / "model.safetensors"))) == N_TENSORS
    names = config["label_names"]
    assert set(names) == set(config["labels"])
    for label in config["labels"]:
        en, zh = names[label]["en"], names[label]["zh"]
        assert en and zh and any("\u4e00" <= ch <= "\u9fff" for ch in zh), label
    assert len({n["zh"] for n in names.values()}) == N_CLASSES
    assert model.genres[config["labels"].index("Female_singing")].zh == "女声演唱"
    assert "Florian Schmid" in (BUNDLE / "LICENSE").read_text() and config["license"] == "MIT"
    assert "Gemmeke" in config["credit"] and "CC BY 4.0" in config["credit"]
    assert (BUNDLE / "class_labels_indices.csv").read_text().count("\n") == N_CLASSES + 1


@pytest.mark.parametrize("damage", ["missing", "extra", "shape"])
def test_a_bundle_with_a_missing_extra_or_reshaped_tensor_is_refused(tmp_path, damage):
    folder = tmp_path / "audioset_damaged"
    folder.mkdir()
    shutil.copy(BUNDLE / "config.json", folder / "config.json")
    state = load_file(str(BUNDLE / "model.safetensors"))
    if damage == "missing":
        del state["features.4.block.2.conc_se_layers.0.fc1.weight"]
    elif damage == "extra":
        state["features.17.0.weight"] = torch.zeros(3)
    else:
        state["classifier.5.bias"] = torch.zeros(526)
    save_file(state, str(folder / "model.safetensors"))
    with pytest.raises(GenrescopeError) as err:
        load_model(resolve(str(folder)))
    message = str(err.value)
    assert "does not fit" in message
    expected = {"missing": "1 missing keys", "extra": "1 unexpected keys",
                "shape": "classifier.5.bias (526,)"}[damage]
    assert expected in message


def test_random_weights_with_the_key_layout_load_strictly():
    net = EfficientAT().eval()
    state = net.state_dict()
    assert len(state) == N_TENSORS
    assert sum(p.numel() for p in net.parameters()) == 983_599
    assert state["features.14.block.2.conc_se_layers.0.fc1.weight"].shape == (96, 384)
    assert state["features.16.0.weight"].shape == (384, 64, 1, 1)
    other = EfficientAT().eval()
    other.load_state_dict({k: torch.rand_like(v) if v.is_floating_point() else v
                           for k, v in state.items()}, strict=True)


# ------------------------------------------------------------- front end ---
def test_front_end_puts_a_1khz_sine_in_the_band_holding_1khz():
    spec = MelSpec()
    t = np.arange(2 * spec.sr) / spec.sr
    mel = log_mel((0.5 * np.sin(2 * np.pi * 1000.0 * t)).astype(np.float32), spec)
    assert mel.shape == (128, 1 + (len(t) - 1) // 320) and mel.dtype == np.float32
    band = int(np.argmax(mel[:, 10:-10].mean(axis=1)))
    bank = kaldi_mel_filterbank(spec.sr, spec.n_fft, spec.n_mels, spec.fmin_hz, spec.fmax_hz)
    bin_1k = round(1000.0 * spec.n_fft / spec.sr)
    assert bank[band, bin_1k] > 0                         # that band's filter covers 1 kHz
    assert band == int(np.argmax(bank[:, bin_1k]))


def test_filterbank_is_kaldis_triangles_with_a_zero_nyquist_column():
    bank = kaldi_mel_filterbank()
    assert bank.shape == (128, 513) and bank.dtype == np.float32
    assert not bank[:, -1].any() and bank.max() <= 1.0
    assert (bank > 0).any(axis=1).all()                   # no empty band


def test_chunks_cover_every_frame():
    assert chunk_starts(300, 1000, 1000) == [0]
    assert chunk_starts(1000, 1000, 1000) == [0]
    assert chunk_starts(3001, 1000, 1000) == [0, 1000, 2000, 2001]
    assert chunk_starts(2500, 1000, 500) == [0, 500, 1000, 1500]


# --------------------------------------------------------------- network ---
@pytest.mark.parametrize("duration_s,n_chunks,frames", [(3.0, 1, 300), (25.0, 3, 1000)])
def test_output_shapes(model, duration_s, n_chunks, frames):
    y = chord(duration_s, model.sr)
    features = model.features(y)
    assert tuple(features.inputs.shape) == (n_chunks, frames, 128)
    assert features.spec_db.shape[0] == 128 and len(features.chunks) == n_chunks
    with torch.inference_mode():
        scores, embedding = model.scores_and_embed(features.inputs)
        logits = model(features.inputs)
    assert scores.shape == (n_chunks, N_CLASSES) and embedding.shape == (n_chunks, EMBEDDING_DIM)
    assert logits.shape == (n_chunks, N_CLASSES)
    torch.testing.assert_close(scores, torch.sigmoid(logits))
    assert float(scores.min()) >= 0 and float(scores.max()) <= 1
    torch.testing.assert_close(embedding, model.embed(features.inputs))


@pytest.mark.skipif(not REFERENCE.is_dir(), reason="needs /work/shared/models/efficientat_mn04")
@pytest.mark.parametrize("case", ["synth10s", "blues00000_10s", "synth3s"])
def test_port_matches_the_original_implementation(model, case):
    ref = {k: np.load(REFERENCE / f"{case}.{k}.npy")
           for k in ("input", "mel", "logits", "embedding")}
    assert np.abs(log_mel(ref["input"]) - ref["mel"]).max() <= 1e-4
    with torch.inference_mode():
        logits, embedding = model.net(torch.from_numpy(ref["mel"])[None, None])
        scores, emb_e2e = model.scores_and_embed(model.features(ref["input"]).inputs)
    assert np.abs(logits[0].numpy() - ref["logits"]).max() <= 1e-3
    assert np.abs(embedding[0].numpy() - ref["embedding"]).max() <= 1e-3
    assert np.abs(emb_e2e[0].numpy() - ref["embedding"]).max() <= 1e-3
    expected = 1 / (1 + np.exp(-ref["logits"].astype(np.float64)))
    assert np.abs(scores[0].numpy() - expected).max() <= 1e-3


# --------------------------------------------------------------- hearing ---
def scores(**kw: float) -> dict:
    return dict(kw)


def test_hearing_reads_only_ids_the_bundle_has(config):
    assert used_ids() <= set(config["labels"])


def test_heard_picks_the_voice_then_the_most_specific_instruments():
    s = scores(Music=0.9, Singing=0.7, Female_singing=0.4, Guitar=0.6, Acoustic_guitar=0.3,
               Piano=0.25, Violin_fiddle=0.1)
    found = heard(s)
    assert [(h.kind, h.name.id) for h in found] == [
        ("voice", "Female_singing"), ("instrument", "Acoustic_guitar"), ("instrument", "Piano")]
    assert found[0].name.en == "Female singing" and found[0].name.zh == "女声演唱"
    assert found[1].name.zh == "原声吉他" and found[1].score == pytest.approx(0.3)


def test_heard_says_instrumental_only_when_no_voice_at_all():
    found = heard(scores(Music=0.9, Violin_fiddle=0.5, Orchestra=0.3, Cello=0.25, Harp=0.22))
    assert found[0].kind == "instrumental" and found[0].name.zh == "纯音乐（无人声）"
    assert [h.name.en for h in found[1:]] == ["Violin, fiddle", "Orchestra"]
    unsure = heard(scores(Music=0.9, Singing=(ABSENT + PRESENT) / 2, Piano=0.5))
    assert [h.kind for h in unsure] == ["instrument"]
    rap = heard(scores(Music=0.9, Rapping=0.3, Singing=0.25, Speech=0.4))
    assert rap[0].name.id == "Rapping"
    spoken = heard(scores(Music=0.9, Speech=0.3))
    assert spoken[0].name.en == "Spoken vocals" and spoken[0].name.zh == "念白人声"


def test_what_is_it():
    assert what_is_it(scores(Music=0.8, Singing=0.4, Speech=0.3)).id == "music"
    assert what_is_it(scores(Speech=0.9, Male_speech_man_speaking=0.6)).id == "speech"
    under = what_is_it(scores(Speech=0.8, Music=0.35))
    assert under.id == "music_under_speech" and under.kind.zh == "语音下的背景音乐"
    assert under.score == pytest.approx(0.35)
    assert what_is_it(scores(Speech=0.7, Music=0.8, Singing=0.75)).id == "music"  # singing
    assert what_is_it(scores(Animal=0.6, Dog=0.5, Bark=0.5)).id == "animal"
    assert what_is_it(scores(Rain=0.4, Water=0.3, Music=0.1)).id == "nature"
    assert what_is_it(scores(Vehicle=0.7, Engine=0.5)).id == "noise"
    assert what_is_it(scores(Silence=0.6)).id == "silence"
    assert what_is_it(scores(Silence=0.1, Music=0.05)).id == "silence"
    assert what_is_it(scores(Music=0.05, Speech=0.04)).id == "noise"         # nothing clear
    assert what_is_it(scores(Music=DOMINANT, Dog=0.9)).id == "music"
    assert what_is_it({}).kind.en


def test_outside_the_ten():
    s = scores(Music=0.9, Electronic_music=0.3, Techno=0.45, House_music=0.2, Rock_music=0.25)
    out = outside_ten(s)
    assert out.family.id == "electronic" and out.genre.id == "Techno"
    assert (out.family.en, out.family.zh) == ("Electronic", "电子音乐")
    assert out.genre.zh == "科技舞曲" and out.score == pytest.approx(0.45)
    assert out.inside_score == pytest.approx(0.25)
    latin = outside_ten(scores(Music=0.9, Flamenco=0.3))
    assert latin.family.en == "Latin" and latin.family.zh == "拉丁音乐"
    assert outside_ten(scores(Music=0.9, Rock_music=0.8, Funk=PRESENT / 2)) is None


def test_hear_combines_and_skips_music_parts_for_other_sounds():
    music = hear(scores(Music=0.9, Choir=0.5, Singing=0.6, Organ=0.4, Gospel_music=0.35))
    assert music.id == "music" and music.heard[0].name.id == "Choir"
    assert music.outside.family.id == "gospel"
    assert music.outside.family.zh == "福音与基督教音乐"
    talk = hear(scores(Speech=0.95, Piano=0.5, Techno=0.4))
    assert talk.id == "speech" and talk.heard == () and talk.outside is None
    mean = scores(Music=0.9, Singing=0.1)
    assert hear(mean).heard == ()                                      # unsure of the voice
    assert hear(mean, peaks=scores(Music=0.9, Singing=0.3)).heard[0].name.id == "Singing"


def test_chunk_peaks():
    peaks = chunk_peaks(["a", "b"], np.array([[0.1, 0.5], [0.3, 0.2]], dtype=np.float32))
    assert peaks == pytest.approx({"a": 0.3, "b": 0.5})


# ------------------------------------------------------------------- CLI ---
def test_cli_classify_with_the_audioset_model_prints_tags(tmp_path, capsys):
    path = write_audio(tmp_path / "chord.wav", chord(6.0, 22050), 22050)
    assert main(["classify", str(path), "--model", "audioset", "--top", "4"]) == 0
    out = capsys.readouterr().out
    assert "tags (each scored on its own" in out and "4." in out
    assert main(["classify", str(path), "--model", "audioset", "--format", "json"]) == 0
    result = json.loads(capsys.readouterr().out)
    result = result[0] if isinstance(result, list) else result
    assert result["model"] == "audioset" and result["score"] == "tags"
    assert len(result["top"]) == 5 and all(0 <= g["probability"] <= 1 for g in result["top"])
    assert main(["classify", str(path), "--model", "audioset", "--lang", "zh"]) == 0
    assert any("\u4e00" <= ch <= "\u9fff" for ch in capsys.readouterr().out)


def test_cli_lists_the_audioset_model(capsys):
    assert main(["models"]) == 0
    assert "audioset" in capsys.readouterr().out
