"""Helpers for the tag tests: tagged files with a picture, written by the test,
their tags and decoded audio, and a stand-in classifier."""

from __future__ import annotations

import base64
import hashlib
import io
from pathlib import Path
from types import SimpleNamespace

import numpy as np
from PIL import Image

from conftest import write_audio

#: Formats with a test of their own (extension -> how the test writes tags).
TAG_FORMATS = ("mp3", "flac", "ogg", "opus", "m4a", "wav")
GENRE_KEYS = {"TCON", "GENRE", "\u00a9gen", "gnre"}


def png_bytes() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (16, 16), (30, 120, 200)).save(out, format="PNG")
    return out.getvalue()


def music(duration_s: float = 1.5, sr: int = 44100, seed: int = 0) -> np.ndarray:
    t = np.arange(int(duration_s * sr)) / sr
    f = 220.0 * (1 + seed % 7 / 7)
    return (0.3 * np.sin(2 * np.pi * f * t) + 0.2 * np.sin(2 * np.pi * 1.5 * f * t)
            ).astype(np.float32)


def make_tagged(path: Path, *, genre: str | None = "Rock", seed: int = 0) -> Path:
    """An audio file in ``path``'s format with title, artist, a picture and
    (unless ``None``) a genre."""
    write_audio(path, music(seed=seed), 44100)
    ext = path.suffix.lower()
    picture = png_bytes()
    if ext in (".mp3", ".wav"):
        from mutagen import id3
        from mutagen.mp3 import MP3
        from mutagen.wave import WAVE

        f = (MP3 if ext == ".mp3" else WAVE)(path)
        if f.tags is None:
            f.add_tags()
        f.tags.add(id3.TIT2(encoding=3, text=["Título ♫"]))
        f.tags.add(id3.TPE1(encoding=3, text=["Artist"]))
        f.tags.add(id3.APIC(encoding=3, mime="image/png", type=3, desc="cover", data=picture))
        if genre:
            f.tags.add(id3.TCON(encoding=3, text=[genre]))
        f.save()
    elif ext == ".flac":
        from mutagen.flac import FLAC, Picture

        f = FLAC(path)
        f["TITLE"], f["ARTIST"] = "Título ♫", "Artist"
        if genre:
            f["GENRE"] = genre
        pic = Picture()
        pic.type, pic.mime, pic.data = 3, "image/png", picture
        f.add_picture(pic)
        f.save()
    elif ext in (".ogg", ".opus"):
        from mutagen.flac import Picture
        from mutagen.oggopus import OggOpus
        from mutagen.oggvorbis import OggVorbis

        f = (OggOpus if ext == ".opus" else OggVorbis)(path)
        f["TITLE"], f["ARTIST"] = "Título ♫", "Artist"
        if genre:
            f["GENRE"] = genre
        pic = Picture()
        pic.type, pic.mime, pic.data = 3, "image/png", picture
        f["METADATA_BLOCK_PICTURE"] = base64.b64encode(pic.write()).decode("ascii")
        f.save()
    elif ext == ".m4a":
        from mutagen.mp4 import MP4, MP4Cover

        f = MP4(path)
        f["\u00a9nam"], f["\u00a9ART"] = ["Título ♫"], ["Artist"]
        f["covr"] = [MP4Cover(picture, MP4Cover.FORMAT_PNG)]
        if genre:
            f["\u00a9gen"] = [genre]
        f.save()
    return path


def tag_snapshot(path: Path, *, without_genre: bool = False) -> dict:
    """Every tag of the file as comparable text (pictures as their bytes' hash)."""
    import mutagen

    f = mutagen.File(path)
    out = {}
    if hasattr(f, "pictures"):
        out["pictures"] = [hashlib.sha256(p.data).hexdigest() for p in f.pictures]
    tags = f.tags
    if tags is None:
        return out
    if isinstance(tags, list):
        items = list(tags)                     # Vorbis comments: order and case kept
        out["comments"] = [(k, v) for k, v in items
                           if not (without_genre and (k.upper() == "GENRE"
                                                      or k.upper().startswith("GENRESCOPE_")))]
        return out
    for key in sorted(tags.keys()):
        if without_genre and (key in GENRE_KEYS or "GENRESCOPE" in key.upper()
                              or "com.genrescope" in key):
            continue
        value = tags[key]
        if key.startswith("APIC") or key == "covr":
            value = [hashlib.sha256(bytes(getattr(v, "data", v))).hexdigest()
                     for v in (value if isinstance(value, list) else [value])]
        out[key] = repr(value)
    return out


def decoded(path: Path) -> np.ndarray:
    """All samples of the file's first audio stream, as PyAV decodes them."""
    import av

    blocks = []
    with av.open(str(path)) as c:
        for frame in c.decode(audio=0):
            blocks.append(frame.to_ndarray().reshape(-1))
    return np.concatenate(blocks)


def mp3_audio_bytes(path: Path) -> bytes:
    """The bytes after the ID3v2 tag (and before an ID3v1 tag): the audio frames."""
    data = path.read_bytes()
    start = 0
    if data[:3] == b"ID3":
        size = 0
        for b in data[6:10]:
            size = (size << 7) | (b & 0x7F)
        start = 10 + size + (10 if data[5] & 0x10 else 0)
    end = len(data) - 128 if data[-128:-125] == b"TAG" else len(data)
    return data[start:end]


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


class StandInClassifier:
    """Answers one genre for every file, without a network."""

    def __init__(self, genre=("jazz", "Jazz", "爵士"), probability: float = 0.9,
                 styles=(("swing", "Swing", "摇摆"),), warnings=()):
        self.genre, self.probability = genre, probability
        self.styles, self.warnings = styles, warnings
        self.calls = 0

    def classify(self, path, **kw):
        self.calls += 1

        def score(g, p):
            return SimpleNamespace(label=g[0], probability=p,
                                   name=lambda lang="en": g[2] if lang == "zh" else g[1])

        return SimpleNamespace(top=[score(self.genre, self.probability)],
                               styles=[score(s, 0.5) for s in self.styles],
                               warnings=[SimpleNamespace(code=c) for c in self.warnings],
                               heard=[], model="stand-in")
