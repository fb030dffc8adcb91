"""The library database: SQLite (standard library), WAL mode, one writer.

One row per file in ``tracks``. Each analysed track is written in its own
transaction, so a run killed at any moment (Ctrl-C, ``kill -9``) loses at
most the tracks still in flight and never leaves a half-written row; the next
run sees the missing files and analyses them.

Arrays are stored as little-endian float32 blobs, lists and dicts as JSON.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import GenrescopeError
from .record import TrackRecord

SCHEMA_VERSION = 3

#: Version 2: what ``genrescope tag --write`` replaced in each file (for ``--undo``).
_TAG_WRITES = """
CREATE TABLE IF NOT EXISTS tag_writes (
    id INTEGER PRIMARY KEY,
    path TEXT NOT NULL,
    family TEXT NOT NULL,
    before_json TEXT NOT NULL,
    after_json TEXT NOT NULL,
    written_at REAL NOT NULL,
    undone_at REAL
);
CREATE INDEX IF NOT EXISTS tag_writes_path ON tag_writes (path);
"""


def _add_heard(con: sqlite3.Connection) -> None:
    """Version 3: the voices and instruments heard (JSON list; NULL in older rows)."""
    columns = {row[1] for row in con.execute("PRAGMA table_info(tracks)")}
    if "heard_json" not in columns:
        con.execute("ALTER TABLE tracks ADD COLUMN heard_json TEXT")


#: Schema version -> the SQL (or function of the connection) that brings a
#: database of that version to the next.
_MIGRATIONS = {1: _TAG_WRITES, 2: _add_heard}

_SCHEMA = _TAG_WRITES + """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS models (
    name TEXT PRIMARY KEY,
    version TEXT NOT NULL,
    labels_json TEXT NOT NULL,
    names_json TEXT NOT NULL,
    embedding_dim INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS tracks (
    id INTEGER PRIMARY KEY,
    path TEXT NOT NULL UNIQUE,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    content_hash TEXT NOT NULL,
    duration_s REAL,
    model TEXT,
    model_version TEXT,
    windows TEXT,
    top_label TEXT,
    top_probability REAL,
    top_json TEXT,
    probabilities BLOB,
    embedding BLOB,
    timeline_json TEXT,
    thumbnail_jpeg BLOB,
    warnings_json TEXT,
    error TEXT,
    analysis_s REAL,
    indexed_at REAL NOT NULL,
    heard_json TEXT
);
CREATE INDEX IF NOT EXISTS tracks_hash ON tracks (content_hash);
CREATE INDEX IF NOT EXISTS tracks_top ON tracks (top_label);
INSERT OR IGNORE INTO meta VALUES ('generation', '0');
CREATE TRIGGER IF NOT EXISTS tracks_generation_insert AFTER INSERT ON tracks BEGIN
    UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'generation'; END;
CREATE TRIGGER IF NOT EXISTS tracks_generation_update
    AFTER UPDATE OF embedding, model, model_version, error ON tracks BEGIN
    UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'generation'; END;
CREATE TRIGGER IF NOT EXISTS tracks_generation_delete AFTER DELETE ON tracks BEGIN
    UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'generation'; END;
"""

#: Triggers that count every change of a track's analysis in ``meta.generation``.
GENERATION_TRIGGERS = ("tracks_generation_insert", "tracks_generation_update",
                       "tracks_generation_delete")


@dataclass(frozen=True)
class FileState:
    """What the database knows of a file without its analysis."""

    id: int
    path: str
    size: int
    mtime_ns: int
    content_hash: str
    model: str | None
    model_version: str | None
    windows: str | None
    error: str | None


def connect(path: str | os.PathLike, *, create: bool = False) -> sqlite3.Connection:
    """Open the library database (WAL, foreign keys, schema created if ``create``).

    Raises
    ------
    GenrescopeError
        ``path`` does not exist and ``create`` is false, or it is not a
        genrescope library.
    """
    path = Path(path)
    if not create and not path.is_file():
        raise GenrescopeError(f"No library database at {path}: build one with "
                              f"`genrescope index MUSIC_FOLDER --db {path}`.", status=404)
    if create and path.parent and not path.parent.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
    try:
        con = sqlite3.connect(path, timeout=30.0, check_same_thread=False)
        con.execute("PRAGMA journal_mode=WAL")
        con.execute("PRAGMA synchronous=NORMAL")
        if create:
            with con:
                con.executescript(_SCHEMA)
                con.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)",
                            (str(SCHEMA_VERSION),))
        row = con.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
        if row is not None and int(row[0]) < SCHEMA_VERSION:
            row = _migrate(con, int(row[0]))
    except sqlite3.DatabaseError as exc:
        raise GenrescopeError(f"{path} is not a genrescope library database ({exc}).") from exc
    if row is None or int(row[0]) != SCHEMA_VERSION:
        raise GenrescopeError(f"{path} is a library of another genrescope version "
                              f"(schema {row and row[0]}, expected {SCHEMA_VERSION}).")
    return con


def _migrate(con: sqlite3.Connection, version: int) -> tuple[str]:
    """Bring a database of an older schema ``version`` up to :data:`SCHEMA_VERSION`
    (one transaction; old rows are kept as they are)."""
    with con:
        while version in _MIGRATIONS:
            step = _MIGRATIONS[version]
            if isinstance(step, str):
                con.executescript(step)
            else:
                step(con)
            version += 1
        con.execute("UPDATE meta SET value=? WHERE key='schema_version'", (str(version),))
    return (str(version),)


def generation(con: sqlite3.Connection) -> int | None:
    """The library's generation: a counter the database itself bumps (triggers)
    on every insert, deletion or new analysis of a track, in the same
    transaction. ``None`` for a library written before the counter existed
    (the next ``genrescope index`` adds it)."""
    row = con.execute("SELECT value FROM meta WHERE key='generation'").fetchone()
    n = con.execute("SELECT count(*) FROM sqlite_master WHERE type='trigger' AND name IN "
                    "(?, ?, ?)", GENERATION_TRIGGERS).fetchone()[0]
    return int(row[0]) if row is not None and n == len(GENERATION_TRIGGERS) else None


def blob(array: np.ndarray | None) -> bytes | None:
    return None if array is None else np.asarray(array, dtype="<f4").tobytes()


def unblob(data: bytes | None) -> np.ndarray | None:
    return None if data is None else np.frombuffer(data, dtype="<f4")


class LibraryWriter:
    """The one writer of a library database (the indexing driver).

    Each :meth:`put` is one transaction: a row is either fully there or not.
    """

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.con = connect(path, create=True)

    def close(self) -> None:
        self.con.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def states(self) -> dict[str, FileState]:
        """Path -> :class:`FileState` of every row."""
        rows = self.con.execute(
            "SELECT id, path, size, mtime_ns, content_hash, model, model_version, windows, "
            "error FROM tracks")
        return {r[1]: FileState(*r) for r in rows}

    def register_model(self, name: str, version: str, labels: list[str], names: dict,
                       embedding_dim: int) -> None:
        with self.con:
            self.con.execute(
                "INSERT OR REPLACE INTO models VALUES (?, ?, ?, ?, ?)",
                (name, version, json.dumps(labels), json.dumps(names, ensure_ascii=False),
                 int(embedding_dim)))

    def put(self, rec: TrackRecord) -> None:
        """Insert or replace the row of ``rec.path`` (one transaction)."""
        top = rec.top[0] if rec.top else (None, None)
        with self.con:
            self.con.execute(
                "INSERT INTO tracks (path, size, mtime_ns, content_hash, duration_s, model, "
                "model_version, windows, top_label, top_probability, top_json, probabilities, "
                "embedding, timeline_json, thumbnail_jpeg, warnings_json, error, analysis_s, "
                "indexed_at, heard_json) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?) "
                "ON CONFLICT(path) DO UPDATE SET size=excluded.size, "
                "mtime_ns=excluded.mtime_ns, content_hash=excluded.content_hash, "
                "duration_s=excluded.duration_s, model=excluded.model, "
                "model_version=excluded.model_version, windows=excluded.windows, "
                "top_label=excluded.top_label, top_probability=excluded.top_probability, "
                "top_json=excluded.top_json, probabilities=excluded.probabilities, "
                "embedding=excluded.embedding, timeline_json=excluded.timeline_json, "
                "thumbnail_jpeg=excluded.thumbnail_jpeg, warnings_json=excluded.warnings_json, "
                "error=excluded.error, analysis_s=excluded.analysis_s, "
                "indexed_at=excluded.indexed_at, heard_json=excluded.heard_json",
                (rec.path, rec.size, rec.mtime_ns, rec.content_hash, rec.duration_s, rec.model,
                 rec.model_version, rec.windows, top[0], top[1],
                 json.dumps([[label, round(p, 6)] for label, p in rec.top]),
                 blob(rec.probabilities), blob(rec.embedding),
                 json.dumps(rec.timeline), rec.thumbnail_jpeg,
                 json.dumps(rec.warnings, ensure_ascii=False), rec.error, rec.analysis_s,
                 time.time(), json.dumps(rec.heard, ensure_ascii=False)))

    def move(self, track_id: int, path: str, size: int, mtime_ns: int) -> None:
        """A file seen under a new path with the same content: keep its analysis."""
        with self.con:
            self.con.execute("UPDATE tracks SET path=?, size=?, mtime_ns=? WHERE id=?",
                             (path, size, mtime_ns, track_id))

    def touch(self, track_id: int, size: int, mtime_ns: int) -> None:
        """Same content, new modification time (e.g. copied back): keep its analysis."""
        with self.con:
            self.con.execute("UPDATE tracks SET size=?, mtime_ns=? WHERE id=?",
                             (size, mtime_ns, track_id))

    def delete(self, track_ids: list[int]) -> None:
        with self.con:
            self.con.executemany("DELETE FROM tracks WHERE id=?", [(i,) for i in track_ids])
