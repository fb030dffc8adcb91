"""Decode any audio file or array to mono float32 at a model's sample rate.

soundfile (libsndfile) reads WAV, FLAC, OGG/Vorbis, Opus and MP3 and seeks
without decoding what comes before ``offset_s``; PyAV (FFmpeg inside the
wheel) reads everything else: M4A/AAC, WebM, MP4 and other containers. Only
the analysed window ``[offset_s, offset_s + duration_s)`` is decoded.
Channels are averaged and the result is resampled with soxr (the same
resampler ``librosa.load`` uses by default) block by block as it decodes
(:mod:`genrescope.mixer`): memory is that of the mono output.
"""

from __future__ import annotations

import contextlib
import contextvars
import math
import os
from dataclasses import dataclass, field, replace

import numpy as np

from .decode import decode_window, to_float
from .errors import GenrescopeError
from .mixer import CLIP_LEVEL, MAX_AMPLITUDE, MAX_CHANNELS, MAX_SR, Mixer  # noqa: F401

#: Extensions that ``genrescope classify FOLDER`` picks up.
AUDIO_EXTENSIONS = (
    ".wav", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".m4a", ".aac", ".mp4",
    ".webm", ".weba", ".mka", ".aif", ".aiff", ".wma",
)

#: Thresholds of the recording-quality warnings.
SILENCE_RMS = 1e-4            # about -80 dBFS, measured without the DC offset
CLIP_FRACTION = 0.001         # 0.1 % of samples at full scale
LOW_SR = 16000
SHORT_S = 3.0

#: Largest offset or window length accepted, in seconds (about 11.6 days):
#: keeps every sample index a finite integer.
MAX_SECONDS = 1e6
#: Channel-samples a limited analysis may decode per second of its limit:
#: stereo at 192 kHz. With the server's 600 s, 230 M samples (what 8 channels
#: at 655 kHz reach in 44 s); memory stays that of the mono output anyway.
SOURCE_VALUES_PER_S = 2 * 192_000


@dataclass
class _Budget:
    limit_s: float
    left_s: float


_BUDGET: contextvars.ContextVar[_Budget | None] = contextvars.ContextVar(
    "genrescope_decode_budget", default=None)


@contextlib.contextmanager
def decode_limit(max_duration_s: float | None):
    """Within the block (this thread or task), every :func:`load_audio` counts
    what it decodes against ``max_duration_s`` seconds in all, and against
    ``max_duration_s * SOURCE_VALUES_PER_S`` channel-samples per file: the
    server's per-request cap, whatever a file's header says and however many
    windows the request decodes (422 above, naming the limit).
    ``None``: no limit (the block changes nothing)."""
    if max_duration_s is None:
        yield
        return
    token = _BUDGET.set(_Budget(float(max_duration_s), float(max_duration_s)))
    try:
        yield
    finally:
        _BUDGET.reset(token)


@dataclass
class Audio:
    """Decoded audio, ready for a model's front end.

    Attributes
    ----------
    y : np.ndarray
        Mono float32 samples at ``sr``.
    sr : int
        Sample rate of ``y`` in Hz.
    source_sr : int
        Sample rate of the file or array before resampling.
    source_channels : int
        Channel count before down-mixing.
    offset_s : float
        Where the decoded window starts in the source, in seconds.
    clipped_fraction : float
        Fraction of source samples at or above full scale (before resampling).
    ac_rms : float
        RMS of the down-mixed source without its DC offset (before resampling).
    non_finite : int
        Number of NaN or infinite source samples (replaced by 0).
    """

    y: np.ndarray
    sr: int
    source_sr: int
    source_channels: int = 1
    offset_s: float = 0.0
    clipped_fraction: float = 0.0
    ac_rms: float = 0.0
    non_finite: int = 0

    @property
    def duration_s(self) -> float:
        """Length of the decoded window in seconds."""
        return len(self.y) / self.sr


@dataclass(frozen=True)
class AudioWarning:
    """Something about the recording the user should know.

    ``code`` is one of ``silence``, ``clipping``, ``low_sample_rate``,
    ``short``, ``non_finite``, ``ambiguous``.
    """

    code: str
    message: str
    details: dict = field(default_factory=dict, compare=False)

    def text(self, lang: str = "en") -> str:
        """The message in ``lang`` (``"en"`` or ``"zh"``, see :mod:`genrescope.i18n`)."""
        from .i18n import warning_text

        return warning_text(self.code, self.message, self.details, lang)

    def to_dict(self, lang: str = "en") -> dict:
        """``{"code", "message"}`` with the message in ``lang``."""
        return {"code": self.code, "message": self.text(lang)}


def load_audio(
    path: str | os.PathLike,
    sr: int,
    *,
    offset_s: float = 0.0,
    duration_s: float | None = 30.0,
    max_duration_s: float | None = None,
    decoder=None,
) -> Audio:
    """Decode a window of an audio file to mono float32 at ``sr``.

    Parameters
    ----------
    path : str or PathLike
        Any file soundfile or FFmpeg can read.
    sr : int
        Target sample rate in Hz.
    offset_s : float
        Start of the window in seconds.
    duration_s : float or None
        Length of the window in seconds; ``None`` or ``0`` reads to the end.
    max_duration_s : float or None
        Refuse windows longer than this (a server's per-request limit): a
        longer ``duration_s`` is refused before decoding, and "to the end"
        decodes at most this much plus one second before it is refused.
    decoder : genrescope.decode.Decoder, optional
        ``path`` already open (several windows of one file: one open).

    Returns
    -------
    Audio

    Raises
    ------
    GenrescopeError
        The file does not exist, cannot be decoded, has no audio track or no
        samples in the window; the window is not finite, negative, or over
        ``max_duration_s``.

    Examples
    --------
    >>> audio = load_audio("song.mp3", sr=22050, duration_s=30)  # doctest: +SKIP
    >>> audio.y.dtype, audio.sr
    (dtype('float32'), 22050)
    """
    path = os.fspath(path)
    budget = _BUDGET.get()
    limit_s = max_duration_s
    if budget is not None:
        limit_s = budget.left_s if limit_s is None else min(limit_s, budget.left_s)
    offset_s, duration_s = check_window(offset_s, duration_s, max_duration_s)
    if budget is not None and duration_s is not None and duration_s > budget.left_s + 1e-6:
        raise _over_limit(path, budget.limit_s)
    if not os.path.isfile(path):
        raise GenrescopeError(f"No such audio file: {path}", status=404)
    if os.path.getsize(path) == 0:
        raise GenrescopeError(f"{path} is empty (0 bytes): it holds no audio.")
    read_s = duration_s if duration_s is not None or limit_s is None \
        else limit_s + 1.0                        # "to the end": only as far as the limit
    cap_s = budget.limit_s if budget is not None else max_duration_s
    max_values = None if cap_s is None else int(cap_s * SOURCE_VALUES_PER_S)

    def sink(channels: int, source_sr: int) -> Mixer:
        return Mixer(channels, source_sr, sr, name=path, max_values=max_values,
                     planned_s=read_s, limit_text="" if cap_s is None else
                     f"({cap_s:g} s of stereo at 192 kHz)")

    mixer = decoder.window(offset_s, read_s, sink) if decoder is not None else \
        decode_window(path, offset_s, read_s, sink)
    if limit_s is not None and mixer.size > round(limit_s * mixer.source_sr):
        raise _over_limit(path, cap_s)
    if budget is not None:
        budget.left_s = max(budget.left_s - mixer.size / mixer.source_sr, 0.0)
    return Audio(**mixer.result(offset_s))


def _over_limit(name: str, limit_s: float) -> GenrescopeError:
    return GenrescopeError(f"{name} is longer than the limit of {limit_s:g} s per analysis: "
                           "analyse a window of it (offset_s and duration_s, at most "
                           f"{limit_s:g} s).", status=422)


def check_window(offset_s, duration_s, max_duration_s: float | None = None):
    """``(offset_s, duration_s)`` as floats after checking them: finite, not
    negative, at most :data:`MAX_SECONDS`, ``duration_s`` at most
    ``max_duration_s``; ``duration_s`` ``0`` becomes ``None`` (to the end).

    Raises
    ------
    GenrescopeError
        (422) saying which value is wrong and what is accepted.
    """
    values = {"offset_s": offset_s, "duration_s": 0.0 if duration_s is None else duration_s}
    for key, value in values.items():
        try:
            value = float(value)
        except (TypeError, ValueError):
            raise GenrescopeError(f"{key} must be a number of seconds, got {value!r}.") from None
        if not math.isfinite(value) or not 0 <= value <= MAX_SECONDS:
            raise GenrescopeError(f"{key} must be a finite number of seconds between 0 and "
                                  f"{MAX_SECONDS:g}, got {value!r}.")
        values[key] = value
    duration = values["duration_s"] or None
    if max_duration_s is not None and duration is not None and duration > max_duration_s:
        raise GenrescopeError(f"duration_s {duration:g} s is over the limit of "
                              f"{max_duration_s:g} s per analysis: analyse a shorter window "
                              "(offset_s and duration_s).", status=422)
    return values["offset_s"], duration


def _check_length(n_samples: int, source_sr: int, max_duration_s: float | None, name: str):
    if max_duration_s is not None and source_sr > 0 and n_samples > round(
            max_duration_s * source_sr):
        raise _over_limit(name, max_duration_s)


def audio_from_array(
    samples: np.ndarray,
    source_sr: int,
    sr: int,
    *,
    offset_s: float = 0.0,
    duration_s: float | None = None,
    max_duration_s: float | None = None,
    name: str = "the audio",
) -> Audio:
    """Turn a sample array into :class:`Audio` at ``sr``.

    Parameters
    ----------
    samples : np.ndarray
        1-D, or 2-D with channels on the shorter axis. Integer arrays (as a
        browser recording arrives) are scaled to [-1, 1].
    source_sr : int
        Sample rate of ``samples`` in Hz.
    sr : int
        Target sample rate in Hz.
    offset_s, duration_s : float
        Window to keep, in seconds of ``samples``; ``duration_s`` ``None`` or
        ``0`` keeps everything after ``offset_s``.
    max_duration_s : float or None
        Refuse a window longer than this (see :func:`load_audio`).
    name : str
        How to call the source in error messages.
    """
    offset_s, duration_s = check_window(offset_s, duration_s, max_duration_s)
    if not (isinstance(source_sr, (int, float, np.number)) and math.isfinite(source_sr)
            and 0 < source_sr <= MAX_SR):
        raise GenrescopeError(f"{name}: invalid sample rate {source_sr!r}: give a number of Hz "
                              f"between 1 and {MAX_SR}.")
    x = _channels_first(np.asarray(samples), name)
    start = int(round(offset_s * source_sr))
    stop = None if duration_s is None else start + int(round(duration_s * source_sr))
    x = x[:, start:stop]
    _check_length(x.shape[1], source_sr, max_duration_s, name)
    if x.shape[0] == 0:
        raise GenrescopeError(f"{name}: expected 1-D or 2-D samples, got shape {x.shape}")
    mixer = Mixer(min(x.shape[0], MAX_CHANNELS), int(source_sr), sr, name=name)
    mixer.channels = x.shape[0]                   # an array is in memory already
    mixer.add(x)
    return Audio(**mixer.result(offset_s))


def _channels_first(x: np.ndarray, name: str) -> np.ndarray:
    if x.ndim == 2 and x.shape[0] > x.shape[1]:
        x = x.T                                   # (samples, channels) -> (channels, samples)
    if x.ndim == 1:
        x = x[np.newaxis]
    if x.ndim != 2:
        raise GenrescopeError(f"{name}: expected 1-D or 2-D samples, got shape {x.shape}")
    return to_float(x)


def quality_warnings(audio: Audio) -> list[AudioWarning]:
    """Warnings about the recording itself: silence, clipping, a low sample
    rate, very short audio and NaN/Inf samples."""
    out = []
    if audio.ac_rms < SILENCE_RMS:
        out.append(AudioWarning(
            "silence", "The recording is (almost) silent: the result is meaningless.",
            {"rms": audio.ac_rms}))
    if audio.clipped_fraction >= CLIP_FRACTION:
        out.append(AudioWarning(
            "clipping",
            f"{audio.clipped_fraction:.1%} of the samples are clipped (at full scale): "
            "the recording is distorted, lower the input level.",
            {"clipped_fraction": audio.clipped_fraction}))
    if audio.source_sr < LOW_SR:
        out.append(AudioWarning(
            "low_sample_rate",
            f"The sample rate is {audio.source_sr} Hz (below {LOW_SR} Hz): high frequencies "
            "are missing, so the result is less reliable.",
            {"source_sr": audio.source_sr}))
    if audio.duration_s < SHORT_S:
        out.append(AudioWarning(
            "short",
            f"Only {audio.duration_s:.1f} s of audio: at least {SHORT_S:g} s (better 10-30 s) "
            "gives a more reliable result.",
            {"duration_s": audio.duration_s}))
    if audio.non_finite:
        out.append(AudioWarning(
            "non_finite", f"{audio.non_finite} samples were NaN or infinite and were set to 0.",
            {"count": audio.non_finite}))
    return out


def raise_level(y: np.ndarray, target_dbfs: float = -20.0, max_gain_db: float = 40.0) -> np.ndarray:
    """Turn quiet audio up to ``target_dbfs`` RMS; louder audio is left as it is.

    musicnn's front end (``log10(1 + 10000 * mel)``) answers differently to
    the same music 20 dB quieter, so a head on its embeddings moves quiet
    recordings (a distant microphone, a pianissimo passage) towards other
    genres. Heads that record ``"input_level"`` in their config see every
    input, in training and in use, through this function.

    Parameters
    ----------
    y : np.ndarray
        Mono float audio.
    target_dbfs : float
        RMS level (dB relative to full scale) that quieter audio is raised to.
    max_gain_db : float
        Largest boost, so that near-silence stays quiet (digital silence stays 0).

    Returns
    -------
    np.ndarray
        ``y`` itself when no gain applies, else a float32 copy times the gain.
    """
    rms = float(np.sqrt(np.mean(np.square(y, dtype=np.float64)))) if len(y) else 0.0
    if not rms > 0:
        return y
    gain_db = min(max_gain_db, target_dbfs - 20 * math.log10(rms))
    if gain_db <= 0:
        return y
    return (y * np.float32(10 ** (gain_db / 20))).astype(np.float32, copy=False)


def at_rate(audio: Audio, sr: int) -> Audio:
    """``audio`` resampled to ``sr`` (soxr, as decoding does); the same object
    when it is at ``sr`` already. One decode feeds models of two rates (the
    default's 16 kHz networks and its 32 kHz AudioSet companion)."""
    if audio.sr == sr:
        return audio
    import soxr

    y = soxr.resample(audio.y, audio.sr, sr).astype(np.float32, copy=False)
    return replace(audio, y=y, sr=sr)
