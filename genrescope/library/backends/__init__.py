"""Where track analysis runs. Every backend calls
:func:`genrescope.library.analyse.analyse_track` and yields
:class:`~genrescope.library.record.TrackRecord` objects to the driver, which
is the only writer of the database.

A backend is an object with ``run(jobs) -> Iterator[TrackRecord]`` (records
in any order, one per job) and ``close()``. ``local`` runs in this process
(1 worker) or a process pool (``--workers N``).
"""

from .local import LocalBackend

__all__ = ["LocalBackend"]
