"""Shared fixtures: audio written in every format, random-weight checkpoints
with the official key layout. Nothing is read from outside the test's own
temporary folders."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
# benchmarks/ holds oracles the tests share with the benchmarks (reference.py: the
# official app's procedure; reliability.py: the load procedure)
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
# cached checks and features go to a folder of this run, not the user's cache
# (subprocesses started by the tests inherit it)
if "GENRESCOPE_CACHE" not in os.environ:
    import atexit
    import shutil
    import tempfile

    os.environ["GENRESCOPE_CACHE"] = tempfile.mkdtemp(prefix="genrescope-test-cache-")
    atexit.register(shutil.rmtree, os.environ["GENRESCOPE_CACHE"], ignore_errors=True)

#: Every input format the product promises, with how the tests write it.
FORMATS = ("wav", "flac", "ogg", "opus", "mp3", "m4a", "webm")


def write_audio(path: str | Path, y: np.ndarray, sr: int) -> Path:
    """Write mono or (samples, channels) float audio in the format of ``path``'s
    extension: soundfile for wav/flac/ogg/opus/mp3, PyAV for m4a/webm/mp4."""
    path = Path(path)
    ext = path.suffix.lower().lstrip(".")
    y = np.asarray(y, dtype=np.float32)
    if ext in ("wav", "flac"):
        sf.write(path, y, sr)
    elif ext == "ogg":
        sf.write(path, y, sr, format="OGG", subtype="VORBIS")
    elif ext == "opus":
        sf.write(path, _resample(y, sr, 48000), 48000, format="OGG", subtype="OPUS")
    elif ext == "mp3":
        sf.write(path, y, sr, format="MP3", subtype="MPEG_LAYER_III")
    elif ext in ("m4a", "webm", "mp4"):
        _write_av(path, y, sr, ext)
    else:
        raise ValueError(ext)
    return path


def _resample(y, sr, target):
    import soxr

    return soxr.resample(y, sr, target) if sr != target else y


def _write_av(path: Path, y: np.ndarray, sr: int, ext: str) -> None:
    import av

    codec = {"m4a": "aac", "mp4": "aac", "webm": "libopus"}[ext]
    rate = 48000 if codec == "libopus" else sr
    y = _resample(y, sr, rate)
    if y.ndim == 1:
        y = y[:, None]
    layout = "mono" if y.shape[1] == 1 else "stereo"
    with av.open(str(path), "w", format={"m4a": "ipod", "mp4": "mp4", "webm": "webm"}[ext]) as out:
        stream = out.add_stream(codec, rate=rate, layout=layout)
        frame_size = stream.codec_context.frame_size or 1024
        planar = np.ascontiguousarray(y.T)
        for start in range(0, planar.shape[1], frame_size):
            block = np.ascontiguousarray(planar[:, start:start + frame_size])
            frame = av.AudioFrame.from_ndarray(block, format="fltp", layout=layout)
            frame.sample_rate = rate
            frame.pts = start
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)


def tone(freq_hz: float = 440.0, duration_s: float = 3.0, sr: int = 44100,
         channels: int = 1, amp: float = 0.5) -> np.ndarray:
    t = np.arange(int(duration_s * sr)) / sr
    y = (amp * np.sin(2 * np.pi * freq_hz * t)).astype(np.float32)
    return y if channels == 1 else np.stack([y] * channels, axis=1)


def dominant_hz(y: np.ndarray, sr: int) -> float:
    spectrum = np.abs(np.fft.rfft(y * np.hanning(len(y))))
    return float(np.argmax(spectrum) * sr / len(y))


@pytest.fixture(scope="session")
def official_models_dir(tmp_path_factory) -> Path:
    """A models directory holding a random-weight ``vgg19_bn_cqt/save.pt``
    saved exactly as the official checkpoints are: a plain state_dict."""
    from genrescope.models.vgg import VGG

    root = tmp_path_factory.mktemp("models")
    (root / "vgg19_bn_cqt").mkdir()
    torch.manual_seed(0)
    torch.save(VGG("vgg19_bn", 16).state_dict(), root / "vgg19_bn_cqt" / "save.pt")
    return root


@pytest.fixture(scope="session")
def vgg_classifier(official_models_dir):
    from genrescope import Classifier

    return Classifier.load("vgg19_bn_cqt", models_dir=official_models_dir, device="cpu",
                           precision="fp32")
