"""Analysis on a Ray cluster: a pool of actors that each load the model once.

Each actor is a process holding one loaded :class:`~genrescope.Classifier`
(one CPU and one torch thread, or ``gpus`` GPUs per actor) and calls
:func:`~genrescope.library.analyse.analyse_track`, the same function the
local backend calls: decoding, features and the network run in the actor, so
there is no second copy of the pipeline. The driver submits at most
``2 * workers`` tracks at a time and yields each record as it comes back; the
index driver stays the only writer of the database.

Files are opened by path on the worker (a path every node mounts), or, with
``ship_bytes=True``, read by the driver and sent through Ray's object store.

A worker that dies mid-track (killed, out of memory, node lost) is restarted
by Ray (``max_restarts=-1``) and its tracks are submitted again, at most
:data:`MAX_ATTEMPTS` times per track; a track that kills its worker every time
is recorded as failed with that reason, and the run goes on. Each track is
yielded exactly once.

Importing this module imports Ray: only ``--backend ray`` does it.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import replace

import ray
from ray.exceptions import (ActorUnavailableError, GetTimeoutError, RayActorError,
                            WorkerCrashedError)

from ...errors import GenrescopeError
from ..analyse import WindowPlan, analyse_track, model_version, set_threads
from ..record import FileJob, TrackRecord
from .local import ModelSpec

MAX_ATTEMPTS = 3            # tries per track before it is recorded as failed
IN_FLIGHT_PER_WORKER = 2    # tracks queued per actor: one running, one waiting
READY_TIMEOUT_S = 600.0     # model load on every actor (and an autoscaler adding nodes)
RESTART_POLL_S = 0.5        # between asking a restarting actor whether it is back


class TrackAnalyser:
    """One Ray actor: loads the model once, then analyses tracks.

    Parameters
    ----------
    spec : ModelSpec
        The model to load (``device="cuda"`` on GPU actors).
    plan : WindowPlan
    top_k : int
    threads : int
        torch threads in this process.
    """

    def __init__(self, spec: ModelSpec, plan: WindowPlan, top_k: int, threads: int):
        set_threads(threads)
        self.classifier = spec.load()
        self.version = model_version(self.classifier)
        self.plan, self.top_k = plan, top_k

    def ready(self) -> tuple[int, str]:
        """This process's id and the loaded model's version."""
        return os.getpid(), self.version

    def analyse(self, job: FileJob, data: bytes | None = None) -> TrackRecord:
        """Analyse ``job`` from its path, or from ``data`` (the file's bytes)."""
        if data is None:
            return analyse_track(self.classifier, job, self.plan, top_k=self.top_k,
                                 version=self.version)
        return self._analyse_bytes(job, data)

    def _analyse_bytes(self, job: FileJob, data: bytes) -> TrackRecord:
        shm = "/dev/shm" if os.path.isdir("/dev/shm") else None
        with tempfile.TemporaryDirectory(prefix="genrescope-", dir=shm) as folder:
            local = os.path.join(folder, os.path.basename(job.path))
            with open(local, "wb") as f:
                f.write(data)
            rec = analyse_track(self.classifier, replace(job, path=local), self.plan,
                                top_k=self.top_k, version=self.version)
        rec.path = job.path
        if rec.error:
            rec.error = rec.error.replace(local, job.path)
        return rec


class RayBackend:
    """Analyse files on a pool of ``workers`` Ray actors.

    Parameters
    ----------
    spec : ModelSpec
        The model every actor loads.
    plan : WindowPlan
    workers : int
        Actors (one CPU each).
    classifier : Classifier, optional
        The driver's model: every actor must report the same model version.
    address : str, optional
        Ray cluster to join (``auto``, ``ray://host:10001``); default: the Ray
        already initialised in this process, ``RAY_ADDRESS``, or a new local one.
    gpus : float
        GPUs per actor (0: CPU actors; 1, 0.5, ...: GPU actors, model on cuda).
    ship_bytes : bool
        Send each file's bytes from the driver instead of opening it on the worker.
    top_k : int

    Attributes
    ----------
    retries : int
        Track submissions repeated because a worker died.
    startup_s : float
        Seconds from :meth:`run` to every actor holding its model.
    """

    def __init__(self, spec: ModelSpec, plan: WindowPlan, *, workers: int = 1,
                 classifier=None, address: str | None = None, gpus: float = 0.0,
                 ship_bytes: bool = False, top_k: int = 5):
        if gpus < 0:
            raise GenrescopeError("--gpus must be 0 or more (GPUs per worker).")
        self.spec, self.plan, self.workers, self.top_k = spec, plan, max(1, workers), top_k
        self.classifier, self.address = classifier, address
        self.gpus, self.ship_bytes = float(gpus), ship_bytes
        self.retries, self.startup_s = 0, 0.0
        self._actors: list = []
        self._pids: list[int] = []
        self._load: list[int] = []
        self._live: list[int] = []          # actors not dead for good
        self._down: dict = {}               # ready() ref -> actor index, while restarting
        self._owns_ray = False

    # -- life cycle ---------------------------------------------------------------
    def start(self) -> None:
        """Join or start Ray and wait until every actor holds the model."""
        t0 = time.perf_counter()
        if not ray.is_initialized():
            try:
                ray.init(address=self.address, include_dashboard=False, log_to_driver=False)
            except (ConnectionError, ValueError, RuntimeError) as exc:
                raise GenrescopeError(f"Could not reach the Ray cluster at {self.address!r}: "
                                      f"{exc}. Check --address (auto, ray://HOST:10001) or "
                                      "leave it out to start Ray on this machine.") from exc
            self._owns_ray = True
        have = ray.cluster_resources()
        started_here = self._owns_ray and not (self.address or os.environ.get("RAY_ADDRESS"))
        if started_here and have.get("CPU", 0) < self.workers:
            raise GenrescopeError(f"--workers {self.workers}: the Ray started on this machine "
                                  f"has {have.get('CPU', 0):g} CPUs; use at most that many "
                                  "workers, or --address to join a cluster.")
        if self.gpus and have.get("GPU", 0) == 0:
            raise GenrescopeError("--gpus asks for GPU workers but the Ray cluster has no GPU: "
                                  "leave --gpus out, or add GPU nodes.")
        spec = self.spec
        if self.gpus and spec.device is None:
            spec = replace(spec, device="cuda")
        actor = ray.remote(TrackAnalyser).options(
            num_cpus=1, num_gpus=self.gpus, max_restarts=-1, max_task_retries=0)
        self._actors = [actor.remote(spec, self.plan, self.top_k, 1)
                        for _ in range(self.workers)]
        self._load = [0] * self.workers
        try:
            ready = ray.get([a.ready.remote() for a in self._actors], timeout=READY_TIMEOUT_S)
        except GetTimeoutError as exc:
            raise GenrescopeError(
                f"{self.workers} Ray workers did not start within {READY_TIMEOUT_S:.0f} s: the "
                f"cluster has {have.get('CPU', 0):g} CPUs and {have.get('GPU', 0):g} GPUs; each "
                f"worker needs 1 CPU{f' and {self.gpus:g} GPU' if self.gpus else ''}. "
                "Lower --workers or add nodes.") from exc
        except RayActorError as exc:
            raise GenrescopeError(f"The Ray workers could not load the model: {exc}. Every "
                                  "node needs genrescope and the model installed.") from exc
        self._pids = [pid for pid, _ in ready]
        self._live, self._down = list(range(self.workers)), {}
        if self.classifier is not None:
            expected = model_version(self.classifier)
            other = {v for _, v in ready} - {expected}
            if other:
                raise GenrescopeError(f"Ray workers loaded model {sorted(other)[0]}, the driver "
                                      f"{expected}: install the same model on every node.")
        self.startup_s = time.perf_counter() - t0

    def close(self) -> None:
        """Stop the actors (and Ray, when this backend started it)."""
        for a in self._actors:
            ray.kill(a, no_restart=True)
        self._actors, self._load, self._live, self._down = [], [], [], {}
        if self._owns_ray:
            ray.shutdown()
            self._owns_ray = False

    def workers_in_flight(self) -> list[tuple[int, int]]:
        """``(process id, tracks in flight)`` per live actor, as last seen by the driver."""
        return [(self._pids[i], self._load[i]) for i in self._live]

    def worker_pids(self) -> list[int]:
        """The live actors' process ids, once each is up (a restarted actor has a new one)."""
        deadline = time.monotonic() + READY_TIMEOUT_S
        pids = []
        for i in self._live:
            while True:
                try:
                    pids.append(ray.get(self._actors[i].ready.remote())[0])
                    break
                except ActorUnavailableError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(RESTART_POLL_S)
        return pids

    # -- the run ------------------------------------------------------------------
    def run(self, jobs: Iterable[FileJob]) -> Iterator[TrackRecord]:
        """Yield one record per job, in completion order."""
        if not self._actors:
            self.start()
        pending, retry, exhausted = iter(jobs), deque(), False
        in_flight: dict = {}        # ObjectRef -> (job, attempt, actor index)
        while True:
            up = [i for i in self._live if i not in self._down.values()]
            while up and len(in_flight) < IN_FLIGHT_PER_WORKER * len(up) and \
                    (retry or not exhausted):
                if retry:
                    job, attempt = retry.popleft()
                else:
                    job, attempt = next(pending, None), 1
                    if job is None:
                        exhausted = True
                        break
                unreadable = self._submit(job, attempt, in_flight, up)
                if unreadable is not None:
                    yield unreadable
            if exhausted and not retry and not in_flight:
                return
            done, _ = ray.wait(list(in_flight) + list(self._down), num_returns=1)
            for ref in done:
                if ref in self._down:
                    self._check_back(ref)
                    continue
                job, attempt, i = in_flight.pop(ref)
                self._load[i] -= 1
                try:
                    yield ray.get(ref)
                except (RayActorError, WorkerCrashedError) as exc:
                    self.retries += 1
                    self._mark_down(i)
                    if attempt < MAX_ATTEMPTS:
                        retry.append((job, attempt + 1))
                    else:
                        yield TrackRecord.failed(
                            job, f"the worker analysing it died {attempt} times "
                            f"({type(exc).__name__}); it may crash the decoder or exhaust "
                            "memory: try it alone with `genrescope classify`")

    def _submit(self, job: FileJob, attempt: int, in_flight: dict,
                up: list[int]) -> TrackRecord | None:
        """Send ``job`` to the least busy live actor; a record when the driver cannot read it."""
        data = None
        if self.ship_bytes:
            try:
                with open(job.path, "rb") as f:
                    data = f.read()
            except OSError as exc:
                return TrackRecord.failed(job, f"Cannot read {job.path}: {exc.strerror}.")
        i = min(up, key=self._load.__getitem__)
        in_flight[self._actors[i].analyse.remote(job, data)] = (job, attempt, i)
        self._load[i] += 1
        return None

    def _mark_down(self, i: int) -> None:
        """Stop sending to actor ``i`` until it answers again (Ray is restarting it)."""
        if i not in self._down.values():
            self._down[self._actors[i].ready.remote()] = i

    def _check_back(self, ref) -> None:
        """A restarting actor answered: back in the pool, still restarting, or gone."""
        i = self._down.pop(ref)
        try:
            self._pids[i] = ray.get(ref)[0]
        except ActorUnavailableError:
            time.sleep(RESTART_POLL_S)
            self._mark_down(i)
        except RayActorError as exc:           # dead for good: its restart failed
            self._live.remove(i)
            if not self._live:
                raise GenrescopeError(f"Every Ray worker died and could not be restarted "
                                      f"({exc}); see the Ray logs on the cluster.") from exc
