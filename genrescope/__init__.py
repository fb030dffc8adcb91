"""genrescope: offline music genre classification.

audio -> :mod:`genrescope.audio` -> :mod:`genrescope.features` ->
:mod:`genrescope.models` -> :mod:`genrescope.predict` (the :class:`Classifier`).
"""

from .audio import Audio, AudioWarning, load_audio
from .errors import GenrescopeError
from .labels import CCMUSIC_GENRES, Genre
from .predict import Classifier, GenreScore, Prediction

__version__ = "0.1.0"
__all__ = ["Audio", "AudioWarning", "CCMUSIC_GENRES", "Classifier", "Genre", "GenreScore",
           "GenrescopeError", "Prediction", "load_audio", "__version__"]
