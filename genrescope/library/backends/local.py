"""Analysis on this machine: in the driver's process, or a pool of processes.

With ``workers > 1`` each worker process loads the model once (its
initialiser) and runs torch on one thread, so N workers use N cores.
Processes are started with ``spawn`` (torch and a forked thread pool do not
mix). At most ``2 * workers`` files are in flight, so an interrupted run
loses at most those.
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
import signal
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from ...errors import GenrescopeError
from ..analyse import WindowPlan, analyse_track, model_version, set_threads
from ..record import FileJob, TrackRecord


@dataclass(frozen=True)
class ModelSpec:
    """How a worker loads the model (picklable)."""

    name: str | None = None
    models_dir: str | None = None
    device: str | None = None
    precision: str = "auto"

    def load(self):
        """The classifier, its networks compiled for many files
        (:meth:`~genrescope.models.base.Model.compile_for_throughput`)."""
        from ...predict import Classifier

        clf = Classifier.load(self.name, models_dir=self.models_dir, device=self.device,
                              precision=self.precision)
        clf.model.compile_for_throughput(clf.device)
        return clf


_WORKER: dict = {}     # per worker process: its classifier, set once by the initialiser


def _init_worker(spec: ModelSpec, threads: int) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)    # Ctrl-C is the driver's: it stops the pool
    set_threads(threads)
    clf = spec.load()
    _WORKER.update(classifier=clf, version=model_version(clf))


def _work(job: FileJob, plan: WindowPlan, top_k: int) -> TrackRecord:
    return analyse_track(_WORKER["classifier"], job, plan, top_k=top_k,
                         version=_WORKER["version"])


class LocalBackend:
    """Analyse files with ``workers`` processes (1 = in this process).

    Parameters
    ----------
    spec : ModelSpec
        The model every worker loads.
    plan : WindowPlan
    workers : int
    classifier : Classifier, optional
        The driver's already loaded model (used when ``workers == 1``).
    top_k : int
    """

    def __init__(self, spec: ModelSpec, plan: WindowPlan, *, workers: int = 1,
                 classifier=None, top_k: int = 5):
        self.spec, self.plan, self.workers, self.top_k = spec, plan, max(1, workers), top_k
        self.classifier = classifier
        self._pool: cf.ProcessPoolExecutor | None = None

    def run(self, jobs: Iterable[FileJob]) -> Iterator[TrackRecord]:
        if self.workers == 1:
            clf = self.classifier or self.spec.load()
            version = model_version(clf)
            for job in jobs:
                yield analyse_track(clf, job, self.plan, top_k=self.top_k, version=version)
            return
        self._pool = cf.ProcessPoolExecutor(
            self.workers, mp_context=multiprocessing.get_context("spawn"),
            initializer=_init_worker, initargs=(self.spec, 1))
        pending = iter(jobs)
        in_flight: set = set()
        try:
            while True:
                while len(in_flight) < 2 * self.workers:
                    job = next(pending, None)
                    if job is None:
                        break
                    in_flight.add(self._pool.submit(_work, job, self.plan, self.top_k))
                if not in_flight:
                    return
                done, in_flight = cf.wait(in_flight, return_when=cf.FIRST_COMPLETED)
                for fut in done:
                    try:
                        record = fut.result()
                    except cf.process.BrokenProcessPool as exc:
                        raise GenrescopeError(
                            "A worker process stopped (it could not load the model, or it was "
                            "killed; see above). The tracks analysed so far are saved: run the "
                            "same command again to continue.") from exc
                    yield record
        finally:
            self.close()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
