"""Change a user's file so that a kill at any moment leaves it old or new.

:func:`rewrite` copies the file to a temporary file in the same folder, lets
the caller edit the copy, flushes and fsyncs it, gives it the original's
mode and owner, checks that the original did not change meanwhile, calls
``before_replace`` (the undo record is written there) and moves the copy
over the original with :func:`os.replace`, then fsyncs the folder.

Temporary names are ``.NAME.genrescope-tmp-PID`` (no audio extension, so no
folder walk takes one for music); :func:`clean_stale_temps` removes those of
processes that no longer run.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import time
from collections.abc import Callable
from pathlib import Path

from .formats import TagError

TEMP_MARK = ".genrescope-tmp-"
#: Test hook: seconds to sleep between the steps of a write (crash tests).
SLOW_ENV = "GENRESCOPE_TAGS_TEST_DELAY_S"
_TEMP_RE = re.compile(r"^\..+" + re.escape(TEMP_MARK) + r"(\d+)$")


class FileRefused(TagError):
    """A file left alone: read-only, vanished, changed during the run."""


def temp_path(path: Path) -> Path:
    """The temporary copy's name for ``path`` (same folder, recognisable)."""
    return path.with_name(f".{path.name}{TEMP_MARK}{os.getpid()}")


def is_temp(name: str) -> bool:
    """Whether ``name`` is one of our temporary copies."""
    return _TEMP_RE.match(name) is not None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def clean_stale_temps(folder: str | os.PathLike) -> list[Path]:
    """Remove the temporary copies in ``folder`` left by killed runs."""
    removed = []
    try:
        names = os.listdir(folder)
    except OSError:
        return removed
    for name in names:
        m = _TEMP_RE.match(name)
        if m and (int(m[1]) == os.getpid() or not _alive(int(m[1]))):
            path = Path(folder) / name
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed


def check_writable(path: Path) -> os.stat_result:
    """The file's stat, after checking it can be replaced.

    Mode bits are checked as well as :func:`os.access` (root may write a
    ``chmod 444`` file, but its owner said no).

    Raises
    ------
    FileRefused
        Missing, not a regular file, read-only, or in a read-only folder.
    """
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise FileRefused("vanished before it could be written") from None
    if not stat.S_ISREG(st.st_mode):
        raise FileRefused("not a regular file")
    if not st.st_mode & 0o222 or not os.access(path, os.W_OK):
        raise FileRefused("read-only file: left alone (make it writable to tag it)")
    folder = path.parent
    if not os.stat(folder).st_mode & 0o222 or not os.access(folder, os.W_OK | os.X_OK):
        raise FileRefused("its folder is read-only: no room for the safe copy")
    return st


def fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _test_pause() -> None:
    delay_s = float(os.environ.get(SLOW_ENV) or 0)
    if delay_s > 0:
        time.sleep(delay_s)


def _same(st: os.stat_result, now: os.stat_result) -> bool:
    return (st.st_size, st.st_mtime_ns, st.st_ino) == (now.st_size, now.st_mtime_ns, now.st_ino)


def rewrite(path: str | os.PathLike, edit: Callable[[Path], object], *,
            expect: os.stat_result, before_replace: Callable[[object], None]) -> object:
    """Edit a copy of ``path`` and move it over the original.

    Parameters
    ----------
    path : str or PathLike
    edit : callable
        ``edit(copy)`` changes the copy in place; its result is passed to
        ``before_replace`` and returned.
    expect : os.stat_result
        The original as it was when its tags were read: if its size, mtime or
        inode differ right before the replace, the copy is dropped.
    before_replace : callable
        Called after every check, right before :func:`os.replace` (the undo
        record is made durable here).

    Raises
    ------
    FileRefused
        The original vanished or changed during the run.
    TagError
        ``edit`` failed (the original is untouched).
    """
    path = Path(path)
    tmp = temp_path(path)
    try:
        shutil.copyfile(path, tmp)
        result = edit(tmp)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.chmod(tmp, stat.S_IMODE(expect.st_mode))
        try:
            os.chown(tmp, expect.st_uid, expect.st_gid)
        except PermissionError:                 # not ours to give away: keep ours
            pass
        _test_pause()
        try:
            now = os.stat(path)
        except FileNotFoundError:
            raise FileRefused("vanished during the run: not written") from None
        if not _same(expect, now):
            raise FileRefused("changed during the run (size or time differ): not written")
        before_replace(result)
        os.replace(tmp, path)
        fsync_dir(path.parent)
    except FileNotFoundError:
        raise FileRefused("vanished during the run: not written") from None
    finally:
        tmp.unlink(missing_ok=True)
    _test_pause()
    return result
