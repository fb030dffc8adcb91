"""Whether files were among a model's training files (``genrescope evaluate``
warns: a model scores high on the music it learnt from).

A bundle built by ``tools/build_default_model.py`` records its training
files in ``config.json`` as ``training.fingerprints``: the files' names
(lower-case, without folder and extension) and the first 16 hex digits of
each file's SHA-256. Comparing costs one read of each evaluated file, no
decoding. A same name catches another cut or format of a training
recording (GTZAN's ``jazz.00000`` as WAV or MP3); a same digest, a copy
under any name.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

#: Hex digits of SHA-256 kept per file.
DIGEST_HEX = 16


def file_digest(path: str | os.PathLike) -> str:
    """The first :data:`DIGEST_HEX` hex digits of the file's SHA-256."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()[:DIGEST_HEX]


def name_key(path: str | os.PathLike) -> str:
    """``Jazz.00000.wav`` -> ``jazz.00000``."""
    return Path(path).stem.lower()


def fingerprints(paths) -> dict:
    """``{"names": [...], "sha256": [...]}`` of training files, for a bundle's
    ``config["training"]["fingerprints"]``."""
    paths = list(paths)
    return {"names": sorted({name_key(p) for p in paths}),
            "sha256": sorted({file_digest(p) for p in paths})}


@dataclass
class Overlap:
    """Evaluated files that were training files of the model.

    Attributes
    ----------
    n_files : int
        Files compared.
    same_bytes : list of str
        Files whose content is a training file's.
    same_name : list of str
        Other files named like a training file.
    """

    n_files: int
    same_bytes: list = field(default_factory=list)
    same_name: list = field(default_factory=list)

    @property
    def n_overlap(self) -> int:
        return len(self.same_bytes) + len(self.same_name)

    def warning(self, model: str) -> str | None:
        """The caution printed above the figures, or ``None`` without overlap."""
        if not self.n_overlap:
            return None
        share = self.n_overlap / max(1, self.n_files)
        parts = []
        if self.same_bytes:
            parts.append(f"{len(self.same_bytes)} are copies of its training files")
        if self.same_name:
            parts.append(f"{len(self.same_name)} are named like training files "
                         "(likely the same recordings)")
        return (f"CAUTION: {self.n_overlap} of {self.n_files} files ({share:.0%}) overlap "
                f"the training set of model {model}: {', and '.join(parts)}. A model "
                "scores high on music it learnt from: these figures overstate its accuracy "
                "on new music. Evaluate on files it never saw.")

    def to_dict(self) -> dict:
        return {"n_files": self.n_files, "n_overlap": self.n_overlap,
                "same_bytes": self.same_bytes, "same_name": self.same_name}


def training_overlap(paths, known: dict | None) -> Overlap | None:
    """Which of ``paths`` were training files of a bundle whose config records
    ``known`` (``training.fingerprints``: ``names`` and ``sha256``, see
    :func:`fingerprints`); ``None`` when it records none."""
    if not known:
        return None
    names, digests = set(known.get("names", [])), set(known.get("sha256", []))
    result = Overlap(0)
    for path in paths:
        result.n_files += 1
        try:
            same = file_digest(path) in digests
        except OSError:                           # unreadable: evaluate reports it as failed
            same = False
        if same:
            result.same_bytes.append(str(path))
        elif name_key(path) in names:
            result.same_name.append(str(path))
    return result
