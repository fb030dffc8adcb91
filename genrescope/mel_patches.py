"""Audio -> musicnn's log-mel spectrogram -> 3 s patches: the musicnn models' front end.

The musicnn taggers (and every model on their patches) were trained on
``log10(10000 * mel + 1)`` of a librosa power mel spectrogram (16 kHz, n_fft
512, hop 256, 96 Slaney mels, centred reflect-padded frames, periodic Hann
window). This module computes exactly that, bit for bit the same numbers as
``librosa.feature.melspectrogram`` (tests/test_features.py compares them), in
plain numpy: importing librosa's spectral functions costs seconds in every new
process (scipy.signal, numba), more than the whole analysis of a 30 s clip.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch

from .features import Features, colorize

__all__ = ["musicnn_log_mel", "musicnn_patches", "patch_features", "mel_frequencies",
           "mel_filterbank", "power_spectrogram"]


def hann_window(n: int) -> np.ndarray:
    """Periodic Hann window of ``n`` samples (float64), as
    ``scipy.signal.get_window("hann", n, fftbins=True)`` computes it."""
    return (0.5 + 0.5 * np.cos(np.linspace(-np.pi, np.pi, n + 1)))[:-1]


def hz_to_mel(hz: np.ndarray) -> np.ndarray:
    """Slaney's mel scale: linear below 1 kHz, logarithmic above (``librosa.hz_to_mel``)."""
    hz = np.atleast_1d(np.asarray(hz, dtype=np.float64))
    f_sp, min_log_hz = 200.0 / 3, 1000.0
    mels = hz / f_sp
    log_t = hz >= min_log_hz
    mels[log_t] = min_log_hz / f_sp + np.log(hz[log_t] / min_log_hz) / (np.log(6.4) / 27.0)
    return mels


def mel_to_hz(mels: np.ndarray) -> np.ndarray:
    """Inverse of :func:`hz_to_mel` (``librosa.mel_to_hz``)."""
    mels = np.atleast_1d(np.asarray(mels, dtype=np.float64))
    f_sp, min_log_hz = 200.0 / 3, 1000.0
    hz = f_sp * mels
    log_t = mels >= min_log_hz / f_sp
    hz[log_t] = min_log_hz * np.exp(np.log(6.4) / 27.0 * (mels[log_t] - min_log_hz / f_sp))
    return hz


def mel_frequencies(n_mels: int, fmin_hz: float = 0.0, fmax_hz: float = 11025.0) -> np.ndarray:
    """``n_mels`` frequencies in Hz evenly spaced on the Slaney mel scale
    (``librosa.mel_frequencies``)."""
    lo_mel, hi_mel = hz_to_mel([fmin_hz, fmax_hz])
    return mel_to_hz(np.linspace(lo_mel, hi_mel, n_mels))


@lru_cache(maxsize=8)
def mel_filterbank(sr: int, n_fft: int, n_mels: int) -> np.ndarray:
    """Slaney-normalised triangular mel filters from 0 Hz to ``sr / 2``
    (``librosa.filters.mel``), float32 ``(n_mels, 1 + n_fft // 2)``, read-only."""
    fft_hz = np.fft.rfftfreq(n=n_fft, d=1.0 / sr)
    mel_hz = mel_frequencies(n_mels + 2, 0.0, float(sr) / 2)
    fdiff = np.diff(mel_hz)
    ramps = np.subtract.outer(mel_hz, fft_hz)
    weights = np.zeros((n_mels, 1 + n_fft // 2), dtype=np.float32)
    for i in range(n_mels):
        weights[i] = np.maximum(0, np.minimum(-ramps[i] / fdiff[i], ramps[i + 2] / fdiff[i + 1]))
    weights *= (2.0 / (mel_hz[2:n_mels + 2] - mel_hz[:n_mels]))[:, np.newaxis]
    weights.flags.writeable = False
    return weights


def power_spectrogram(y: np.ndarray, n_fft: int, hop_length: int) -> np.ndarray:
    """``|STFT|^2`` of float32 ``y`` with centred, reflect-padded frames and a
    periodic Hann window: float32 ``(1 + n_fft // 2, 1 + len(y) // hop_length)``,
    the numbers of ``np.abs(librosa.stft(y, ..., pad_mode="reflect")) ** 2``.

    numpy's FFT of a batch of frames may round differently from the same
    frames in another batch, so the frames go through ``rfft`` in the groups
    librosa (0.10, 0.11) makes: the first frames that need padding, the
    others in blocks of ``2 ** 18`` bytes of input, the last padded ones.
    ``y`` must hold at least ``n_fft`` samples.
    """
    half = n_fft // 2
    window = hann_window(n_fft)[:, np.newaxis]
    start_k = int(np.ceil(half / hop_length))             # leading frames that need padding
    tail_k = (len(y) + half - n_fft) // hop_length + 1     # first trailing one
    pre = post = np.zeros((n_fft, 0), dtype=y.dtype)
    if tail_k <= start_k:
        body, start = np.pad(y, half, mode="reflect"), 0
    else:
        body, start = y, start_k * hop_length - half
        head = np.pad(y[:(start_k - 1) * hop_length - half + n_fft + 1], (half, 0), mode="reflect")
        pre = _frames(head, n_fft, hop_length)[:, :start_k]
        if tail_k * hop_length - half + n_fft <= len(y) + half:
            tail = np.pad(y[tail_k * hop_length - half:], (0, half), mode="reflect")
            post = _frames(tail, n_fft, hop_length)
    frames = _frames(body[start:], n_fft, hop_length)
    n_pre, n_post = pre.shape[1], post.shape[1]
    stft = np.zeros((1 + half, n_pre + frames.shape[1] + n_post), dtype=np.complex64, order="F")
    if n_pre:
        stft[:, :n_pre] = np.fft.rfft(window * pre, axis=-2)
    if n_post:
        stft[:, -n_post:] = np.fft.rfft(window * post, axis=-2)
    block = max(2 ** 18 // (n_fft * frames.itemsize), 1)
    for a in range(0, frames.shape[1], block):
        b = min(a + block, frames.shape[1])
        stft[:, n_pre + a:n_pre + b] = np.fft.rfft(window * frames[:, a:b], axis=-2)
    return np.abs(stft) ** 2


def _frames(x: np.ndarray, n_fft: int, hop_length: int) -> np.ndarray:
    """Frames of ``x`` as columns (a view): ``(n_fft, 1 + (len(x) - n_fft) // hop_length)``."""
    return np.lib.stride_tricks.sliding_window_view(x, n_fft)[::hop_length].T


def musicnn_log_mel(
    y: np.ndarray,
    sr: int = 16000,
    n_fft: int = 512,
    hop_length: int = 256,
    n_mels: int = 96,
) -> np.ndarray:
    """musicnn's log-compressed mel spectrogram of a whole signal.

    ``log10(10000 * mel + 1)`` where ``mel`` is the power mel spectrogram of
    ``librosa.feature.melspectrogram(y, sr, n_fft=512, hop_length=256,
    n_mels=96)`` as the librosa (0.7) musicnn was trained with computed it:
    centred frames with the signal *reflect*-padded (librosa >= 0.10 pads with
    zeros by default, which changes the first and last frame), periodic Hann
    window, Slaney mel filterbank. Computed in float32 (musicnn's own
    extractor casts to float16, which overflows under NumPy 2).

    Parameters
    ----------
    y : np.ndarray
        Mono signal, 1-D, already at ``sr`` Hz (16 kHz for the checkpoints).
    sr : int
        Sample rate of ``y`` in Hz.
    n_fft, hop_length : int
        FFT size and hop between frames, in samples.
    n_mels : int
        Mel bands.

    Returns
    -------
    np.ndarray
        ``(1 + len(y) // hop_length, n_mels)`` float32, time-major.
    """
    y = np.asarray(y, dtype=np.float32)
    if y.ndim != 1 or y.size == 0:
        raise ValueError(f"expected a non-empty mono 1-D signal, got shape {y.shape}")
    if not np.isfinite(y).all():
        raise ValueError("the signal has NaN or infinite samples")
    if y.size < n_fft:                           # tile very short input to one frame
        y = np.resize(y, n_fft)
    power = power_spectrogram(y, n_fft, hop_length)
    mel = np.einsum("...ft,mf->...mt", power, mel_filterbank(sr, n_fft, n_mels), optimize=True)
    return np.log10(10000.0 * mel + 1.0).T.astype(np.float32)


def musicnn_patches(
    y: np.ndarray,
    sr: int = 16000,
    n_fft: int = 512,
    hop_length: int = 256,
    n_mels: int = 96,
    patch_frames: int = 187,
    patch_hop_frames: int = 187,
) -> np.ndarray:
    """Cut a signal into musicnn log-mel input patches.

    The log-mel is :func:`musicnn_log_mel`. Patches are taken as in
    ``musicnn.extractor.batch_data``: starting at frame 0, every
    ``patch_hop_frames`` frames, keeping only complete patches (trailing frames
    that do not fill a patch are dropped). With the defaults a 30 s clip
    (1876 frames) gives 10 non-overlapping 3 s patches.

    A signal shorter than one patch (fewer than ``patch_frames`` spectrogram
    frames, i.e. under about 2.98 s at 16 kHz) is *repeat-padded*: its
    spectrogram frames are tiled end to end and cut at ``patch_frames``,
    giving one patch.  musicnn's own extractor fails on such input; tiling is
    what musicnn's training code did for short clips (``pad_short =
    'repeat-pad'`` in both checkpoints' configs).

    Parameters
    ----------
    y : np.ndarray
        Mono float signal, 1-D, already resampled to ``sr`` Hz.
    sr : int
        Sample rate of ``y`` in Hz (16000 for the shipped checkpoints).
    n_fft : int
        FFT / window size in samples.
    hop_length : int
        Hop between spectrogram frames in samples.
    n_mels : int
        Mel bands.
    patch_frames : int
        Frames per patch (187 = 3 s).
    patch_hop_frames : int
        Frames between the starts of consecutive patches (187 = no overlap).

    Returns
    -------
    np.ndarray
        ``(n_patches, patch_frames, n_mels)`` float32, ``n_patches >= 1``.
    """
    if patch_frames < 1 or patch_hop_frames < 1:
        raise ValueError("patch_frames and patch_hop_frames must be positive")
    log_mel = musicnn_log_mel(y, sr=sr, n_fft=n_fft, hop_length=hop_length, n_mels=n_mels)
    n_frames = log_mel.shape[0]
    if n_frames < patch_frames:
        reps = -(-patch_frames // n_frames)
        log_mel = np.tile(log_mel, (reps, 1))[:patch_frames]
        n_frames = patch_frames
    starts = range(0, n_frames - patch_frames + 1, patch_hop_frames)
    return np.ascontiguousarray(np.stack([log_mel[s : s + patch_frames] for s in starts]),
                                dtype=np.float32)


def patch_features(y: np.ndarray, rep: dict) -> Features:
    """The patch front end of a model: mono audio at ``rep["sr"]`` -> :class:`Features`
    (log-mel patches as the network input; each patch coloured as a picture).

    ``rep`` is the model's ``config["representation"]``: ``sr``, ``n_fft``,
    ``hop_length``, ``n_mels``, ``patch_frames``, ``patch_hop_frames``.
    """
    patches = musicnn_patches(y, sr=rep["sr"], n_fft=rep["n_fft"], hop_length=rep["hop_length"],
                              n_mels=rep["n_mels"], patch_frames=rep["patch_frames"],
                              patch_hop_frames=rep["patch_hop_frames"])
    hop = rep["patch_hop_frames"]
    chunks = [(i * hop, i * hop + rep["patch_frames"]) for i in range(len(patches))]
    spec = np.concatenate([p[:hop] for p in patches[:-1]] + [patches[-1]]).T
    return Features(
        inputs=torch.from_numpy(patches),
        images=[colorize(p.T) for p in patches],
        spec_db=spec,
        chunks=chunks,
        frame_rate_hz=rep["sr"] / rep["hop_length"],
        kind="mel",
        row_hz=mel_frequencies(rep["n_mels"] + 2, 0.0, rep["sr"] / 2)[1:-1],
    )
