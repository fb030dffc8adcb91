"""Approximate nearest neighbours for large libraries: an index file beside the database.

Exact search (:func:`genrescope.library.search.nearest`) reads every
embedding for every query and needs all of them in memory; from
:data:`ANN_MIN_TRACKS` analysed tracks on, ``genrescope index`` also writes an
inverted-file index (faiss ``IndexIVFFlat``, chosen by measurement over
hnswlib and faiss's HNSW: same speed and recall, a build several times
shorter) of the unit embeddings to ``<db>.ann``, and
:class:`~genrescope.library.Library` answers ``similar`` from it.

The file is never trusted blindly:

* it records the database state it was built from: the model, the number of
  vectors and the library's *generation* (:func:`genrescope.library.db.generation`,
  a counter the database bumps by trigger on every insert, deletion or new
  analysis of a track). A file of another generation is **stale**: the
  library then searches exactly and says so (:attr:`AnnStatus.note`), and the
  next ``genrescope index`` rebuilds it;
* it is written to a temporary file in the same folder, flushed to disk and
  renamed over the old one, so a crash while writing leaves the old file
  (stale or not, still whole) and never a half-written one under the name;
* its header holds the payload's length and CRC-32, checked at open: a torn
  or damaged file is reported and ignored (exact search) until rebuilt.

Layout: ``MAGIC``, a 4-byte little-endian header length, the header (JSON),
then the payload: the faiss index as ``faiss.serialize_index`` writes it
(it holds the track ids).
"""

from __future__ import annotations

import importlib.util
import json
import os
import sqlite3
import struct
import tempfile
import time
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import GenrescopeError
from . import search
from .db import generation, unblob

#: From this many analysed tracks on, ``similar`` uses the approximate index.
#: Below it exact search answers in a few ms (256-d: 2.4 ms at 50 000 tracks,
#: 8.6 ms at 100 000 on a quiet machine, see docs/performance.md) and a graph
#: would only add build time to every index run.
ANN_MIN_TRACKS = 100_000

#: Cells scanned per query, chosen with ``benchmarks/bench_ann.py`` (docs/performance.md).
IVF_NPROBE = 128
#: Training vectors per cell (k-means sample).
IVF_TRAIN_PER_CELL = 40

MAGIC = b"GSANN\x00\x01\n"
FORMAT = 1
_CHUNK = 1 << 24


def ann_path(db) -> Path:
    """Where the approximate index of the library ``db`` lives: ``<db>.ann``."""
    return Path(os.fspath(db) + ".ann")


def file_key(db) -> tuple | None:
    """Identity of the current ``<db>.ann`` (inode, size, mtime), ``None`` if absent."""
    try:
        st = ann_path(db).stat()
    except OSError:
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns)


@dataclass(frozen=True)
class Stamp:
    """The database state an index was built from."""

    generation: int
    model: str
    count: int
    dim: int


@dataclass(frozen=True)
class AnnStatus:
    """Whether ``similar`` may use the approximate index, and if not why.

    ``index`` is the loaded :class:`AnnIndex` or ``None``; ``note`` is a
    sentence for the user when the index exists but cannot be used (stale,
    damaged), else ``None``.
    """

    index: "AnnIndex | None"
    note: str | None = None


class AnnIndex:
    """An inverted-file index (faiss ``IndexIVFFlat``, inner product) over the
    unit embeddings of one model's tracks; its ids are the tracks' database ids.

    The vectors are split into ``nlist`` cells around k-means centres; a query
    scans the :data:`IVF_NPROBE` cells whose centres are nearest, exactly.
    """

    def __init__(self, ivf, stamp: Stamp):
        self.ivf = ivf
        self.stamp = stamp

    @classmethod
    def build(cls, unit: np.ndarray, ids: np.ndarray, stamp: Stamp, *,
              threads: int | None = None) -> "AnnIndex":
        """Train the cells on a sample of ``unit`` (N, D unit rows) and add every
        row under its id in ``ids``."""
        import faiss

        unit = np.ascontiguousarray(unit, dtype=np.float32)
        nlist = n_cells(len(unit))
        before = faiss.omp_get_max_threads()
        faiss.omp_set_num_threads(threads or os.cpu_count() or 1)
        try:
            ivf = faiss.index_factory(unit.shape[1], f"IVF{nlist},Flat",
                                      faiss.METRIC_INNER_PRODUCT)
            rng = np.random.default_rng(0)
            sample = unit if len(unit) <= IVF_TRAIN_PER_CELL * nlist else \
                unit[np.sort(rng.choice(len(unit), IVF_TRAIN_PER_CELL * nlist, replace=False))]
            ivf.cp.seed = 0
            ivf.train(sample)
            ivf.add_with_ids(unit, np.asarray(ids, dtype=np.int64))
        finally:
            faiss.omp_set_num_threads(before)
        return cls(ivf, stamp)

    def nearest(self, query: np.ndarray, k: int, exclude_ids=()) -> list[tuple[int, float]]:
        """Ids and cosine similarities of the ``k`` tracks nearest ``query``
        (any length), best first, never one of ``exclude_ids``."""
        exclude = {int(i) for i in exclude_ids}
        want = min(self.stamp.count, k + len(exclude))
        if want <= 0:
            return []
        q = search.normalise_rows(np.asarray(query, dtype=np.float32)[None, :])
        if q.shape[1] != self.stamp.dim:
            raise GenrescopeError(f"The query has {q.shape[1]} values; the library's "
                                  f"embeddings have {self.stamp.dim}.")
        self.ivf.nprobe = min(IVF_NPROBE, self.ivf.nlist)
        sims, labels = self.ivf.search(q, want)
        hits = [(int(i), float(s)) for i, s in zip(labels[0], sims[0])
                if i >= 0 and int(i) not in exclude]
        return hits[:k]

    # -- the file -------------------------------------------------------- #
    def save(self, path) -> Path:
        """Write the index to ``path``: temporary file in the same folder, fsync, rename."""
        import faiss

        path = Path(path)
        payload = faiss.serialize_index(self.ivf)
        header = json.dumps({
            "format": FORMAT, "library": "faiss", "library_version": faiss.__version__,
            "kind": "IndexIVFFlat", "nlist": int(self.ivf.nlist), "stamp": vars(self.stamp),
            "payload_bytes": int(payload.nbytes), "payload_crc32": zlib.crc32(payload),
            "written_at": time.time()}).encode()
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(MAGIC + struct.pack("<I", len(header)) + header)
                f.write(memoryview(payload))
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        _fsync_dir(path.parent)
        return path

    @classmethod
    def load(cls, path) -> "AnnIndex":
        """Read an index file; raises :class:`GenrescopeError` if it is not a
        whole index file (torn, damaged, another format)."""
        import faiss

        path = Path(path)
        header, offset = read_header(path)
        payload = np.fromfile(path, dtype=np.uint8, offset=offset)
        if len(payload) != header["payload_bytes"] or \
                zlib.crc32(payload) != header["payload_crc32"]:
            raise GenrescopeError(f"{path} is damaged (checksum mismatch).")
        try:
            ivf = faiss.deserialize_index(payload)
        except RuntimeError as exc:
            raise GenrescopeError(f"{path} cannot be read ({exc}).") from exc
        return cls(ivf, Stamp(**header["stamp"]))


def n_cells(n: int) -> int:
    """Cells of an index of ``n`` vectors: about 4 sqrt(n) (faiss's guidance),
    at most one per :data:`IVF_TRAIN_PER_CELL` vectors, at least 1."""
    return int(max(1, min(4 * np.sqrt(n), n // IVF_TRAIN_PER_CELL)))


def read_header(path: Path) -> tuple[dict, int]:
    """The header of an index file and where its payload starts; raises
    :class:`GenrescopeError` for a file that is not whole."""
    try:
        size = path.stat().st_size
        with open(path, "rb") as f:
            head = f.read(len(MAGIC) + 4)
            if len(head) < len(MAGIC) + 4 or head[:len(MAGIC)] != MAGIC:
                raise GenrescopeError(f"{path} is not a genrescope similarity index.")
            (length,) = struct.unpack("<I", head[len(MAGIC):])
            header = json.loads(f.read(length))
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise GenrescopeError(f"{path} cannot be read ({exc}).") from exc
    offset = len(MAGIC) + 4 + length
    if header.get("format") != FORMAT or size != offset + header.get("payload_bytes", -1):
        raise GenrescopeError(f"{path} is incomplete or of another format "
                              f"({size} bytes, header says {offset + header.get('payload_bytes', 0)}).")
    return header, offset


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def vectors(con: sqlite3.Connection) -> tuple[str, np.ndarray, np.ndarray, int] | None:
    """(main model, ids, unit rows, generation) read in one snapshot and one
    pass over the table, or ``None`` when nothing is analysed or the library
    has no generation counter. The main model is the one with most tracks."""
    with con:                                           # one read transaction
        con.execute("BEGIN")
        gen = generation(con)
        if gen is None:
            return None
        by_model: dict[str, list] = {}
        for id_, model, emb in con.execute(
                "SELECT id, model, embedding FROM tracks WHERE error IS NULL AND "
                "embedding IS NOT NULL ORDER BY id"):
            by_model.setdefault(model, []).append((id_, emb))
    if not by_model:
        return None
    model = max(sorted(by_model), key=lambda m: len(by_model[m]))
    rows = by_model[model]
    ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
    unit = search.normalise_rows(np.frombuffer(b"".join(r[1] for r in rows), dtype="<f4")
                                 .reshape(len(rows), -1))
    return model, ids, unit, gen


def verify(path) -> dict:
    """The header of a whole index file (length and checksum checked); raises
    :class:`GenrescopeError` otherwise."""
    header, offset = read_header(Path(path))
    crc = 0
    with open(path, "rb") as f:
        f.seek(offset)
        while chunk := f.read(_CHUNK):
            crc = zlib.crc32(chunk, crc)
    if crc != header["payload_crc32"]:
        raise GenrescopeError(f"{path} is damaged (checksum mismatch).")
    return header


def refresh(db, *, min_tracks: int = ANN_MIN_TRACKS) -> str:
    """Bring ``<db>.ann`` in line with the database (after an index run).

    Builds the index when the library has at least ``min_tracks`` analysed
    tracks and the file is missing, stale, torn or damaged; removes it below
    that size. Returns what it did, in words.
    """
    from .db import connect

    path = ann_path(db)
    con = connect(db)
    try:
        gen = generation(con)
        if gen is None:
            return "no similarity index: the library has no generation counter"
        if path.exists():
            try:
                if verify(path)["stamp"]["generation"] == gen:
                    return "similarity index up to date"
            except GenrescopeError:
                pass
        t = time.perf_counter()
        got = vectors(con)
        if got is None or len(got[1]) < min_tracks:
            if path.exists():
                path.unlink()
                return "similarity index removed (library under the size that needs one)"
            return "exact search (library under the size that needs an index)"
        model, ids, unit, gen = got
        if importlib.util.find_spec("faiss") is None:
            return ("no similarity index: faiss-cpu is not installed (pip install faiss-cpu); "
                    "similar searches exactly")
        AnnIndex.build(unit, ids, Stamp(gen, model, len(ids), unit.shape[1])).save(path)
        return f"similarity index built for {len(ids):,} tracks in {time.perf_counter() - t:.1f} s"
    finally:
        con.close()


def open_index(con: sqlite3.Connection, db, *, min_tracks: int = ANN_MIN_TRACKS,
               loaded: AnnIndex | None = None) -> AnnStatus:
    """The approximate index of the library ``db`` if it is whole and built
    from the database's current state; ``loaded`` (an index already in
    memory) is kept when it still is. Never raises for a bad file."""
    path = ann_path(db)
    if not path.exists():
        return AnnStatus(None)
    gen = generation(con)
    try:
        header, _ = read_header(path)
    except GenrescopeError as exc:
        return AnnStatus(None, f"{exc} Exact search is used; `genrescope index` rebuilds it.")
    stamp = Stamp(**header["stamp"])
    if gen is None or stamp.generation != gen:
        return AnnStatus(None, f"The similarity index {path.name} is stale (built from "
                         f"generation {stamp.generation}, the library is at {gen}): exact "
                         "search is used until `genrescope index` rebuilds it.")
    if stamp.count < min_tracks:
        return AnnStatus(None)
    if loaded is not None and loaded.stamp == stamp:
        return AnnStatus(loaded)
    if importlib.util.find_spec("faiss") is None:
        return AnnStatus(None, "faiss-cpu is not installed: exact search is used.")
    try:
        return AnnStatus(AnnIndex.load(path))
    except GenrescopeError as exc:
        return AnnStatus(None, f"{exc} Exact search is used; `genrescope index` rebuilds it.")
