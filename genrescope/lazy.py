"""Package names imported on first use (PEP 562), so that importing a package
(and ``genrescope --help``) does not pay for torch until something needs it."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable


def lazy_exports(package: str, exports: dict[str, str]) -> tuple[Callable, Callable]:
    """A module's ``__getattr__`` and ``__dir__``: ``exports[name]`` (a module
    path relative to ``package``) is imported when ``name`` is first looked up,
    and ``dir()`` lists the exported names before that."""

    def __getattr__(name: str):
        if name in exports:
            value = getattr(importlib.import_module(exports[name], package), name)
            setattr(sys.modules[package], name, value)   # later lookups skip this function
            return value
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def __dir__() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | set(exports))

    return __getattr__, __dir__
