"""The shipped default model ``genres``: it loads, its labels are complete in
English and Chinese, its calibration maps known logits to known
probabilities, a not-music head adds the ``not_music`` note, and
``tools/build_default_model.py`` rebuilds a bundle from a tiny synthetic set.
No ../shared data is needed: every input is made here."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import write_audio

from genrescope import Classifier
from genrescope.calibration import clip_probabilities, fit_temperature, reliability
from genrescope.labels import BROAD_GENRES
from genrescope.models.head import EmbeddingHead
from genrescope.models.registry import ASSETS_DIR, DEFAULT_MODEL, resolve
from genrescope.synth import chord, groove

ROOT = Path(__file__).resolve().parents[1]
BUNDLE = ASSETS_DIR / "genres"
SR = 16000


def _tool(name: str):
    sys.path.insert(0, str(ROOT / "tools"))
    spec = importlib.util.spec_from_file_location(name, ROOT / "tools" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_default_is_genres_and_its_config_is_complete():
    assert DEFAULT_MODEL == "genres"
    config = json.loads((BUNDLE / "config.json").read_text(encoding="utf-8"))
    assert config["architecture"] == "embedding_head" and config["base"] == ["msd_musicnn", "msd_vgg"]
    assert set(config["labels"]) >= {"blues", "classical", "country", "disco", "hiphop", "jazz",
                                     "metal", "pop", "reggae", "rock"}
    for label in config["labels"]:
        names = config["label_names"][label]
        assert names["en"] and names["zh"] and names["en"] != names["zh"], label
    assert {g.id for g in BROAD_GENRES} == set(config["labels"])
    assert config["calibration"]["temperature"] > 0
    assert 0 < config["calibration"]["unsure_below"] < 1
    assert 0 < config["not_music"]["threshold"] < 1
    assert (BUNDLE / "LICENSE").is_file()


def test_shipped_head_loads_and_answers():
    clf = Classifier.load()
    assert clf.name == "genres" and clf.model.extras[0] == "not_music"
    assert clf.model.extras[1:] == tuple(f"style:{t}" for t in clf.model.config.styles.names)
    pred = clf.classify(chord(6.0, SR), sr=SR)
    assert len(pred.probabilities) == 10
    assert abs(sum(pred.probabilities.values()) - 1) < 1e-5
    assert pred.chunk_probabilities.shape[1] == 10              # the extra columns are taken off
    assert all(g.name("zh") != g.name("en") for g in pred.top)


def test_base_embeddings_are_the_two_msd_taggers_side_by_side():
    """The head's input is msd_musicnn's 200-d embedding, then msd_vgg's 256-d."""
    clf = Classifier.load()
    inputs = clf.model.features(groove(4.0, SR)).inputs
    with torch.inference_mode():
        stacked = clf.model.base.embed(inputs)
        parts = [Classifier.load(n).model.embed(inputs) for n in ("msd_musicnn", "msd_vgg")]
    assert stacked.shape == (len(inputs), 456)
    assert torch.equal(stacked, torch.cat(parts, dim=1))


def test_a_head_on_one_named_base_still_loads(tmp_path):
    """Heads trained before the stacked base name one model ("musicnn_genres")."""
    from safetensors.torch import save_file

    from genrescope.errors import GenrescopeError
    from genrescope.models.head import StackedBase

    folder = tmp_path / "old_head"
    folder.mkdir()
    config = {"name": "old_head", "architecture": "embedding_head", "base": "musicnn_genres",
              "labels": ["a", "b"], "output": "softmax",
              "head": {"input_dim": 400, "hidden": [], "dropout": 0.0}}
    (folder / "config.json").write_text(json.dumps(config), encoding="utf-8")
    head = EmbeddingHead(400, 2)
    save_file({k: v.contiguous() for k, v in head.state_dict().items()},
              folder / "model.safetensors")
    clf = Classifier.load(folder)
    assert clf.model.base.name == "musicnn_genres"
    assert clf.embed(chord(4.0, SR), sr=SR).shape == (400,)
    # stacking needs one front end
    other = Classifier.load("msd_musicnn").model
    other.config = other.config.model_copy(update={"representation": {
        **other.config.representation, "n_mels": 128}})
    with pytest.raises(GenrescopeError, match="different front"):
        StackedBase([Classifier.load("msd_vgg").model, other])


def test_calibration_maps_known_logits_to_known_probabilities():
    logits = [np.array([[2.0, 0.0]]), np.array([[0.0, 4.0], [0.0, 2.0]])]
    # softmax([2, 0] / 2) = [e/(e+1), 1/(e+1)]
    expected0 = np.exp(1) / (np.exp(1) + 1)
    got = clip_probabilities(logits, 2.0)
    assert got[0, 0] == pytest.approx(expected0)
    assert got[1, 1] == pytest.approx((np.exp(2) / (np.exp(2) + 1) + expected0) / 2)
    # over-confident: logit gap 5 (99.3 %) but 3 answers in 4 right -> the
    # fitted T makes the probability 0.75: 5 / T = ln 3
    over = [np.array([[5.0, 0.0]]) for _ in range(40)]
    y = np.array([0, 0, 0, 1] * 10)
    t = fit_temperature(over, y)
    assert t == pytest.approx(5 / np.log(3), rel=1e-3)
    assert clip_probabilities(over, t)[0, 0] == pytest.approx(0.75, abs=1e-3)
    assert reliability(clip_probabilities(over, t).max(1), y == 0).ece < 0.01
    assert reliability(clip_probabilities(over, 1.0).max(1), y == 0).ece > 0.2


def test_model_applies_its_temperature(tmp_path):
    """Same head weights, temperature 2 in the config: logits halved."""
    config = json.loads((BUNDLE / "config.json").read_text(encoding="utf-8"))
    clf = Classifier.load()
    y = groove(4.0, SR)
    inputs = clf.model.features(y).inputs
    with torch.inference_mode():
        raw = clf.model.head(clf.model.base.embed(inputs))
        got = clf.model(inputs)
    assert torch.allclose(got, raw / config["calibration"]["temperature"], atol=1e-5)


def _dbfs(y: np.ndarray) -> float:
    return 20 * np.log10(np.sqrt(np.mean(np.square(y, dtype=np.float64))))


def test_raise_level_turns_quiet_audio_up_and_leaves_loud_audio_alone():
    from genrescope.audio import raise_level

    y = chord(4.0, SR)
    quiet = (y * 10 ** ((-35 - _dbfs(y)) / 20)).astype(np.float32)
    assert _dbfs(raise_level(quiet)) == pytest.approx(-20, abs=1e-3)
    assert _dbfs(raise_level(quiet, target_dbfs=-14)) == pytest.approx(-14, abs=1e-3)
    loud = (y * 10 ** ((-12 - _dbfs(y)) / 20)).astype(np.float32)
    assert raise_level(loud) is loud                        # boost only
    hiss = (quiet * 10 ** (-60 / 20)).astype(np.float32)    # -95 dBFS: +40 dB at most
    assert _dbfs(raise_level(hiss)) == pytest.approx(-55, abs=1e-3)
    silence = np.zeros(SR, np.float32)
    assert raise_level(silence) is silence
    assert raise_level(quiet).dtype == np.float32


def test_default_answer_does_not_depend_on_the_recording_level(tmp_path):
    """The shipped config turns quiet input up (``input_level``): the same
    music at -30 and -50 dBFS gets the same probabilities; without it, not."""
    import shutil

    config = json.loads((BUNDLE / "config.json").read_text(encoding="utf-8"))
    assert config["input_level"] == {"target_dbfs": -20.0, "max_gain_db": 40.0}
    y = 0.5 * chord(6.0, SR) + 0.5 * groove(6.0, SR)
    at = lambda db: (y * 10 ** ((db - _dbfs(y)) / 20)).astype(np.float32)
    clf = Classifier.load()
    a, b = (clf.classify(at(db), sr=SR).probabilities for db in (-30, -50))
    assert max(abs(a[k] - b[k]) for k in a) < 1e-3
    plain = tmp_path / "plain"
    shutil.copytree(BUNDLE, plain)
    del config["input_level"]
    config["name"] = "plain"
    (plain / "config.json").write_text(json.dumps(config), encoding="utf-8")
    clf = Classifier.load(plain)
    a, b = (clf.classify(at(db), sr=SR).probabilities for db in (-30, -50))
    assert max(abs(a[k] - b[k]) for k in a) > 0.01


def test_styles_are_the_taggers_own_tags_from_the_same_pass(tmp_path):
    """The default names msd_musicnn's style tags beside the genre. With the
    floor at 0 it lists the ``max`` strongest, and their scores are the ones
    msd_musicnn gives on its own for the same (loud: not raised) audio."""
    import shutil

    from genrescope.labels import MSD_STYLES

    config = json.loads((BUNDLE / "config.json").read_text(encoding="utf-8"))
    spec = config["styles"]
    assert spec["from"] == "msd_musicnn" and list(spec["names"]) == [g.id for g in MSD_STYLES]
    assert all(n["en"] and n["zh"] and n["en"] != n["zh"] for n in spec["names"].values())
    y = chord(6.0, SR)
    y = (y * 10 ** ((-12 - _dbfs(y)) / 20)).astype(np.float32)
    shipped = Classifier.load().classify(y, sr=SR)
    assert "not_music" not in [w.code for w in shipped.warnings]
    assert all(s.probability >= spec["min_probability"] for s in shipped.styles)
    folder = tmp_path / "floor0"
    shutil.copytree(BUNDLE, folder)
    config["name"], config["styles"]["min_probability"] = "floor0", 0.0
    (folder / "config.json").write_text(json.dumps(config), encoding="utf-8")
    pred = Classifier.load(folder).classify(y, sr=SR)
    got = [s.probability for s in pred.styles]
    tagger = Classifier.load("msd_musicnn").classify(y, sr=SR).probabilities
    expected = sorted((tagger[t] for t in spec["names"]), reverse=True)[:spec["max"]]
    assert got == pytest.approx(expected, abs=1e-5)
    assert all(s.probability == pytest.approx(tagger[s.label], abs=1e-5) for s in pred.styles)
    assert pred.probabilities == pytest.approx(shipped.probabilities, abs=1e-6)   # genres untouched
    zh = pred.to_dict("zh")["styles"][0]
    assert zh["name"] == spec["names"][zh["label"]]["zh"]


def _stand_in_bundle(tmp_path, music, not_music) -> Path:
    """A bundle like the shipped one whose not-music head is fitted here on
    a few synthesised clips (a stand-in for the real one)."""
    from genrescope.train import fit_head

    model = Classifier.load().model              # its input level, its stacked base models
    emb = lambda ys: np.concatenate([model.base.embed(model.features(y).inputs).detach().numpy()
                                     for y in ys])
    xm, xn = emb(music), emb(not_music)
    x = np.concatenate([xm, xn]).astype(np.float32)
    yb = np.r_[np.zeros(len(xm)), np.ones(len(xn))].astype(np.int64)
    nm, *_ = fit_head(x, yb, None, None, None, 2, hidden=0, dropout=0.0, epochs=200,
                      batch_size=16, lr=1e-2, weight_decay=0.0, patience=1, seed=0,
                      device=torch.device("cpu"))
    folder = tmp_path / "standin"
    folder.mkdir()
    config = json.loads((BUNDLE / "config.json").read_text(encoding="utf-8"))
    config["name"] = "standin"
    (folder / "config.json").write_text(json.dumps(config), encoding="utf-8")
    from safetensors.torch import load_file, save_file

    state = {k: v for k, v in load_file(BUNDLE / "model.safetensors").items()
             if not k.startswith("not_music.")}
    state.update({f"not_music.{k}": v.contiguous() for k, v in nm.state_dict().items()})
    save_file(state, folder / "model.safetensors")
    return folder


def _speech_like(seed: int, duration_s: float = 6.0) -> np.ndarray:
    """Formant-filtered pulses in syllables and pauses: speech-like, no pitch melody."""
    rng = np.random.default_rng(seed)
    n = int(SR * duration_s)
    t = np.arange(n) / SR
    f0 = 110 + 30 * np.sin(2 * np.pi * 0.7 * t)
    pulses = np.sign(np.sin(2 * np.pi * np.cumsum(f0) / SR)) + 0.3 * rng.standard_normal(n)
    syll = (np.sin(2 * np.pi * 4.0 * t) > 0.2) * (rng.random(n // 2000 + 1).repeat(2000)[:n] > 0.2)
    spec = np.fft.rfft(pulses * syll)
    f = np.fft.rfftfreq(n, 1 / SR)
    formants = sum(np.exp(-0.5 * ((f - c) / 120) ** 2) for c in (500, 1500, 2500))
    y = np.fft.irfft(spec * formants, n)
    return (0.05 * y / (np.sqrt(np.mean(y ** 2)) + 1e-12)).astype(np.float32)


def _noise(seed: int, duration_s: float = 6.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (0.05 * rng.standard_normal(int(SR * duration_s))).astype(np.float32)


def test_speech_and_noise_get_the_not_music_note(tmp_path):
    music = [chord(6.0, SR, root_hz=r, seed=s) for r, s in ((220, 1), (262, 2))] + \
            [groove(6.0, SR, bpm=b, seed=s) for b, s in ((100, 3), (128, 4))]
    other = [_speech_like(1), _speech_like(2), _noise(1), _noise(2)]
    clf = Classifier.load(_stand_in_bundle(tmp_path, music, other))
    for y in (_speech_like(7), _noise(8)):                     # not seen in fitting
        codes = [w.code for w in clf.classify(y, sr=SR).warnings]
        assert "not_music" in codes and "ambiguous" not in codes
        assert clf.classify(y, sr=SR).styles == []               # no styles for non-music
    assert "not_music" not in [w.code for w in
                               clf.classify(chord(6.0, SR, root_hz=196, seed=9), sr=SR).warnings]


def test_build_tool_rebuilds_a_bundle_from_a_tiny_set(tmp_path):
    build = _tool("build_default_model")
    data = tmp_path / "music"
    data.mkdir()
    for i in range(4):
        write_audio(data / f"strings.{i:05d}.wav", chord(3.0, SR, root_hz=180 + 30 * i, seed=i), SR)
        write_audio(data / f"drums.{i:05d}.wav", groove(3.0, SR, bpm=90 + 15 * i, seed=i), SR)
    out = tmp_path / "bundle"
    summary = build.build([data], out, report_dir=tmp_path / "report", k=2, epochs=30,
                          nm_epochs=20, nonmusic_per_kind=4, nonmusic_duration_s=3.0,
                          nonmusic_kinds=("noise", "tone", "silence"),
                          cache=tmp_path / "cache")
    config = json.loads((out / "config.json").read_text(encoding="utf-8"))
    assert config["labels"] == ["drums", "strings"]
    assert config["calibration"]["temperature"] > 0
    assert config["input_level"] == {"target_dbfs": -20.0, "max_gain_db": 40.0}
    assert set(summary["cv"]["accuracy_quieter_by_source"]) == {"-20 dB", "-30 dB", "-40 dB"}
    assert config["input_level"] == {"target_dbfs": -20.0, "max_gain_db": 40.0}
    assert set(summary["cv"]["accuracy_quieter_by_source"]) == {"-20 dB", "-30 dB", "-40 dB"}
    assert summary["not_music"]["nonmusic_test"] == 3
    assert (tmp_path / "report" / "reliability_after.png").is_file()
    assert (tmp_path / "report" / "cv" / "confusion.png").is_file()
    clf = Classifier.load(out)
    assert clf.model.extras[0] == "not_music"
    assert len(clf.model.extras) == 1 + len(config["styles"]["names"])
    pred = clf.classify(chord(3.0, SR, root_hz=200, seed=50), sr=SR)
    assert pred.top[0].label == "strings"


def test_unsure_note_follows_the_calibrated_threshold():
    """The "ambiguous" note compares the top probability with the bundle's
    calibration.unsure_below, not the fixed 60 % of other models."""
    clf = Classifier.load()
    # a chord over a groove: music to the not-music head (a bare synthesised
    # chord sounds like a test tone to it, and that note replaces this one)
    y = 0.5 * chord(6.0, SR, root_hz=220, seed=3) + 0.5 * groove(6.0, SR)
    first = clf.classify(y, sr=SR)
    assert "not_music" not in [w.code for w in first.warnings]
    top = first.top[0].probability
    def with_unsure_below(value: float):
        clf.model.config = clf.model.config.model_copy(update={
            "calibration": clf.model.config.calibration.model_copy(
                update={"unsure_below": value})})

    with_unsure_below(above := min(top + 0.001, 1.0))
    note = [w for w in clf.classify(y, sr=SR).warnings if w.code == "ambiguous"]
    assert note and note[0].details["unsure_below"] == pytest.approx(above)
    with_unsure_below(max(top - 0.01, 0.0))
    assert "ambiguous" not in [w.code for w in clf.classify(y, sr=SR).warnings]
