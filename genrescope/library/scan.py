"""Walk music folders and diff them against the database.

A file whose path, size and modification time match its row is unchanged and
not even read. Every other file is hashed (BLAKE2b of its bytes): a new path
with the content of a row whose file has disappeared is a *move* (the row
follows the file, no re-analysis); a known path with new content is
*changed*; rows under the scanned folders whose file is gone are *deleted*.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from ..files import audio_files_under
from ..errors import GenrescopeError
from .db import FileState
from .record import FileJob, file_job


@dataclass
class ScanPlan:
    """What an index run has to do.

    Attributes
    ----------
    analyse : list of FileJob
        New, changed, and files analysed with another model or window plan.
    unchanged : int
        Files skipped (already analysed with the same settings).
    moved : list of (int, FileJob)
        Row id -> the file's new path (same content).
    touched : list of (int, FileJob)
        Row id -> same content, new size/mtime record.
    deleted : list of FileState
        Rows whose file is gone.
    n_changed : int
        Of ``analyse``, files whose content changed.
    """

    analyse: list = field(default_factory=list)
    unchanged: int = 0
    moved: list = field(default_factory=list)
    touched: list = field(default_factory=list)
    deleted: list = field(default_factory=list)
    n_changed: int = 0


def walk_audio(roots: list[str]) -> list[tuple[str, os.stat_result]]:
    """Absolute paths (sorted) and stats of the audio files under ``roots``.

    Raises
    ------
    GenrescopeError
        A root does not exist.
    """
    found = {}
    for root in roots:
        if os.path.isfile(root):
            path = os.path.abspath(root)
            found[path] = os.stat(path)
            continue
        if not os.path.isdir(root):
            raise GenrescopeError(f"No such folder: {root}")
        for path in audio_files_under(os.path.abspath(root)):
            try:
                found[path] = os.stat(path)
            except OSError:
                continue                               # vanished or a broken link
    return sorted(found.items())


def _under(path: str, roots: list[str]) -> bool:
    for root in roots:
        root = os.path.abspath(root)
        if path == root or path.startswith(root.rstrip(os.sep) + os.sep):
            return True
    return False


def plan_scan(roots: list[str], states: dict[str, FileState], *, model_version: str,
              windows: str, retry_failed: bool = False, progress=None) -> ScanPlan:
    """Diff the files under ``roots`` against the rows ``states``.

    Parameters
    ----------
    roots : list of str
        Folders (or single files) to index.
    states : dict
        Path -> :class:`~genrescope.library.db.FileState` (every row).
    model_version, windows : str
        The run's settings: a row analysed otherwise is analysed again.
    retry_failed : bool
        Analyse again unchanged files that failed before.
    progress : callable, optional
        Wraps the iterable of files that have to be hashed (e.g. ``tqdm``).
    """
    plan = ScanPlan()
    files = walk_audio(roots)
    on_disk = {p for p, _ in files}
    to_hash = []
    for path, st in files:
        row = states.get(path)
        if row is not None and row.size == st.st_size and row.mtime_ns == st.st_mtime_ns:
            if _current(row, model_version, windows, retry_failed):
                plan.unchanged += 1
            else:
                plan.analyse.append(FileJob(path, st.st_size, st.st_mtime_ns, row.content_hash))
            continue
        to_hash.append((path, st))
    missing = [s for p, s in states.items() if p not in on_disk and _under(p, roots)]
    by_hash: dict[str, list[FileState]] = {}
    for s in missing:
        by_hash.setdefault(s.content_hash, []).append(s)
    for path, st in (progress(to_hash) if progress else to_hash):
        try:
            job = file_job(path, st)
        except OSError:
            continue
        row = states.get(path)
        if row is not None:                         # known path, new size or mtime
            if row.content_hash == job.content_hash:
                plan.touched.append((row.id, job))
                if not _current(row, model_version, windows, retry_failed):
                    plan.analyse.append(job)
            else:
                plan.n_changed += 1
                plan.analyse.append(job)
        elif by_hash.get(job.content_hash):         # a file that moved
            row = by_hash[job.content_hash].pop()
            plan.moved.append((row.id, job))
            if not _current(row, model_version, windows, retry_failed):
                plan.analyse.append(job)
        else:
            plan.analyse.append(job)
    moved_ids = {i for i, _ in plan.moved}
    plan.deleted = [s for s in missing if s.id not in moved_ids]
    return plan


def _current(row: FileState, model_version: str, windows: str, retry_failed: bool) -> bool:
    if row.error is not None:
        return not retry_failed
    return row.model_version == model_version and row.windows == windows
