"""What the page and the API share: the model pool and the analysis service.

:class:`ModelPool` loads each model once (on first use) and keeps it; its
list of known models is cached and read again only when the models folder
changes. :class:`Service` runs analyses through the pool with the server's
limits (two at a time, at most ``max_duration_s`` seconds of audio each) and
keeps uploads when ``save_dir`` is set.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
import threading
import time
import uuid
from pathlib import Path

from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect

from ..audio import decode_limit
from ..errors import GenrescopeError
from ..files import write_text_atomically
from ..models.registry import DEFAULT_MODEL, ModelEntry, find_models, models_dir, resolve
from ..predict import Classifier, Prediction
from .uploads import MIN_UPLOAD_RATE, UPLOAD_GRACE_S, UPLOAD_IDLE_S, MultipartUpload

MAX_ANALYSES = 2          # simultaneous analyses (page and API together): bounds memory
MAX_DURATION_S = 600.0    # default cap on the seconds one request may analyse


class ModelPool:
    """Models by name, each loaded once on first use and kept.

    Parameters
    ----------
    models_dir : str or PathLike, optional
        Where official checkpoints and user bundles are looked for.
    device : str, optional
        Where the networks run (default: CUDA when available).
    default : str, optional
        The model used when a request names none (default ``DEFAULT_MODEL``).
    precision : {"auto", "fp32", "int8"}
        Network precision of the models loaded (see :meth:`Classifier.load`).
    """

    def __init__(self, models_dir=None, device: str | None = None, default: str | None = None,
                 precision: str = "auto"):
        self.models_dir, self.device, self.precision = models_dir, device, precision
        self.default = os.fspath(default) if default else DEFAULT_MODEL
        self._loaded: dict[str, Classifier] = {}
        self._preparing: set[str] = set()
        self._locks: dict[str, threading.Lock] = {}
        self._lock = threading.Lock()
        self._entries: tuple[tuple, list[ModelEntry]] | None = None

    def _folder_state(self) -> tuple:
        """What changes when a model is added or removed: the modification
        times of the models folder and of each folder in it."""
        root = models_dir(self.models_dir)
        try:
            with os.scandir(root) as it:
                subs = sorted((e.name, e.stat().st_mtime_ns) for e in it if e.is_dir())
            return (root.stat().st_mtime_ns, tuple(subs))
        except OSError:
            return ()

    def entries(self) -> list[ModelEntry]:
        """Every known model (see :func:`~genrescope.models.registry.find_models`),
        cached until the models folder changes."""
        state = self._folder_state()
        cached = self._entries
        if cached is None or cached[0] != state:
            cached = self._entries = (state, find_models(self.models_dir))
        return list(cached[1])

    def names(self) -> set[str]:
        """Names of every known model."""
        return {e.name for e in self.entries()}

    def check_name(self, name: str | None) -> None:
        """Refuse (404) a model a client names that is not one of :meth:`names`:
        a name only, since a server path would let clients probe and load from
        the server's disk."""
        if name not in (None, self.default) and name not in self.names():
            raise GenrescopeError(f"Unknown model {name!r}: use a name from "
                                  "GET /api/v1/models.", status=404)

    def entry(self, name: str | None = None) -> ModelEntry:
        """The entry of ``name`` (default model when empty); 404 if unknown."""
        name = name or self.default
        found = next((e for e in self.entries() if e.name == name), None)
        return found if found is not None else resolve(name, self.models_dir)

    def loaded(self) -> list[str]:
        """Folders of the models loaded so far."""
        return list(self._loaded)

    @staticmethod
    def key(entry: ModelEntry) -> str:
        """How the pool names a model: its folder, resolved."""
        return str(entry.path.resolve())

    def is_loaded(self, entry: ModelEntry) -> bool:
        """Whether ``entry``'s model is loaded (its first analysis will not wait)."""
        return self.key(entry) in self._loaded

    def is_preparing(self, entry: ModelEntry) -> bool:
        """Whether ``entry``'s model is being loaded right now."""
        with self._lock:
            return self.key(entry) in self._preparing

    def preparing(self) -> list[str]:
        """Folders of the models being loaded right now (a first request waits)."""
        with self._lock:
            return sorted(self._preparing)

    def get(self, name: str | None = None) -> Classifier:
        """The loaded classifier of ``name``, loading it on first use."""
        entry = self.entry(name)
        if not entry.available:
            raise GenrescopeError(entry.reason, status=404)
        key = self.key(entry)
        with self._lock:
            if key in self._loaded:
                return self._loaded[key]
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:                                   # one load per model, others wait
            if key not in self._loaded:
                with self._lock:
                    self._preparing.add(key)
                try:
                    clf = Classifier.load(name or self.default, models_dir=self.models_dir,
                                          device=self.device, precision=self.precision)
                finally:
                    with self._lock:
                        self._preparing.discard(key)
                with self._lock:
                    self._loaded[key] = clf
            return self._loaded[key]

    def public_text(self, text: str) -> str:
        """``text`` with the server's models folder shown as ``<models-dir>``:
        clients learn which file is missing, not where the server keeps files."""
        folder = models_dir(self.models_dir)
        for shown in (folder.resolve(), folder.absolute()):
            text = text.replace(os.fspath(shown), "<models-dir>")
        return text


class Service:
    """The pool, the analysis limits and the folders of one server.

    Parameters
    ----------
    pool : ModelPool
    max_upload_mb : float
        Largest upload accepted (413 above).
    save_dir : str or PathLike, optional
        Keep every upload and its JSON result here.
    tmp_dir : str or PathLike, optional
        Parent of the per-request upload folders (default: the system's).
    max_duration_s : float
        Most seconds of audio one analysis may cover (422 above).
    """

    def __init__(self, pool: ModelPool, *, max_upload_mb: float, save_dir=None, tmp_dir=None,
                 max_duration_s: float = MAX_DURATION_S):
        self.pool = pool
        self.max_upload_bytes = int(max_upload_mb * 1024 * 1024)
        self.max_duration_s = float(max_duration_s)
        self.upload_idle_s, self.upload_grace_s = UPLOAD_IDLE_S, UPLOAD_GRACE_S
        self.min_upload_rate = MIN_UPLOAD_RATE
        self.save_dir = Path(save_dir).expanduser() if save_dir else None
        self.tmp_dir = os.fspath(tmp_dir) if tmp_dir else None
        # demo clips; removed at shutdown (or at exit by its finaliser)
        self.private = tempfile.TemporaryDirectory(prefix="genrescope-web-")
        self._slots = threading.BoundedSemaphore(MAX_ANALYSES)

    @contextlib.asynccontextmanager
    async def upload(self, request, prefix: str = "genrescope-upload-"):
        """The request's audio upload (:class:`~genrescope.server.uploads.MultipartUpload`),
        received into a private temporary folder that is removed afterwards;
        ``None`` when the client left while sending. A user error raised in the
        block names the client's file, never the server-side path."""
        folder = Path(tempfile.mkdtemp(prefix=prefix, dir=self.tmp_dir))
        upload = MultipartUpload(folder, self.max_upload_bytes, idle_s=self.upload_idle_s,
                                 grace_s=self.upload_grace_s, min_rate=self.min_upload_rate)
        try:
            try:
                await upload.receive(request)
            except ClientDisconnect:                  # nobody to answer: no traceback either
                yield None
                return
            yield upload
        except GenrescopeError as exc:
            raise hide_path(exc, upload.path, upload.shown_name) from None
        finally:
            await run_in_threadpool(shutil.rmtree, folder, True)

    @contextlib.contextmanager
    def slot(self):
        """Hold one of the :data:`MAX_ANALYSES` analysis slots (waits for one):
        for analyses that do not go through :meth:`analyse`. Whatever decodes
        in the block counts against ``max_duration_s`` seconds in all, as it
        decodes (:func:`~genrescope.audio.decode_limit`: a header that lies
        about its length changes nothing)."""
        with self._slots, decode_limit(self.max_duration_s):
            yield

    def analyse(self, path, model=None, *, offset_s=0.0, duration_s=30.0, top_k=5) -> Prediction:
        """Classify one file with the pooled model (blocking; at most MAX_ANALYSES at
        once; at most ``max_duration_s`` seconds of audio, else 422)."""
        clf = self.pool.get(model)
        with self.slot():
            return clf.classify(path, offset_s=offset_s, duration_s=duration_s,
                                top_k=top_k, max_duration_s=self.max_duration_s)

    def keep(self, path, ext: str, result: dict) -> None:
        """With ``save_dir``: keep a copy of the upload and its JSON result."""
        if self.save_dir is None:
            return
        self.save_dir.mkdir(parents=True, exist_ok=True)
        stem = self.save_dir / f"{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:8]}"
        shutil.copyfile(path, stem.with_suffix(ext or ".bin"))
        write_text_atomically(stem.with_suffix(".json"),
                              json.dumps(result, ensure_ascii=False, indent=2))


def hide_path(exc: GenrescopeError, path, shown: str) -> GenrescopeError:
    """``exc`` with the server-side temporary ``path`` replaced by ``shown``."""
    text = str(exc).replace(os.fspath(path), shown) if path else str(exc)
    return GenrescopeError(text, status=exc.status)
