"""Playlists for players: one genre's tracks of a library as an M3U8 file.

Paths are relative to the playlist's folder (so a music folder and its
playlists can move together), ``#EXTM3U`` with ``#EXTINF``, UTF-8, written to
a temporary file and renamed over the target.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path

from ..files import write_text_atomically
from ..track import NOT_SURE_CODES

#: Most tracks read from a library for one playlist.
MAX_TRACKS = 1_000_000


def _relative(path: str, folder: Path) -> str:
    try:
        rel = os.path.relpath(path, folder)
    except ValueError:                           # another drive (Windows)
        return os.path.abspath(path)
    return rel.replace(os.sep, "/")


def m3u8_text(tracks: list, folder: Path) -> str:
    """The playlist's text for ``tracks`` (library Tracks), paths relative to ``folder``."""
    lines = ["#EXTM3U"]
    for t in tracks:
        lines.append(f"#EXTINF:{round(t.duration_s or -1)},{t.title}")
        lines.append(_relative(t.path, folder))
    return "\n".join(lines) + "\n"


def _sure(track, min_confidence: float | None) -> bool:
    if track.error or not track.top:
        return False
    if min_confidence is None:
        return not {w["code"] for w in track.warnings} & NOT_SURE_CODES
    return track.top[0][1] >= min_confidence


def genre_tracks(lib, genre: str, *, min_confidence: float | None = None,
                 keep: Callable[[str], bool] | None = None) -> list:
    """The library's tracks whose top genre is ``genre`` (id, English or
    Chinese name), sure enough (no note of :data:`~genrescope.track.NOT_SURE_CODES`,
    or a top probability of at least ``min_confidence``), and whose path
    ``keep`` accepts (e.g. a style in the file's genre tag)."""
    tracks = lib.tracks(genre=genre, limit=MAX_TRACKS)
    return [t for t in tracks if _sure(t, min_confidence) and (keep is None or keep(t.path))]


def write_playlist(tracks: list, out: str | os.PathLike) -> Path:
    """Write ``tracks`` as M3U8 at ``out`` (temporary file, then rename)."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomically(out, m3u8_text(tracks, out.parent.resolve()))
    return out


def _file_name(name: str) -> str:
    return re.sub(r'[\\/:*?"<>|\x00-\x1f]', "_", name).strip(". ") or "genre"


def write_per_genre(lib, folder: str | os.PathLike, *, lang: str = "en",
                    min_confidence: float | None = None,
                    keep: Callable[[str], bool] | None = None) -> dict[str, tuple[Path, int]]:
    """One playlist per top genre of the library in ``folder``, named after the
    genre (``Jazz.m3u8``). Returns genre name -> (file, number of tracks)."""
    rows = lib.con.execute("SELECT DISTINCT top_label FROM tracks WHERE top_label IS NOT NULL "
                           "AND error IS NULL ORDER BY top_label").fetchall()
    written = {}
    for (label,) in rows:
        tracks = genre_tracks(lib, label, min_confidence=min_confidence, keep=keep)
        if not tracks:
            continue
        name = tracks[0].genre_name(label, lang)
        out = write_playlist(tracks, Path(folder) / f"{_file_name(name)}.m3u8")
        written[name] = (out, len(tracks))
    return written
