# The public API of genrescope, in one place. Read by type checkers, and by
# lazy_loader at run time (genrescope/__init__.py): each name is imported on
# first use, so `import genrescope` does not pay for torch.
from .audio import Audio, AudioWarning, load_audio
from .errors import GenrescopeError
from .labels import CCMUSIC_GENRES, Genre
from .predict import Classifier, GenreScore, Prediction

__version__: str
