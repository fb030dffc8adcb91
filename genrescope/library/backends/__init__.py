"""Where track analysis runs. Every backend calls
:func:`genrescope.library.analyse.analyse_track` and yields
:class:`~genrescope.library.record.TrackRecord` objects to the driver, which
is the only writer of the database.

A backend is an object with ``run(jobs) -> Iterator[TrackRecord]`` (records
in any order, one per job) and ``close()``. ``local`` runs in this process
(1 worker) or a process pool (``--workers N``); ``ray`` (:mod:`.ray`, the
``genrescope[ray]`` extra, imported only when asked for) on a pool of Ray actors.
"""

import importlib.util

from ...errors import GenrescopeError
from .local import LocalBackend

__all__ = ["LocalBackend", "require_ray"]


def require_ray() -> None:
    """Raise :class:`GenrescopeError` saying how to install Ray when it is missing
    (checked without importing it)."""
    if importlib.util.find_spec("ray") is None:
        raise GenrescopeError("--backend ray needs Ray, an optional extra: "
                              "pip install 'genrescope[ray]' (or use --backend local).")
