"""``genrescope tag``: plan, write and undo genre tags over many files.

:func:`tag_files` decides each file's genre (:mod:`.answers`), shows what
would change and, with ``write=True``, writes it the safe way
(:func:`.safe.rewrite`) after recording what it replaces (:mod:`.undo`).
:func:`undo_files` puts back the values of each file's last write. One
file's trouble is one row of the summary; the run goes on.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import GenrescopeError
from .answers import NOT_SURE_CODES, Answer, Answers
from .formats import TagError, TagFile, family
from .safe import check_writable, clean_stale_temps, rewrite
from .undo import DatabaseLog, JournalLog, WriteRecord


@dataclass(frozen=True)
class TagOptions:
    """What ``genrescope tag`` was asked.

    Attributes
    ----------
    write : bool
        Write (else a dry run: nothing is changed).
    min_confidence : float or None
        Write answers of at least this probability; ``None``: answers without
        a "not sure" note (:data:`~.answers.NOT_SURE_CODES`).
    only_empty : bool
        Leave files that already have a genre alone.
    append : bool
        Add the genre to the existing ones (else replace them).
    lang : {"en", "zh"}
    styles : bool
        Write the styles heard as further genre values.
    details : bool
        Write confidence, model and source into genrescope's own fields.
    """

    write: bool = False
    min_confidence: float | None = None
    only_empty: bool = False
    append: bool = False
    lang: str = "en"
    styles: bool = False
    details: bool = False


@dataclass
class Row:
    """One file of the summary: ``ok`` is false when it failed or was refused."""

    path: str
    current: list = field(default_factory=list)
    new: list | None = None
    confidence: float | None = None
    note: str = ""
    ok: bool = True
    written: bool = False


@dataclass
class TagSummary:
    """Every file's row; :attr:`failed` says whether the exit status is non-zero."""

    rows: list = field(default_factory=list)

    @property
    def failed(self) -> list:
        return [r for r in self.rows if not r.ok]

    def counts(self) -> dict:
        out: dict[str, int] = {}
        for r in self.rows:
            key = r.note.split(":")[0]
            out[key] = out.get(key, 0) + 1
        return out


def _plan(tf: TagFile, answer: Answer, opts: TagOptions) -> tuple[dict, dict]:
    """``(before, after)`` raw fields for writing ``answer`` into ``tf``."""
    keys = tf.keys
    values = [answer.genre] + (answer.styles if opts.styles else [])
    if opts.append:
        raw = tf.get(keys.genre) or []
        shown = set(tf.genres())
        values = raw + [v for v in values if v not in shown and v not in raw]
    after = {keys.genre: values}
    if opts.details:
        details = {"confidence": [f"{answer.confidence:.4f}"], "model": [answer.model],
                   "source": [answer.source]}
        after |= {keys.details[n]: v for n, v in details.items()}
    before = {k: tf.get(k) for k in after}
    return before, after


def _decide(path: str, answers: Answers, opts: TagOptions, row: Row):
    """Fill ``row``; return ``(tagfile, answer, before, after, stat)`` when
    there is something to write, else ``None``."""
    if family(path) is None:
        row.note = "skipped: not a format genrescope writes tags to"
        return None
    try:
        st = os.stat(path)
        tf = TagFile(path)
        row.current = tf.genres()
        if opts.write:
            st = check_writable(Path(path))
        answer = answers.answer(path, st)
    except GenrescopeError as exc:
        row.note, row.ok = f"failed: {exc}", False
        return None
    row.confidence = answer.confidence
    row.new = [answer.genre] + (answer.styles if opts.styles else [])
    if not answer.confident(opts.min_confidence):
        why = ", ".join(sorted(set(answer.notes) & NOT_SURE_CODES)) \
            if opts.min_confidence is None \
            else f"under --min-confidence {opts.min_confidence:g}"
        row.note = f"kept: not sure ({why})"
        return None
    if opts.only_empty and row.current:
        row.note = "kept: has a genre (--only-empty)"
        return None
    before, after = _plan(tf, answer, opts)
    row.new = after[tf.keys.genre]
    if before == after:
        row.note = "up to date"
        return None
    row.note = "would write" if not opts.write else "writing"
    return tf, answer, before, after, st


def _write(path: str, st: os.stat_result, fam: str, after: dict, log) -> WriteRecord:
    """Write ``after`` into ``path`` safely; the record is made before the replace."""
    ext = os.path.splitext(path)[1]

    def edit(tmp: Path) -> WriteRecord:
        copy = TagFile(tmp, ext)
        rec = WriteRecord(path, fam, {k: copy.get(k) for k in after}, after)
        copy.apply(after)
        copy.save()
        return rec

    return rewrite(path, edit, expect=st, before_replace=log.record)


def _hash_if_library(log, path: str) -> str | None:
    """The file's hash before a rewrite, when a library may hold its row."""
    if not isinstance(log, DatabaseLog):
        return None
    from ..library.record import content_hash

    return content_hash(path)


def _open_log(db):
    return DatabaseLog(db) if db is not None else JournalLog()


def _clean(paths: list[str]) -> None:
    for folder in sorted({os.path.dirname(p) for p in paths}):
        clean_stale_temps(folder)


def tag_files(paths: list[str], opts: TagOptions, *, db=None, load_classifier=None,
              progress=None) -> TagSummary:
    """Plan (and with ``opts.write``, write) the genre of every audio file.

    Parameters
    ----------
    paths : list of str
        Files and folders (walked like ``genrescope index`` does).
    opts : TagOptions
    db : str or PathLike, optional
        A library database: answers for files it knows as they are, and the
        undo records (else a journal beside the files).
    load_classifier : callable, optional
        Returns the Classifier for files the library does not answer.
    progress : callable, optional
        Wraps the list of files (e.g. ``tqdm``).
    """
    from ..library.scan import walk_audio

    files = [p for p, _ in walk_audio(paths)]
    if opts.write:
        _clean(files)
    summary = TagSummary()
    answers = Answers(db, lang=opts.lang, load_classifier=load_classifier)
    log = _open_log(db) if opts.write else None
    try:
        for path in progress(files) if progress else files:
            row = Row(path)
            summary.rows.append(row)
            plan = _decide(path, answers, opts, row)
            if plan is None or not opts.write:
                continue
            tf, _, _, after, st = plan
            old_hash = _hash_if_library(log, path)
            try:
                _write(path, st, tf.family, after, log)
            except GenrescopeError as exc:
                row.note, row.ok = f"failed: {exc}", False
                continue
            row.note, row.written = "written", True
            if old_hash:
                log.follow_file(path, old_hash)
    finally:
        answers.close()
        if log is not None:
            log.close()
    return summary


def _undo_one(path: str, log, row: Row) -> None:
    rec = log.latest(path)
    if rec is None:
        row.note = "nothing to undo"
        return
    try:
        st = check_writable(Path(path))
        tf = TagFile(path)
    except GenrescopeError as exc:
        row.note, row.ok = f"failed: {exc}", False
        return
    row.current = tf.genres()
    now = {k: tf.get(k) for k in rec.after}
    before = {k: rec.before.get(k) for k in rec.after}
    genre_key = tf.keys.genre
    row.new = list(before.get(genre_key) or [])
    if now == before:
        log.mark_undone(rec)
        row.note = "up to date: already as before (that write never completed)"
        return
    if now != rec.after:
        row.note, row.ok = "kept: changed since genrescope wrote it (not undone)", False
        return
    old_hash = _hash_if_library(log, path)
    try:
        rewrite(path, lambda tmp: _restore(tmp, path, before), expect=st,
                before_replace=lambda _: None)
    except GenrescopeError as exc:
        row.note, row.ok = f"failed: {exc}", False
        return
    log.mark_undone(rec)
    if old_hash:
        log.follow_file(path, old_hash)
    row.note, row.written = "restored", True


def _restore(tmp: Path, path: str, before: dict) -> None:
    copy = TagFile(tmp, os.path.splitext(path)[1])
    copy.apply(before)
    copy.save()


def undo_files(paths: list[str], *, db=None, progress=None) -> TagSummary:
    """Put back what the last ``tag --write`` replaced in each file.

    A file whose fields are no longer what genrescope wrote is reported and
    left alone. Each file is rewritten the same safe way as a write.
    """
    from ..library.scan import walk_audio

    files = [p for p, _ in walk_audio(paths)]
    _clean(files)
    summary = TagSummary()
    log = _open_log(db)
    try:
        for path in progress(files) if progress else files:
            row = Row(path)
            summary.rows.append(row)
            _undo_one(path, log, row)
    finally:
        log.close()
    return summary
