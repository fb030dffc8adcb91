"""The index driver: scan, hand the files to a backend, write each result.

The driver is the only writer of the database; it commits every track in its
own transaction as soon as a backend returns it.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field, replace

from ..errors import GenrescopeError
from .ann import ANN_MIN_TRACKS, refresh
from .analyse import DEFAULT_WINDOWS, WindowPlan, model_version
from .backends import check_backend
from .backends.local import LocalBackend, ModelSpec
from .db import LibraryWriter
from .scan import plan_scan


@dataclass
class IndexSummary:
    """What an index run did.

    Attributes
    ----------
    indexed : int
        Files analysed and stored.
    failed : list of (str, str)
        Path and error of files that could not be analysed (stored as such).
    unchanged, moved, touched, deleted, changed : int
    elapsed_s : float
        Wall time of the whole run (scan included).
    analyse_s : float
        Wall time of the analysis phase.
    audio_s : float
        Seconds of audio in the analysed tracks (whole tracks).
    interrupted : bool
    similarity_index : str
        What became of the approximate index ``<db>.ann`` (:func:`.ann.refresh`).
    """

    indexed: int = 0
    failed: list = field(default_factory=list)
    unchanged: int = 0
    moved: int = 0
    touched: int = 0
    deleted: int = 0
    changed: int = 0
    elapsed_s: float = 0.0
    analyse_s: float = 0.0
    audio_s: float = 0.0
    interrupted: bool = False
    similarity_index: str = ""

    @property
    def tracks_per_h(self) -> float:
        n = self.indexed + len(self.failed)
        return 3600.0 * n / self.analyse_s if self.analyse_s > 0 else 0.0

    def text(self) -> str:
        lines = [f"indexed {self.indexed}, skipped unchanged {self.unchanged}, "
                 f"failed {len(self.failed)}, moved {self.moved}, deleted {self.deleted}"
                 + (f", changed {self.changed}" if self.changed else "")
                 + f" in {self.elapsed_s:.1f} s"
                 + (f" ({self.tracks_per_h:.0f} tracks/h)" if self.indexed else "")]
        lines += [f"  failed: {path}: {error}" for path, error in self.failed]
        if self.similarity_index:
            lines.append(self.similarity_index)
        if self.interrupted:
            lines.append("interrupted: run the same command again to finish.")
        return "\n".join(lines)


def make_backend(name: str, spec: ModelSpec, plan: WindowPlan, *, workers: int, classifier,
                 options: dict | None = None):
    """The backend ``name``; ``options`` go to its constructor (ray: address, gpus,
    ship_bytes)."""
    options = options or {}
    check_backend(name, options)
    if name == "local":
        return LocalBackend(spec, plan, workers=workers, classifier=classifier)
    from .backends.ray import RayBackend

    return RayBackend(spec, plan, workers=workers, classifier=classifier, **options)


def index(roots: list[str], db: str, *, model: str | None = None, models_dir=None,
          device: str | None = None, precision: str = "auto", workers: int = 1,
          windows: WindowPlan | str = DEFAULT_WINDOWS, retry_failed: bool = False,
          backend: str = "local", backend_options: dict | None = None,
          progress: bool = True, ann_min_tracks: int = ANN_MIN_TRACKS) -> IndexSummary:
    """Index ``roots`` into the library database ``db`` (created if needed).

    Parameters
    ----------
    roots : list of str
        Music folders (or files).
    db : str
        The SQLite file.
    model, models_dir, device, precision
        As :meth:`Classifier.load` (default: the default model).
    workers : int
        Processes analysing in parallel.
    windows : WindowPlan or str
        Which parts of each track are analysed (default ``spread:4x3``).
    retry_failed : bool
        Try again files that failed before and did not change.
    backend : {"local", "ray"}
    backend_options : dict, optional
        For ``ray``: ``address``, ``gpus``, ``ship_bytes`` (see
        :class:`~genrescope.library.backends.ray.RayBackend`).
    progress : bool
        Show a tqdm bar (tracks/s, ETA) on stderr.
    ann_min_tracks : int
        From this many analysed tracks on, the approximate index ``<db>.ann``
        is (re)built after the run when the database changed (:func:`.ann.refresh`).

    Returns
    -------
    IndexSummary
    """
    t0 = time.perf_counter()
    check_backend(backend, backend_options)
    plan = windows if isinstance(windows, WindowPlan) else WindowPlan.parse(windows)
    if workers < 1:
        raise GenrescopeError("--workers must be at least 1.")
    spec = ModelSpec(model, None if models_dir is None else str(models_dir), device, precision)
    classifier = spec.load()
    if model is None:          # workers load the model the driver resolved, by its name
        spec = replace(spec, name=classifier.name)
    version = model_version(classifier)
    summary = IndexSummary()
    with LibraryWriter(db) as writer:
        from tqdm import tqdm

        scan = plan_scan(roots, writer.states(), model_version=version, windows=str(plan),
                         retry_failed=retry_failed,
                         progress=lambda it: tqdm(it, desc="hashing", unit="file",
                                                  disable=not progress or len(it) < 50,
                                                  leave=False, file=sys.stderr))
        writer.register_model(classifier.name, version, [g.id for g in classifier.genres],
                              {g.id: [g.en, g.zh] for g in classifier.genres},
                              _embedding_dim(classifier))
        writer.delete([s.id for s in scan.deleted])
        for row_id, job in scan.moved:
            writer.move(row_id, job.path, job.size, job.mtime_ns)
        for row_id, job in scan.touched:
            writer.touch(row_id, job.size, job.mtime_ns)
        summary.unchanged, summary.moved = scan.unchanged, len(scan.moved)
        summary.touched, summary.deleted = len(scan.touched), len(scan.deleted)
        summary.changed = scan.n_changed
        runner = make_backend(backend, spec, plan, workers=workers, classifier=classifier,
                              options=backend_options)
        bar = tqdm(total=len(scan.analyse), unit="track", disable=not progress,
                   file=sys.stderr, smoothing=0.1)
        t1 = time.perf_counter()
        try:
            for rec in runner.run(scan.analyse):
                writer.put(rec)
                if rec.error is None:
                    summary.indexed += 1
                    summary.audio_s += rec.duration_s or 0.0
                else:
                    summary.failed.append((rec.path, rec.error))
                bar.update(1)
        except KeyboardInterrupt:
            summary.interrupted = True
        finally:
            runner.close()
            bar.close()
        summary.analyse_s = time.perf_counter() - t1
    if not summary.interrupted:
        if progress:
            print("checking the similarity index ...", file=sys.stderr, flush=True)
        summary.similarity_index = refresh(db, min_tracks=ann_min_tracks)
    summary.elapsed_s = time.perf_counter() - t0
    return summary


def _embedding_dim(classifier) -> int:
    import numpy as np

    return int(classifier.embed(np.zeros(classifier.model.sr * 3, np.float32),
                                sr=classifier.model.sr).shape[0])
