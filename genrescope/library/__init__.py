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

import lazy_loader

# The public names are listed once, in __init__.pyi, and imported on first use.
__getattr__, __dir__, __all__ = lazy_loader.attach_stub(__name__, __file__)
