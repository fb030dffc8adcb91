"""Read the samples of one window of an audio file, before any resampling.

soundfile (libsndfile) reads WAV, FLAC, OGG/Vorbis, Opus and MP3 and seeks
without decoding what comes before the window; PyAV (FFmpeg inside the wheel)
reads everything else and whatever libsndfile refuses or loses sync on.
:mod:`genrescope.audio` turns the result into mono float32 at a model's rate.
"""

from __future__ import annotations

import numpy as np

from .errors import GenrescopeError


def read_window(path: str, offset_s: float, duration_s: float | None) -> tuple[np.ndarray, int]:
    """Samples ``(channels, n)`` float32 of ``[offset_s, offset_s + duration_s)``
    (``None``: to the end) and the file's sample rate in Hz.

    Raises
    ------
    GenrescopeError
        Not audio, no audio track, an unknown codec or sample format, or the
        window starts past the end.
    """
    try:
        return _read_soundfile(path, offset_s, duration_s)
    except _NotForSoundfile:
        return _read_av(path, offset_s, duration_s)


class _NotForSoundfile(Exception):
    pass


def _read_soundfile(path: str, offset_s: float, duration_s: float | None):
    import soundfile as sf

    try:
        f = sf.SoundFile(path)
    except (sf.LibsndfileError, RuntimeError, TypeError) as exc:
        raise _NotForSoundfile from exc
    with f:
        if f.samplerate <= 0 or f.channels <= 0:
            raise _NotForSoundfile
        start = int(round(offset_s * f.samplerate))
        if f.frames > 0 and start >= f.frames:
            raise GenrescopeError(
                f"{path}: offset {offset_s:g} s is past the end of the audio "
                f"({f.frames / f.samplerate:.1f} s).")
        n = -1 if duration_s is None else int(round(duration_s * f.samplerate))
        try:
            if start:
                f.seek(start)
            data = f.read(n, dtype="float32", always_2d=True)
        except (sf.LibsndfileError, RuntimeError) as exc:
            raise _NotForSoundfile from exc       # a damaged stream: FFmpeg keeps what decodes
        return data.T, f.samplerate


def _read_av(path: str, offset_s: float, duration_s: float | None):
    import av

    try:
        container = av.open(path, metadata_errors="ignore")
    except (av.error.FFmpegError, UnicodeDecodeError, ValueError) as exc:
        raise GenrescopeError(
            f"Could not read {path} as audio ({exc.__class__.__name__}): it is not an "
            "audio or video file, or it is damaged. Supported: WAV, FLAC, OGG, Opus, MP3, "
            "M4A/AAC, WebM, MP4.") from exc
    with container:
        if not container.streams.audio:
            raise GenrescopeError(f"{path} has no audio track.")
        stream = container.streams.audio[0]
        if stream.codec_context is None:           # a codec FFmpeg does not know
            raise GenrescopeError(
                f"Could not decode {path}: its audio codec is unknown or unsupported. "
                "Convert it to WAV, FLAC, OGG or MP3.")
        source_sr = stream.codec_context.sample_rate or stream.sample_rate
        if not source_sr:
            raise GenrescopeError(f"{path}: the audio track has no sample rate.")
        if offset_s:
            try:
                container.seek(int(offset_s * 1_000_000), any_frame=False)   # AV_TIME_BASE units
            except (av.error.FFmpegError, OverflowError):
                pass                                   # unseekable: decode from the start
        want = None if duration_s is None else int(round(duration_s * source_sr))
        pieces, have = [], 0
        try:
            for frame in container.decode(stream):
                try:
                    data = frame.to_ndarray()
                except (ValueError, TypeError, NotImplementedError, KeyError) as exc:
                    raise GenrescopeError(
                        f"Could not decode {path}: its sample format "
                        f"{frame.format.name!r} is not supported ({exc}). Convert it to WAV "
                        "(16-bit PCM), FLAC, OGG or MP3.") from exc
                if frame.format.is_planar:
                    data = data.reshape(len(frame.layout.channels), -1)
                else:
                    data = data.reshape(-1, len(frame.layout.channels)).T
                data = to_float(data)
                if offset_s and frame.time is not None:   # seeking lands on an earlier frame
                    skip = int(round((offset_s - frame.time) * source_sr))
                    if skip >= data.shape[1]:
                        continue
                    data = data[:, max(skip, 0):]
                pieces.append(data)
                have += data.shape[1]
                if want is not None and have >= want:
                    break
        except av.error.FFmpegError as exc:
            if not pieces:
                raise GenrescopeError(f"Could not decode {path}: {exc}") from exc
            # a truncated file: keep what decoded
        if not pieces:
            raise GenrescopeError(
                f"{path}: no audio could be decoded"
                + (f" after {offset_s:g} s" if offset_s else "") + ".")
        channels = max(p.shape[0] for p in pieces)
        x = np.concatenate([np.broadcast_to(p, (channels, p.shape[1])) for p in pieces], axis=1)
        if want is not None:
            x = x[:, :want]
        return x, int(source_sr)


def to_float(data: np.ndarray) -> np.ndarray:
    """Integer PCM (signed or unsigned) to float32 in [-1, 1)."""
    if np.issubdtype(data.dtype, np.integer):
        info = np.iinfo(data.dtype)
        mid = (int(info.max) + int(info.min) + 1) / 2
        half = (int(info.max) - int(info.min) + 1) / 2
        return ((data.astype(np.float64) - mid) / half).astype(np.float32)
    return data.astype(np.float32, copy=False)
