"""The music library: index folders once, then browse, search and play.

>>> from genrescope.library import Library, index
>>> index(["~/Music"], "library.db")            # doctest: +SKIP
>>> lib = Library("library.db")                 # doctest: +SKIP
>>> lib.similar("song.mp3", k=10)               # doctest: +SKIP

Modules follow the data: :mod:`.scan` (files -> what to do), :mod:`.analyse`
(one track -> :class:`TrackRecord`), :mod:`.backends` (where analysis runs),
:mod:`.db` (SQLite, the one writer), :mod:`.index` (the driver); reading:
:mod:`.catalog` (:class:`Library`), :mod:`.search` (numpy), :mod:`.map`,
:mod:`.overview`, :mod:`.api` (REST routes).
"""

from .analyse import DEFAULT_WINDOWS, WindowPlan, analyse_track
from .catalog import Library
from .index import IndexSummary, index
from .record import FileJob, TrackRecord
from .results import Hit, Track

__all__ = ["DEFAULT_WINDOWS", "FileJob", "Hit", "IndexSummary", "Library", "Track",
           "TrackRecord", "WindowPlan", "analyse_track", "index"]
