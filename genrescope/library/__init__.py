"""The music library: index folders once, then browse, search and play.

>>> from genrescope.library import Library, index
>>> index(["~/Music"], "library.db")            # doctest: +SKIP
>>> lib = Library("library.db")                 # doctest: +SKIP
>>> lib.similar("song.mp3", k=10)               # doctest: +SKIP

Modules follow the data: :mod:`.scan` (files -> what to do), :mod:`.analyse`
(one track -> :class:`TrackRecord`), :mod:`.backends` (where analysis runs),
:mod:`.db` (SQLite, the one writer), :mod:`.index` (the driver); reading:
:mod:`.catalog` (:class:`Library`), :mod:`.search` (numpy), :mod:`.map`,
:mod:`.overview`. No web framework here: the REST routes are
:mod:`genrescope.server.library`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..lazy import lazy_exports

#: Public name -> the module that defines it (imported on first use: torch is
#: not paid by ``genrescope --help`` or the CLI's argument parsing).
_EXPORTS = {
    "DEFAULT_WINDOWS": ".analyse", "WindowPlan": ".analyse", "analyse_track": ".analyse",
    "Library": ".catalog", "IndexSummary": ".index", "index": ".index",
    "FileJob": ".record", "TrackRecord": ".record", "Hit": ".results", "Track": ".results",
}
__all__ = sorted(_EXPORTS)

if TYPE_CHECKING:                                   # for type checkers and IDEs
    from .analyse import DEFAULT_WINDOWS, WindowPlan, analyse_track
    from .catalog import Library
    from .index import IndexSummary, index
    from .record import FileJob, TrackRecord
    from .results import Hit, Track

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
