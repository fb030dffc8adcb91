"""Where genrescope keeps what it computes once and reuses (features, checks)."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir(explicit: str | os.PathLike | None = None) -> Path:
    """``explicit``, else ``$GENRESCOPE_CACHE``, else ``$XDG_CACHE_HOME/genrescope``,
    else ``~/.cache/genrescope``."""
    if explicit:
        return Path(explicit).expanduser()
    if os.environ.get("GENRESCOPE_CACHE"):
        return Path(os.environ["GENRESCOPE_CACHE"]).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(xdg).expanduser() / "genrescope"
