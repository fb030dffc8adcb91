"""What the indexer stores per file: :class:`TrackRecord` and the file's identity."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field

import numpy as np

HASH_CHUNK_BYTES = 1 << 20


@dataclass(frozen=True)
class FileJob:
    """A file to analyse, as the scan found it (picklable: sent to workers).

    Attributes
    ----------
    path : str
        Absolute path.
    size : int
        Bytes.
    mtime_ns : int
        Modification time in nanoseconds.
    content_hash : str
        BLAKE2b-128 of the bytes (hex).
    """

    path: str
    size: int
    mtime_ns: int
    content_hash: str


@dataclass
class TrackRecord:
    """The analysis of one file: what one row of the library holds.

    Attributes
    ----------
    path, size, mtime_ns, content_hash
        The file's identity (see :class:`FileJob`).
    duration_s : float or None
        Length of the whole track in seconds (``None`` when unknown).
    model, model_version : str
        The model that analysed it and a digest of its weights.
    windows : str
        The window plan used (see :class:`~genrescope.library.analyse.WindowPlan`).
    top : list of (str, float)
        Top genres (label id, probability), most likely first.
    probabilities : np.ndarray or None
        Probability of every label of the model (window-averaged).
    embedding : np.ndarray or None
        Clip embedding (float32), the average of the windows' embeddings.
    timeline : list of dict
        One entry per analysed chunk or patch: ``start_s``, ``end_s`` (in the
        track) and ``p`` (probability per label, model order).
    thumbnail_jpeg : bytes or None
        A small spectrogram picture of the analysed windows.
    warnings : list of dict
        Audio warnings and the model's notes (``code``, ``message``).
    heard : list of dict
        Voices and instruments heard (``kind``, ``label``, ``name_en``,
        ``name_zh``, ``score``; see :attr:`genrescope.predict.Prediction.heard`).
    error : str or None
        Why the file could not be analysed (then no analysis fields are set).
    analysis_s : float
        Seconds the analysis took.
    """

    path: str
    size: int
    mtime_ns: int
    content_hash: str
    duration_s: float | None = None
    model: str | None = None
    model_version: str | None = None
    windows: str | None = None
    top: list = field(default_factory=list)
    probabilities: np.ndarray | None = None
    embedding: np.ndarray | None = None
    timeline: list = field(default_factory=list)
    thumbnail_jpeg: bytes | None = None
    warnings: list = field(default_factory=list)
    error: str | None = None
    analysis_s: float = 0.0
    heard: list = field(default_factory=list)

    @classmethod
    def failed(cls, job: FileJob, error: str, **kw) -> "TrackRecord":
        return cls(job.path, job.size, job.mtime_ns, job.content_hash, error=error, **kw)


def content_hash(path: str | os.PathLike) -> str:
    """BLAKE2b-128 of the file's bytes, hex (the key that recognises a moved file)."""
    h = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as f:
        while chunk := f.read(HASH_CHUNK_BYTES):
            h.update(chunk)
    return h.hexdigest()


def file_job(path: str | os.PathLike, st: os.stat_result | None = None) -> FileJob:
    """Stat and hash ``path``."""
    path = os.path.abspath(path)
    st = st or os.stat(path)
    return FileJob(path, st.st_size, st.st_mtime_ns, content_hash(path))
