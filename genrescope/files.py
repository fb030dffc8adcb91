"""The user's files: finding the audio files under folders, and writing files
so that a reader never sees half of one."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .audio import AUDIO_EXTENSIONS


def is_audio_name(name: str) -> bool:
    """Whether a file name looks like audio we decode: a known extension, and
    not hidden (``.song.mp3``: a temporary copy of a writer, or macOS's ``._``
    companions)."""
    return not name.startswith(".") and name.lower().endswith(AUDIO_EXTENSIONS)


def audio_files_under(folder: str | os.PathLike) -> list[str]:
    """Every audio file under ``folder``, walked recursively, sorted (see
    :func:`is_audio_name`). The one folder walker of the CLI, the library's
    scan and the training sets."""
    return sorted(os.path.join(top, name) for top, _, names in os.walk(folder)
                  for name in names if is_audio_name(name))


@contextmanager
def replaced_atomically(path: str | os.PathLike) -> Iterator[Path]:
    """A temporary path beside ``path`` to write to; moved over ``path`` when the
    block ends without an error, removed otherwise.

    The temporary name keeps ``path``'s suffix (``np.save`` and others add
    one otherwise) and holds the process id, so concurrent writers do not mix
    their bytes; the last one to finish wins. The parent folder is created.

    Examples
    --------
    >>> with replaced_atomically(folder / "scores.npy") as tmp:   # doctest: +SKIP
    ...     np.save(tmp, scores)
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp{path.suffix}")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_text_atomically(path: str | os.PathLike, text: str) -> None:
    """``Path(path).write_text(text, encoding="utf-8")``, atomically (see
    :func:`replaced_atomically`)."""
    with replaced_atomically(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def save_figure(fig, path: str | os.PathLike, *, dpi: int = 100) -> str:
    """Write ``fig`` to ``path`` (format by extension, PNG without one) through a
    temporary file renamed over ``path``: a reader never sees half a picture."""
    path = os.fspath(path)
    with replaced_atomically(path) as tmp:
        fig.savefig(tmp, dpi=dpi, format=os.path.splitext(path)[1][1:].lower() or "png")
    return path
