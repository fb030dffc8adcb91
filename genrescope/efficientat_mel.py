"""Audio -> EfficientAT's log-mel spectrogram -> 10 s chunks: the ``audioset`` front end.

The EfficientAT MobileNets (Schmid et al., 2023) were trained on AudioSet
with this front end (32 kHz mono):

1. pre-emphasis ``y[n] - 0.97 * y[n - 1]`` (the output is one sample shorter);
2. STFT, 1024-point FFT, an 800-sample *symmetric* Hann window centred in
   the 1024 samples (112 zeros each side), hop 320 (10 ms), frames centred
   on ``t * hop`` with the signal reflect-padded by 512 samples (what
   ``torch.stft(center=True)`` does);
3. power spectrum;
4. 128 Kaldi-style triangular mel filters (``mel = 1127 ln(1 + f / 700)``,
   triangles evenly spaced in mel from 0 to 15 000 Hz, unnormalised) on
   the 512 lowest FFT bins; the 513th (Nyquist) bin has weight 0;
5. ``ln(mel + 1e-5)``, then ``(x + 4.5) / 5``.

A 10 s clip gives 1000 frames. Computed in numpy (float64 inside, float32
out); the port check (``tools/convert_efficientat.py``) compares it with the
original implementation's output.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
import math
from functools import lru_cache

import numpy as np
import torch

from .features import Features, colorize

__all__ = ["MelSpec", "kaldi_mel_filterbank", "log_mel", "mel_chunks", "chunk_features"]


@dataclass(frozen=True)
class MelSpec:
    """Front-end parameters, as stored in a bundle's ``config.json``
    (``representation``); defaults are EfficientAT's.

    Attributes
    ----------
    type : str
        ``"efficientat_mel"``.
    sr : int
        Sample rate in Hz.
    preemphasis : float
        Pre-emphasis coefficient.
    n_fft, win_length, hop_length : int
        FFT size, symmetric Hann window length and hop, in samples.
    n_mels : int
        Mel bands.
    fmin_hz, fmax_hz : float
        Lowest and highest edge of the mel filters.
    log_offset : float
        Added to the mel power before the natural log.
    shift, scale : float
        ``(log_mel + shift) / scale`` is the network input.
    chunk_frames, chunk_hop_frames : int
        Frames per network input and between input starts (1000 = 10 s).
    """

    type: str = "efficientat_mel"
    sr: int = 32000
    preemphasis: float = 0.97
    n_fft: int = 1024
    win_length: int = 800
    hop_length: int = 320
    n_mels: int = 128
    fmin_hz: float = 0.0
    fmax_hz: float = 15000.0
    log_offset: float = 1e-5
    shift: float = 4.5
    scale: float = 5.0
    chunk_frames: int = 1000
    chunk_hop_frames: int = 1000

    @classmethod
    def from_dict(cls, d: dict) -> "MelSpec":
        """Read ``config["representation"]``; unknown keys are ignored."""
        return cls(**{k: v for k, v in d.items() if k in cls.__dataclass_fields__})

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def frame_rate_hz(self) -> float:
        return self.sr / self.hop_length


def kaldi_mel_hz(hz: np.ndarray) -> np.ndarray:
    """Kaldi's mel scale, ``1127 ln(1 + f / 700)``."""
    return 1127.0 * np.log1p(np.asarray(hz, dtype=np.float64) / 700.0)


def kaldi_mel_to_hz(mel: np.ndarray) -> np.ndarray:
    """Inverse of :func:`kaldi_mel_hz`."""
    return 700.0 * np.expm1(np.asarray(mel, dtype=np.float64) / 1127.0)


@lru_cache(maxsize=4)
def kaldi_mel_filterbank(sr: int = 32000, n_fft: int = 1024, n_mels: int = 128,
                         fmin_hz: float = 0.0, fmax_hz: float = 15000.0) -> np.ndarray:
    """Kaldi-style triangular mel filters, float32 ``(n_mels, 1 + n_fft // 2)``,
    read-only; the last (Nyquist) column is 0, as EfficientAT pads it.

    The numbers of ``torchaudio.compliance.kaldi.get_mel_banks`` (no warping),
    which computes them in float32: the same operations in the same order
    and precision here, since a float64 bank differs by up to 1.3e-5 at the
    triangles' edges, enough to move a strong sine's log-mel by 1.6e-4.
    """
    f32 = np.float32
    lo_mel = 1127.0 * math.log(1.0 + fmin_hz / 700.0)
    hi_mel = 1127.0 * math.log(1.0 + fmax_hz / 700.0)
    delta_mel = (hi_mel - lo_mel) / (n_mels + 1)
    index = np.arange(n_mels, dtype=f32)[:, None]
    left = f32(lo_mel) + index * f32(delta_mel)
    centre = f32(lo_mel) + (index + f32(1.0)) * f32(delta_mel)
    right = f32(lo_mel) + (index + f32(2.0)) * f32(delta_mel)
    bin_hz = f32(sr / n_fft) * np.arange(n_fft // 2, dtype=f32)
    bin_mel = (f32(1127.0) * np.log(f32(1.0) + bin_hz / f32(700.0)))[None, :]
    up = (bin_mel - left) / (centre - left)
    down = (right - bin_mel) / (right - centre)
    weights = np.zeros((n_mels, 1 + n_fft // 2), dtype=f32)
    weights[:, :-1] = np.maximum(f32(0.0), np.minimum(up, down))
    weights.flags.writeable = False
    return weights


@lru_cache(maxsize=4)
def _filter_bands(sr: int, n_fft: int, n_mels: int, fmin_hz: float,
                  fmax_hz: float) -> tuple[tuple[int, int, np.ndarray], ...]:
    """Each filter of :func:`kaldi_mel_filterbank` as ``(first, end, weights)``
    of its non-zero bins (float64): a triangle covers a few bins of 513, so
    ``power[:, first:end] @ weights`` per filter is the bank's product
    without the zeros (about 10x less work than the dense product)."""
    bank = kaldi_mel_filterbank(sr, n_fft, n_mels, fmin_hz, fmax_hz)
    bands = []
    for row in bank:
        nonzero = np.flatnonzero(row)
        first, end = (int(nonzero[0]), int(nonzero[-1]) + 1) if nonzero.size else (0, 0)
        weights = row[first:end].astype(np.float64)
        weights.flags.writeable = False
        bands.append((first, end, weights))
    return tuple(bands)


@lru_cache(maxsize=4)
def _window(n_fft: int, win_length: int) -> np.ndarray:
    """Symmetric Hann of ``win_length`` centred in ``n_fft`` zeros."""
    window = np.zeros(n_fft)
    left = (n_fft - win_length) // 2
    window[left:left + win_length] = np.hanning(win_length)
    window.flags.writeable = False
    return window


def log_mel(y: np.ndarray, spec: MelSpec = MelSpec()) -> np.ndarray:
    """The normalised log-mel spectrogram of a whole signal.

    Parameters
    ----------
    y : np.ndarray
        Mono float signal at ``spec.sr`` Hz, 1-D.
    spec : MelSpec

    Returns
    -------
    np.ndarray
        Float32 ``(n_mels, 1 + (len(y) - 1) // hop_length)``, low bands first.
    """
    y = np.asarray(y, dtype=np.float32)
    if y.ndim != 1 or y.size == 0:
        raise ValueError(f"expected a non-empty mono 1-D signal, got shape {y.shape}")
    if not np.isfinite(y).all():
        raise ValueError("the signal has NaN or infinite samples")
    half = spec.n_fft // 2
    if y.size < half + 2:                       # reflect padding needs > n_fft / 2 samples
        y = np.resize(y, half + 2)
    x = y[1:].astype(np.float64) - spec.preemphasis * y[:-1].astype(np.float64)
    padded = np.pad(x, half, mode="reflect")
    frames = np.lib.stride_tricks.sliding_window_view(padded, spec.n_fft)[::spec.hop_length]
    power = np.abs(np.fft.rfft(frames * _window(spec.n_fft, spec.win_length), axis=1)) ** 2
    bands = _filter_bands(spec.sr, spec.n_fft, spec.n_mels, spec.fmin_hz, spec.fmax_hz)
    mel = np.zeros((len(bands), len(power)))
    for row, (first, end, weights) in zip(mel, bands):
        if end > first:
            row[:] = power[:, first:end] @ weights
    return ((np.log(mel + spec.log_offset) + spec.shift) / spec.scale).astype(np.float32)


def chunk_starts(n_frames: int, chunk_frames: int, hop_frames: int) -> list[int]:
    """First frame of each chunk: every ``hop_frames`` from 0, and a last chunk
    ending at the last frame when frames are left over (it overlaps the one
    before), so that every frame is heard. ``[0]`` when the whole signal fits
    one chunk (which is then shorter: the network pools over any length)."""
    if n_frames <= chunk_frames:
        return [0]
    starts = list(range(0, n_frames - chunk_frames + 1, hop_frames))
    if starts[-1] + chunk_frames < n_frames:
        starts.append(n_frames - chunk_frames)
    return starts


def mel_chunks(y: np.ndarray, spec: MelSpec = MelSpec()) -> tuple[np.ndarray, list, np.ndarray]:
    """The network's inputs: ``(n_chunks, frames, n_mels)`` float32 (time-major,
    as :mod:`genrescope.explain` expects patches), each chunk's frame range
    and the whole :func:`log_mel`."""
    mel = log_mel(y, spec)
    n_frames = mel.shape[1]
    starts = chunk_starts(n_frames, spec.chunk_frames, spec.chunk_hop_frames)
    ranges = [(s, min(s + spec.chunk_frames, n_frames)) for s in starts]
    chunks = np.stack([mel[:, a:b].T for a, b in ranges])
    return np.ascontiguousarray(chunks), ranges, mel


def chunk_features(y: np.ndarray, rep: dict | MelSpec) -> Features:
    """Mono audio at ``rep.sr`` -> :class:`~genrescope.features.Features`
    (chunks as the network input, each coloured as a picture)."""
    spec = rep if isinstance(rep, MelSpec) else MelSpec.from_dict(rep)
    chunks, ranges, mel = mel_chunks(y, spec)
    edges_mel = np.linspace(kaldi_mel_hz(spec.fmin_hz), kaldi_mel_hz(spec.fmax_hz),
                            spec.n_mels + 2)
    return Features(
        inputs=torch.from_numpy(chunks),
        images=[colorize(c.T) for c in chunks],
        spec_db=mel,
        chunks=ranges,
        frame_rate_hz=spec.frame_rate_hz,
        kind="mel",
        row_hz=kaldi_mel_to_hz(edges_mel[1:-1]),
    )
