"""genrescope: offline music genre classification.

audio -> :mod:`genrescope.audio` -> :mod:`genrescope.features` (or
:mod:`genrescope.mel_patches`) -> :mod:`genrescope.models` ->
:mod:`genrescope.predict` (the :class:`Classifier`).

The public names (listed once, in ``__init__.pyi``) are imported on first use,
so that ``import genrescope`` (and
``genrescope --help``) does not pay for torch until something needs it.
"""

import lazy_loader

__version__ = "0.1.0"

# The public names are listed once, in __init__.pyi, and imported on first use.
__getattr__, _stub_dir, __all__ = lazy_loader.attach_stub(__name__, __file__)
__all__ = [*__all__, "__version__"]


def __dir__() -> list[str]:
    return list(__all__)
