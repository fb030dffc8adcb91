"""musicnn port: log-mel patches, shipped bundles and golden outputs.

The golden values were produced by the torch port on the synthetic clip
below; ``tools/convert_musicnn.py`` runs the original TensorFlow musicnn
graph on the same clip and agrees with them to < 1e-6 (probabilities) and
< 2e-5 (embedding).  No TensorFlow or shared data is needed here.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from genrescope.mel_patches import musicnn_log_mel, musicnn_patches
from genrescope.models.musicnn import Musicnn

ASSETS = Path(__file__).resolve().parents[1] / "genrescope" / "assets"
SR_HZ = 16000

# first patch of synthetic_clip(): (tag index, tag, sigmoid probability) of
# the top-5 tags, and embedding[:6]
GOLDEN = {
    "msd_musicnn": {
        "top_tags": [
            (28, "ambient", 0.288368),
            (4, "electronic", 0.237862),
            (30, "experimental", 0.195025),
            (23, "instrumental", 0.104157),
            (18, "electronica", 0.063417),
        ],
        "embedding": [-0.177176, -0.11157, -0.284826, -0.275121, -0.353151, 1.083387],
    },
    "mtt_musicnn": {
        "top_tags": [
            (10, "ambient", 0.173475),
            (14, "synth", 0.080058),
            (6, "electronic", 0.079215),
            (2, "slow", 0.07496),
            (21, "no vocals", 0.066607),
        ],
        "embedding": [-0.079952, 0.921359, -0.092263, 0.621745, -0.078703, -0.170036],
    },
}
TOL = 1e-4


def synthetic_clip(duration_s: float = 4.0, sr_hz: int = SR_HZ) -> np.ndarray:
    """A-major chord with a 4 Hz amplitude pulse plus white noise (seeded).

    Mirrors ``synthetic_test_clip`` in tools/convert_musicnn.py.
    """
    rng = np.random.default_rng(1234)
    t = np.arange(int(duration_s * sr_hz)) / sr_hz
    chord_hz = (220.0, 277.18, 329.63, 440.0)
    y = sum(0.2 * np.sin(2 * np.pi * f * t) for f in chord_hz)
    y = y * (0.6 + 0.4 * np.sin(2 * np.pi * 2.0 * t) ** 2)
    y = y + 0.05 * rng.standard_normal(t.size)
    return y.astype(np.float32)


def load_bundle(name: str) -> tuple[Musicnn, dict]:
    folder = ASSETS / name
    config = json.loads((folder / "config.json").read_text())
    model = Musicnn(**config["network"])
    model.load_state_dict(load_file(str(folder / "model.safetensors")), strict=True)
    return model.eval(), config


# --------------------------------------------------------------------------- #
# log-mel and patching
# --------------------------------------------------------------------------- #
def test_patch_shapes_and_tiling():
    rng = np.random.default_rng(0)
    y30 = (0.1 * rng.standard_normal(30 * SR_HZ)).astype(np.float32)
    patches = musicnn_patches(y30)
    assert patches.shape == (10, 187, 96)  # 1876 frames -> 10 full patches
    assert patches.dtype == np.float32
    full = musicnn_log_mel(y30)
    assert full.shape == (1 + 30 * SR_HZ // 256, 96)
    np.testing.assert_array_equal(patches[3], full[3 * 187 : 4 * 187])

    overlapping = musicnn_patches(y30, patch_hop_frames=93)
    assert overlapping.shape == ((1876 - 187) // 93 + 1, 187, 96)
    np.testing.assert_array_equal(overlapping[1], full[93 : 93 + 187])

    # shorter than one patch: spectrogram frames are tiled (repeat-pad)
    y1 = y30[:SR_HZ]
    short = musicnn_patches(y1)
    assert short.shape == (1, 187, 96)
    n = 1 + SR_HZ // 256  # 63 frames
    np.testing.assert_array_equal(short[0, :n], musicnn_log_mel(y1))
    np.testing.assert_array_equal(short[0, n : 2 * n], short[0, :n])
    np.testing.assert_array_equal(short[0, 2 * n :], short[0, : 187 - 2 * n])

    assert musicnn_patches(y30[:100]).shape == (1, 187, 96)
    with pytest.raises(ValueError):
        musicnn_patches(np.zeros(0, dtype=np.float32))


def test_log_mel_matches_librosa_reflect():
    librosa = pytest.importorskip("librosa")
    y = synthetic_clip()
    mel = librosa.feature.melspectrogram(
        y=y, sr=SR_HZ, n_fft=512, hop_length=256, n_mels=96, pad_mode="reflect"
    ).T
    expected = np.log10(10000 * mel.astype(np.float32) + 1)
    np.testing.assert_allclose(musicnn_log_mel(y), expected, atol=1e-4, rtol=0)


# --------------------------------------------------------------------------- #
# shipped bundles
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("name", sorted(GOLDEN))
def test_bundle_files_and_config(name):
    folder = ASSETS / name
    config = json.loads((folder / "config.json").read_text())
    assert config["name"] == name
    assert config["architecture"] == "musicnn"
    assert config["output"] == "sigmoid"
    assert config["license"] == "ISC"
    assert config["representation"] == {
        "type": "musicnn_mel",
        "sr": 16000,
        "n_fft": 512,
        "hop_length": 256,
        "n_mels": 96,
        "patch_frames": 187,
        "patch_hop_frames": 187,
    }
    assert len(config["labels"]) == config["network"]["n_classes"] == 50
    assert len(set(config["labels"])) == 50
    assert "Jordi Pons" in (folder / "LICENSE").read_text()
    state = load_file(str(folder / "model.safetensors"))
    for key, tensor in state.items():
        if not key.endswith("num_batches_tracked"):
            assert tensor.dtype == torch.float32, key
    assert (folder / "model.safetensors").stat().st_size < 5_000_000


@pytest.mark.parametrize("name", sorted(GOLDEN))
def test_forward_shapes(name):
    model, _ = load_bundle(name)
    assert sum(p.numel() for p in model.parameters()) == 787_159
    with torch.no_grad():
        logits, embedding = model(torch.zeros(3, 187, 96))
    assert logits.shape == (3, 50) and embedding.shape == (3, 200)
    assert logits.dtype == embedding.dtype == torch.float32
    with pytest.raises(ValueError):
        model(torch.zeros(1, 187, 128))


@pytest.mark.parametrize("name", sorted(GOLDEN))
def test_golden_outputs(name):
    model, config = load_bundle(name)
    patches = musicnn_patches(synthetic_clip())
    assert patches.shape == (1, 187, 96)
    with torch.no_grad():
        logits, embedding = model(torch.from_numpy(patches))
    probs = torch.sigmoid(logits)[0].numpy()
    golden = GOLDEN[name]
    top = np.argsort(-probs)[: len(golden["top_tags"])]
    assert [int(i) for i in top] == [i for i, _, _ in golden["top_tags"]]
    for index, tag, prob in golden["top_tags"]:
        assert config["labels"][index] == tag
        assert abs(float(probs[index]) - prob) < TOL, (tag, float(probs[index]), prob)
    np.testing.assert_allclose(embedding[0, :6].numpy(), golden["embedding"], atol=TOL, rtol=0)
