"""genrescope: offline music genre classification.

audio -> :mod:`genrescope.audio` -> :mod:`genrescope.features` (or
:mod:`genrescope.mel_patches`) -> :mod:`genrescope.models` ->
:mod:`genrescope.predict` (the :class:`Classifier`).

The names below are imported on first use, so that ``import genrescope`` (and
``genrescope --help``) does not pay for torch until something needs it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

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


def __getattr__(name: str):
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name], __name__), name)
        globals()[name] = value                     # later lookups skip this function
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
