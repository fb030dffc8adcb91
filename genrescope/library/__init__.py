"""The music library: index folders once, then browse, search and play.

>>> from genrescope.library import Library, index
>>> index(["~/Music"], "library.db")            # doctest: +SKIP
>>> lib = Library("library.db")                 # doctest: +SKIP
>>> lib.similar("song.mp3", k=10)               # doctest: +SKIP

Modules follow the data: :mod:`.scan` (files -> what to do), :mod:`.analyse`
(one track -> :class:`TrackRecord`), :mod:`.backends` (where analysis runs),
:mod:`.db` (SQLite, the one writer), :mod:`.index` (the driver).
"""

from .analyse import DEFAULT_WINDOWS, WindowPlan, analyse_track
from .index import IndexSummary, index
from .record import FileJob, TrackRecord

__all__ = ["DEFAULT_WINDOWS", "FileJob", "IndexSummary", "TrackRecord", "WindowPlan",
           "analyse_track", "index"]
