"""Decode one window of an audio file, block by block, before any resampling.

soundfile (libsndfile) reads WAV, FLAC, OGG/Vorbis, Opus and MP3 and seeks
without decoding what comes before the window; PyAV (FFmpeg inside the
wheel) reads everything else and whatever libsndfile refuses or loses sync on.

Nothing here reads more than the file it is given: FFmpeg gets the file as
a Python file object (no protocol: no ``file:``, ``http:``, ``concat:``) and
may only use the demuxers of :data:`DEMUXERS` (no playlist, ``concat``,
``hls``, ``image2``, ``tee``... that would open other files or URLs named
inside an upload). Blocks go to a *sink* as they are decoded, so memory is
bounded by what the sink keeps (:mod:`genrescope.audio` down-mixes and
resamples each block), not by the source's channels or sample rate.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .errors import GenrescopeError

#: FFmpeg demuxers that may read a file (names as FFmpeg's ``format_whitelist``
#: matches them: ``mov`` is mov/mp4/m4a/3gp, ``matroska`` is Matroska/WebM).
DEMUXERS = ("wav", "w64", "flac", "ogg", "mp3", "mov", "matroska", "aac", "aiff", "asf")
#: Options of every ``av.open``: our demuxers only, no protocol for nested opens.
AV_OPTIONS = {"format_whitelist": ",".join(DEMUXERS), "protocol_whitelist": "none"}
#: Channel-samples per block read by soundfile (4 MB of float32).
BLOCK_VALUES = 1 << 20

#: ``sink(channels, sample_rate)`` is called once the header is read, before
#: any sample is decoded (it may refuse with GenrescopeError), and returns an
#: object with ``add(block)`` (float32 ``(channels, n)``), ``size`` (source
#: samples so far) and ``result()``.
SinkFactory = Callable[[int, int], object]

_UNREADABLE = ("it is not an audio or video file, or it is damaged. Supported: WAV, FLAC, "
               "OGG, Opus, MP3, M4A/AAC, WebM, MP4.")


def decode_window(path: str, offset_s: float, duration_s: float | None, sink: SinkFactory):
    """Decode ``[offset_s, offset_s + duration_s)`` of ``path`` (``None``: to
    the end) into a sink made by ``sink(channels, sample_rate)`` and return the
    sink. At most ``duration_s`` seconds of samples are decoded,
    counted as they decode (whatever the header says).

    Raises
    ------
    GenrescopeError
        Not audio, a format outside :data:`DEMUXERS` (a playlist...), no audio
        track, an unknown codec or sample format, or the window starts past
        the end; or what the sink raises.
    """
    with Decoder(path) as decoder:
        return decoder.window(offset_s, duration_s, sink)


class Decoder:
    """One file opened once for several windows (:meth:`window`, same
    contract as :func:`decode_window`): the library indexer reads four short
    windows of each track, and an MP3 reopened for each seeks from its start
    again (4 windows of a 4 min MP3: 38 ms reopened, 18 ms through one
    ``Decoder``). Files libsndfile does not read go to PyAV, opened per window.

    Examples
    --------
    >>> with Decoder("song.mp3") as d:                     # doctest: +SKIP
    ...     sinks = [d.window(o, 3.0, make_sink) for o in (40.0, 90.0)]
    """

    def __init__(self, path: str):
        self.path, self._sf = path, None
        if _looks_like_soundfile(path):
            import soundfile as sf

            try:
                self._sf = sf.SoundFile(path)
            except (sf.LibsndfileError, RuntimeError, TypeError):
                self._sf = None
            if self._sf is not None and (self._sf.samplerate <= 0 or self._sf.channels <= 0):
                self.close()

    def window(self, offset_s: float, duration_s: float | None, sink: SinkFactory):
        if self._sf is not None:
            try:
                return _read_soundfile(self._sf, self.path, offset_s, duration_s, sink)
            except _NotForSoundfile:
                pass                       # a damaged stream: FFmpeg keeps what decodes
        return _read_av(self.path, offset_s, duration_s, sink)

    def close(self) -> None:
        if self._sf is not None:
            self._sf.close()
            self._sf = None

    def __enter__(self) -> "Decoder":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class _NotForSoundfile(Exception):
    pass


#: First bytes of the files libsndfile is asked to read: WAV (RIFF, RF64), FLAC,
#: Ogg, AIFF (FORM), and MP3 (an ID3 tag or an MPEG frame sync). Anything else
#: goes to PyAV straight away: libsndfile's MPEG probe would print libmpg123's
#: "Illegal Audio-MPEG-Header" notes on stderr for a file that is not audio.
SOUNDFILE_MAGIC = (b"RIFF", b"RF64", b"fLaC", b"OggS", b"FORM", b"ID3")


def _looks_like_soundfile(path: str) -> bool:
    try:
        with open(path, "rb") as f:
            head = f.read(4)
    except OSError:
        return True                                    # let the reader say what is wrong
    return head.startswith(SOUNDFILE_MAGIC) or (
        len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0)   # MPEG frame sync


def _read_soundfile(f, path: str, offset_s: float, duration_s: float | None,
                    sink: SinkFactory):
    """A window of the open ``soundfile.SoundFile`` ``f`` into a new sink."""
    import soundfile as sf

    start = int(round(offset_s * f.samplerate))
    if f.frames > 0 and start >= f.frames:
        raise GenrescopeError(
            f"{path}: offset {offset_s:g} s is past the end of the audio "
            f"({f.frames / f.samplerate:.1f} s).")
    out = sink(f.channels, f.samplerate)
    want = None if duration_s is None else int(round(duration_s * f.samplerate))
    block = max(1, BLOCK_VALUES // f.channels)
    try:
        f.seek(start)
        while want is None or out.size < want:
            n = block if want is None else min(block, want - out.size)
            data = f.read(n, dtype="float32", always_2d=True)
            if len(data) == 0:
                break
            out.add(data.T)
    except (sf.LibsndfileError, RuntimeError) as exc:
        raise _NotForSoundfile from exc       # a damaged stream: FFmpeg keeps what decodes
    return out


def open_av(path: str):
    """``av.open`` of ``path`` as a file object, with :data:`AV_OPTIONS`;
    the caller closes the container (and with it the file)."""
    import av

    f = open(path, "rb")
    try:
        container = av.open(f, options=dict(AV_OPTIONS), metadata_errors="ignore")
    except BaseException:
        f.close()
        raise
    return container


def _open_audio(path: str):
    import av

    try:
        return open_av(path)
    except (av.error.FFmpegError, UnicodeDecodeError, ValueError, OSError) as exc:
        raise GenrescopeError(f"Could not read {path} as audio ({exc.__class__.__name__}): "
                              + _UNREADABLE) from exc


def _read_av(path: str, offset_s: float, duration_s: float | None, sink: SinkFactory):
    import av

    with _open_audio(path) as container:
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
        out = sink(max(stream.codec_context.channels or 1, 1), int(source_sr))
        if offset_s:
            try:
                container.seek(int(offset_s * 1_000_000), any_frame=False)   # AV_TIME_BASE units
            except (av.error.FFmpegError, OverflowError):
                pass                                   # unseekable: decode from the start
        want = None if duration_s is None else int(round(duration_s * source_sr))
        try:
            for frame in container.decode(stream):
                data = _frame_samples(frame, path)
                if offset_s and frame.time is not None:   # seeking lands on an earlier frame
                    skip = int(round((offset_s - frame.time) * source_sr))
                    if skip >= data.shape[1]:
                        continue
                    data = data[:, max(skip, 0):]
                if want is not None:
                    data = data[:, :want - out.size]
                out.add(data)
                if want is not None and out.size >= want:
                    break
        except av.error.FFmpegError as exc:
            if not out.size:
                raise GenrescopeError(f"Could not decode {path}: {exc}") from exc
            # a truncated file: keep what decoded
        if not out.size:
            raise GenrescopeError(
                f"{path}: no audio could be decoded"
                + (f" after {offset_s:g} s" if offset_s else "") + ".")
        return out


def _frame_samples(frame, path: str) -> np.ndarray:
    """One decoded frame as float32 ``(channels, n)``."""
    try:
        data = frame.to_ndarray()
    except (ValueError, TypeError, NotImplementedError, KeyError) as exc:
        raise GenrescopeError(
            f"Could not decode {path}: its sample format {frame.format.name!r} is not "
            f"supported ({exc}). Convert it to WAV (16-bit PCM), FLAC, OGG or MP3.") from exc
    channels = max(len(frame.layout.channels), 1)
    if frame.format.is_planar:
        data = data.reshape(channels, -1)
    else:
        data = data.reshape(-1, channels).T
    return to_float(data)


def to_float(data: np.ndarray) -> np.ndarray:
    """Integer PCM (signed or unsigned) to float32 in [-1, 1)."""
    if np.issubdtype(data.dtype, np.integer):
        info = np.iinfo(data.dtype)
        mid = (int(info.max) + int(info.min) + 1) / 2
        half = (int(info.max) - int(info.min) + 1) / 2
        return ((data.astype(np.float64) - mid) / half).astype(np.float32)
    return data.astype(np.float32, copy=False)
