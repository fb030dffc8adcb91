"""The bad-input corpus: files a user might drop on genrescope, generated here.

``make_corpus(folder)`` writes every case and returns :class:`Case` objects
saying what must happen: a prediction (with which warnings) or the one user
error. Used by tests/test_reliability.py and benchmarks/reliability.py.
"""

from __future__ import annotations

import io
import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf

from genrescope.synth import chord, groove


@dataclass
class Case:
    name: str
    path: Path
    description: str
    ok: bool                                   # True: a prediction; False: GenrescopeError
    warnings: set = field(default_factory=set)  # warning codes that must be present
    slow: bool = False


def _music(duration_s: float, sr: int) -> np.ndarray:
    return 0.6 * chord(duration_s, sr) + 0.4 * groove(duration_s, sr)


def _mp3_bytes(y: np.ndarray, sr: int) -> bytes:
    buffer = io.BytesIO()
    sf.write(buffer, y, sr, format="MP3")
    return buffer.getvalue()


def _video(path: Path, with_audio: bool) -> None:
    import av

    with av.open(str(path), "w") as out:
        video = out.add_stream("mpeg4", rate=10)
        video.width, video.height, video.pix_fmt = 64, 48, "yuv420p"
        audio = out.add_stream("aac", rate=44100, layout="stereo") if with_audio else None
        for i in range(30):                                      # 3 s of frames
            frame = av.VideoFrame.from_ndarray(
                np.full((48, 64, 3), i * 8, np.uint8), format="rgb24")
            for packet in video.encode(frame):
                out.mux(packet)
        if audio is not None:
            y = np.stack([_music(3.0, 44100)] * 2).astype(np.float32)
            size = audio.codec_context.frame_size or 1024
            for start in range(0, y.shape[1], size):
                frame = av.AudioFrame.from_ndarray(
                    np.ascontiguousarray(y[:, start:start + size]), format="fltp",
                    layout="stereo")
                frame.sample_rate, frame.pts = 44100, start
                for packet in audio.encode(frame):
                    out.mux(packet)
            for packet in audio.encode(None):
                out.mux(packet)
        for packet in video.encode(None):
            out.mux(packet)


def make_corpus(folder: str | Path, *, long_hours: float = 2.0) -> list[Case]:
    """Write the corpus into ``folder``; return its cases in a stable order."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    cases: list[Case] = []

    def add(name, description, ok, warnings=(), slow=False):
        cases.append(Case(name, folder / name, description, ok, set(warnings), slow))
        return folder / name

    sr = 22050
    music = _music(8.0, sr)
    # --- broken or non-audio files --------------------------------------
    add("empty.mp3", "empty file (0 bytes)", False).write_bytes(b"")
    header = struct.pack("<4sI4s4sIHHIIHH4sI", b"RIFF", 36, b"WAVE", b"fmt ", 16, 1, 1,
                         sr, sr * 2, 2, 16, b"data", 0)
    add("header_only.wav", "44-byte WAV header, no samples", False).write_bytes(header)
    mp3 = _mp3_bytes(music, sr)
    add("truncated.mp3", "MP3 cut at 40 %", True).write_bytes(mp3[:int(len(mp3) * 0.4)])
    flac = io.BytesIO()
    sf.write(flac, music, sr, format="FLAC")
    add("truncated.flac", "FLAC cut at 40 %", True).write_bytes(
        flac.getvalue()[:int(len(flac.getvalue()) * 0.4)])
    add("random.mp3", "random bytes named .mp3", False).write_bytes(
        np.random.default_rng(0).integers(0, 256, 50_000, dtype=np.uint8).tobytes())
    add("text.wav", "a text file named .wav", False).write_text("hello, this is not audio\n" * 200)
    from PIL import Image

    png = io.BytesIO()
    Image.new("RGB", (32, 32), (200, 10, 10)).save(png, format="PNG")
    add("image.ogg", "a PNG image named .ogg", False).write_bytes(png.getvalue())
    # --- lengths --------------------------------------------------------
    for seconds, warn in ((0.05, {"short"}), (0.5, {"short"}), (2.0, {"short"})):
        sf.write(add(f"{seconds:g}s.wav", f"{seconds:g} s of music", True, warn),
                 _music(seconds, sr), sr)
    if long_hours:
        path = add("2h.wav", f"{long_hours:g} hours of audio (8 kHz)", True,
                   {"low_sample_rate"}, slow=True)
        with sf.SoundFile(path, "w", 8000, 1, "PCM_16") as f:
            block = _music(60.0, 8000)
            for _ in range(int(long_hours * 60)):
                f.write(block)
    # --- rates, channels, sample formats ---------------------------------
    for rate in (8000, 11025, 96000, 192000):
        warn = {"low_sample_rate"} if rate < 16000 else set()
        sf.write(add(f"{rate}hz.wav", f"{rate} Hz", True, warn), _music(6.0, rate), rate)
    for channels in (6, 8):
        y = np.stack([_music(6.0, 44100) * (0.5 + 0.05 * c) for c in range(channels)], axis=1)
        sf.write(add(f"{channels}ch.wav", f"{channels} channels", True), y, 44100)
    for subtype, label in (("PCM_U8", "8-bit"), ("PCM_24", "24-bit"), ("FLOAT", "32-bit float")):
        sf.write(add(f"{label.replace(' ', '_')}.wav", f"{label} WAV", True), music, sr,
                 subtype=subtype)
    bad = music.astype(np.float32).copy()
    bad[1000:1100], bad[5000] = np.nan, np.inf
    sf.write(add("nan_inf.wav", "float WAV with NaN and Inf", True, {"non_finite"}), bad, sr,
             subtype="FLOAT")
    sf.write(add("dc_only.wav", "DC offset only (constant 0.3)", True, {"silence"}),
             np.full(6 * sr, 0.3, np.float32), sr)
    # --- levels -------------------------------------------------------------
    sf.write(add("silence.wav", "digital silence", True, {"silence"}),
             np.zeros(6 * sr, np.float32), sr)
    sf.write(add("white_noise.wav", "full-scale white noise", True, {"clipping"}),
             np.random.default_rng(1).uniform(-1, 1, 6 * sr).astype(np.float32), sr)
    sf.write(add("clipped.wav", "heavily clipped music", True, {"clipping"}),
             np.clip(music * 8, -1, 1), sr)
    # --- containers -----------------------------------------------------
    _video(add("video_with_audio.mp4", "MP4 video with an AAC audio track", True), True)
    _video(add("video_no_audio.mp4", "MP4 video without audio", False), False)
    # --- names --------------------------------------------------------------
    sf.write(add("名字 with spaces ♫.wav", "file name with spaces and Unicode", True),
             music, sr)
    return cases
