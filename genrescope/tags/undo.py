"""What each tag write replaced, kept durably before the file is replaced.

Two stores with the same three methods (:meth:`record`, :meth:`latest`,
:meth:`mark_undone`): :class:`DatabaseLog`, the ``tag_writes`` table of a
library database (``--db``), and :class:`JournalLog`, a JSON-lines journal
``.genrescope-tags.jsonl`` in each tagged file's folder. A record is written
(and fsynced) before the file is replaced; a record whose write never
completed is recognised at undo time (the file still holds the ``before``
values) and simply closed.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

JOURNAL_NAME = ".genrescope-tags.jsonl"


@dataclass
class WriteRecord:
    """One write: the raw fields before and after (see :mod:`.formats`).

    Attributes
    ----------
    path : str
        Absolute path of the file.
    family : str
        ``id3``, ``vorbis`` or ``mp4``.
    before, after : dict
        Raw key -> list of values, or ``None`` for "no such field".
    id : str
    written_at : float
        Unix time.
    """

    path: str
    family: str
    before: dict
    after: dict
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    written_at: float = field(default_factory=time.time)


class JournalLog:
    """Undo records in ``.genrescope-tags.jsonl`` beside the files (append + fsync)."""

    def __init__(self):
        self._cache: dict[Path, dict[str, list]] = {}

    @staticmethod
    def _journal(path: str) -> Path:
        return Path(path).parent / JOURNAL_NAME

    def _load(self, journal: Path) -> dict[str, list]:
        """File name -> its open (not undone) records, oldest first."""
        if journal in self._cache:
            return self._cache[journal]
        records: dict[str, WriteRecord] = {}
        undone = set()
        try:
            lines = journal.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            lines = []
        for line in lines:
            try:
                entry = json.loads(line)
            except json.JSONDecodeError:          # a line cut by a kill: never acted on
                continue
            if entry.get("op") == "write":
                records[entry["id"]] = WriteRecord(
                    str(journal.parent / entry["file"]), entry["family"], entry["before"],
                    entry["after"], entry["id"], entry["time"])
            elif entry.get("op") == "undo":
                undone.add(entry["id"])
        by_file: dict[str, list] = {}
        for rec in records.values():
            if rec.id not in undone:
                by_file.setdefault(Path(rec.path).name, []).append(rec)
        self._cache[journal] = by_file
        return by_file

    def _append(self, journal: Path, entry: dict) -> None:
        line = json.dumps(entry, ensure_ascii=False) + "\n"
        new = not journal.exists()
        with open(journal, "a+b") as f:
            f.seek(0, os.SEEK_END)
            if f.tell():
                f.seek(-1, os.SEEK_END)
                if f.read(1) != b"\n":            # the last line was cut by a kill
                    line = "\n" + line
            f.write(line.encode("utf-8"))
            f.flush()
            os.fsync(f.fileno())
        if new:
            from .safe import fsync_dir

            fsync_dir(journal.parent)

    def record(self, rec: WriteRecord) -> None:
        journal = self._journal(rec.path)
        self._append(journal, {"op": "write", "id": rec.id, "file": Path(rec.path).name,
                               "family": rec.family, "before": rec.before,
                               "after": rec.after, "time": rec.written_at})
        self._load(journal).setdefault(Path(rec.path).name, []).append(rec)

    def latest(self, path: str) -> WriteRecord | None:
        records = self._load(self._journal(path)).get(Path(path).name)
        return records[-1] if records else None

    def mark_undone(self, rec: WriteRecord) -> None:
        journal = self._journal(rec.path)
        self._append(journal, {"op": "undo", "id": rec.id, "time": time.time()})
        records = self._load(journal).get(Path(rec.path).name, [])
        if rec in records:
            records.remove(rec)

    def close(self) -> None:
        pass


class DatabaseLog:
    """Undo records in the library database's ``tag_writes`` table."""

    def __init__(self, db: str | os.PathLike):
        from ..library.db import connect

        self.con = connect(db)
        self.con.execute("PRAGMA synchronous=FULL")      # durable at each commit

    def record(self, rec: WriteRecord) -> None:
        with self.con:
            cursor = self.con.execute(
                "INSERT INTO tag_writes (path, family, before_json, after_json, written_at) "
                "VALUES (?, ?, ?, ?, ?)",
                (rec.path, rec.family, json.dumps(rec.before, ensure_ascii=False),
                 json.dumps(rec.after, ensure_ascii=False), rec.written_at))
        rec.id = str(cursor.lastrowid)

    def latest(self, path: str) -> WriteRecord | None:
        row = self.con.execute(
            "SELECT id, path, family, before_json, after_json, written_at FROM tag_writes "
            "WHERE path=? AND undone_at IS NULL ORDER BY id DESC LIMIT 1", (path,)).fetchone()
        if row is None:
            return None
        return WriteRecord(row[1], row[2], json.loads(row[3]), json.loads(row[4]),
                           str(row[0]), row[5])

    def mark_undone(self, rec: WriteRecord) -> None:
        with self.con:
            self.con.execute("UPDATE tag_writes SET undone_at=? WHERE id=?",
                             (time.time(), int(rec.id)))

    def follow_file(self, path: str, old_hash: str) -> None:
        """The file was rewritten with the same audio: its library row (if it
        held the old bytes) keeps its analysis under the new size, time and
        hash, so the next ``genrescope index`` does not analyse it again."""
        from ..library.record import content_hash

        st = os.stat(path)
        with self.con:
            self.con.execute("UPDATE tracks SET size=?, mtime_ns=?, content_hash=? "
                             "WHERE path=? AND content_hash=?",
                             (st.st_size, st.st_mtime_ns, content_hash(path), path, old_hash))

    def close(self) -> None:
        self.con.close()
