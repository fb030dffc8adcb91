"""genrescope: offline music genre classification.

audio -> :mod:`genrescope.audio` -> :mod:`genrescope.features` (or
:mod:`genrescope.mel_patches`) -> :mod:`genrescope.models` ->
:mod:`genrescope.predict` (the :class:`Classifier`).

The names below are imported on first use, so that ``import genrescope`` (and
``genrescope --help``) does not pay for torch until something needs it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .lazy import lazy_exports

__version__ = "0.1.0"

#: Public name -> the module that defines it.
_EXPORTS = {
    "Audio": ".audio", "AudioWarning": ".audio", "load_audio": ".audio",
    "GenrescopeError": ".errors",
    "CCMUSIC_GENRES": ".labels", "Genre": ".labels",
    "Classifier": ".predict", "GenreScore": ".predict", "Prediction": ".predict",
}
__all__ = sorted(_EXPORTS) + ["__version__"]

if TYPE_CHECKING:                                   # for type checkers and IDEs
    from .audio import Audio, AudioWarning, load_audio
    from .errors import GenrescopeError
    from .labels import CCMUSIC_GENRES, Genre
    from .predict import Classifier, GenreScore, Prediction


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
