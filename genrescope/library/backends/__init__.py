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

__all__ = ["BACKENDS", "LocalBackend", "check_backend"]

BACKENDS = ("local", "ray")


def check_backend(name: str, options: dict | None = None) -> None:
    """Refuse, before any work, a backend that cannot run: an unknown name,
    Ray's options (``address``, ``gpus``, ``ship_bytes``) without ``ray``, or
    ``ray`` without Ray installed (checked without importing it).

    Raises
    ------
    GenrescopeError
        Saying what to change (or how to install Ray).
    """
    if name not in BACKENDS:
        raise GenrescopeError(f"Unknown backend {name!r}: use {' or '.join(BACKENDS)}.")
    if name != "ray" and options:
        given = ", ".join("--" + k.replace("_", "-") for k in sorted(options))
        raise GenrescopeError(f"{given}: only with --backend ray.")
    if name == "ray" and importlib.util.find_spec("ray") is None:
        raise GenrescopeError("--backend ray needs Ray, an optional extra: "
                              "pip install 'genrescope[ray]' (or use --backend local).")
