"""``genrescope serve``: one server with the web page at ``/`` and the REST API
under ``/api/v1`` (OpenAPI docs at ``/docs``).

Both are thin shells over :class:`~genrescope.Classifier` (the page is built in
:mod:`genrescope.page`): a :class:`ModelPool`
on ``app.state`` loads each model once and keeps it. Uploads go to a private
temporary folder per request and are removed afterwards (unless ``save_dir``).
Nothing contacts an outside host: analytics, share links, SSR, MCP and the
run history are off, and Gradio's fonts and scripts are served locally.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import logging
import os
import re
import shutil
import signal
import socket
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Literal

os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"   # before gradio is imported

import fastapi  # noqa: E402
from fastapi.exception_handlers import request_validation_exception_handler  # noqa: E402
from fastapi.exceptions import RequestValidationError  # noqa: E402
from fastapi.responses import JSONResponse  # noqa: E402
from pydantic import BaseModel, ConfigDict, Field, ValidationError  # noqa: E402
from python_multipart.exceptions import MultipartParseError  # noqa: E402
from python_multipart.multipart import MultipartParser, MultipartState  # noqa: E402
from python_multipart.multipart import parse_options_header  # noqa: E402
from starlette.concurrency import run_in_threadpool  # noqa: E402
from starlette.exceptions import HTTPException as StarletteHTTPException  # noqa: E402
from starlette.requests import ClientDisconnect  # noqa: E402

from . import __version__  # noqa: E402
from .audio import MAX_SECONDS  # noqa: E402
from .errors import GenrescopeError  # noqa: E402
from .labels import genre  # noqa: E402
from .models.registry import DEFAULT_MODEL, ModelEntry, find_models, models_dir  # noqa: E402
from .models.registry import resolve  # noqa: E402
from .predict import Classifier, Prediction  # noqa: E402
from .server.guard import RequestGuard  # noqa: E402

MAX_ANALYSES = 2          # simultaneous analyses (page and API together): bounds memory
MAX_FIELD_BYTES = 1000    # a form field other than the file
MAX_DURATION_S = 600.0    # default cap on the seconds one request may analyse
UPLOAD_IDLE_S = 30.0      # an upload that sends nothing for this long is dropped (408)
UPLOAD_GRACE_S = 30.0     # then it must keep an average of at least MIN_UPLOAD_RATE
MIN_UPLOAD_RATE = 16 * 1024   # bytes/s


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
        self._locks: dict[str, threading.Lock] = {}
        self._lock = threading.Lock()

    def entries(self) -> list[ModelEntry]:
        """Every known model (see :func:`~genrescope.models.registry.find_models`)."""
        return find_models(self.models_dir)

    def entry(self, name: str | None = None) -> ModelEntry:
        """The entry of ``name`` (default model when empty); 404 if unknown."""
        return resolve(name or self.default, self.models_dir)

    def loaded(self) -> list[str]:
        """Folders of the models loaded so far."""
        return list(self._loaded)

    def get(self, name: str | None = None) -> Classifier:
        """The loaded classifier of ``name``, loading it on first use."""
        entry = self.entry(name)
        if not entry.available:
            raise GenrescopeError(entry.reason, status=404)
        key = str(entry.path.resolve())
        with self._lock:
            if key in self._loaded:
                return self._loaded[key]
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:                                   # one load per model, others wait
            if key not in self._loaded:
                clf = Classifier.load(name or self.default, models_dir=self.models_dir,
                                      device=self.device, precision=self.precision)
                with self._lock:
                    self._loaded[key] = clf
            return self._loaded[key]


class Service:
    """What the page and the API share: the pool, the analysis limit, folders."""

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

    def analyse(self, path, model=None, *, offset_s=0.0, duration_s=30.0, top_k=5) -> Prediction:
        """Classify one file with the pooled model (blocking; at most MAX_ANALYSES at
        once; at most ``max_duration_s`` seconds of audio, else 422)."""
        clf = self.pool.get(model)
        with self._slots:
            return clf.classify(path, offset_s=offset_s, duration_s=duration_s or None,
                                top_k=top_k, max_duration_s=self.max_duration_s)

    def keep(self, path, ext: str, result: dict) -> None:
        """With ``save_dir``: keep a copy of the upload and its JSON result."""
        if self.save_dir is None:
            return
        self.save_dir.mkdir(parents=True, exist_ok=True)
        stem = self.save_dir / f"{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:8]}"
        shutil.copyfile(path, stem.with_suffix(ext or ".bin"))
        stem.with_suffix(".json").write_text(json.dumps(result, ensure_ascii=False, indent=2),
                                             encoding="utf-8")


class ClassifyOptions(BaseModel):
    """Form fields of ``POST /api/v1/classify`` besides ``file``."""

    model_config = ConfigDict(extra="forbid")
    model: str | None = Field(None, description="Model name (GET /api/v1/models); "
                              "default: the server's default model.")
    top_k: int = Field(5, ge=1, le=100, description="How many genres to return.")
    offset_s: float = Field(0.0, ge=0, le=MAX_SECONDS, allow_inf_nan=False,
                            description="Start of the analysed window, seconds.")
    duration_s: float = Field(30.0, ge=0, le=MAX_SECONDS, allow_inf_nan=False,
                              description="Seconds to analyse; 0 = whole file (the server "
                              "caps what one request may analyse: 422 above it).")
    lang: Literal["en", "zh"] = Field("en", description="Language of the genre names.")


def safe_extension(filename: str | None) -> str:
    """The lower-cased extension of a client's file name if it is a plain one
    (``.mp3``), else ``""``. The name itself is never used as a path."""
    ext = os.path.splitext(os.path.basename((filename or "").replace("\\", "/")))[1].lower()
    return ext if re.fullmatch(r"\.[a-z0-9]{1,8}", ext) else ""


class _MultipartUpload:
    """Stream a multipart body: the ``file`` part straight to ``folder``
    (counting bytes against ``limit``), the small fields to memory."""

    def __init__(self, folder: Path, limit: int, *, idle_s: float = UPLOAD_IDLE_S,
                 grace_s: float = UPLOAD_GRACE_S, min_rate: float = MIN_UPLOAD_RATE):
        self.folder, self.limit = folder, limit
        self.idle_s, self.grace_s, self.min_rate = idle_s, grace_s, min_rate
        self.fields: dict[str, str] = {}
        self.path: Path | None = None
        self.filename, self.ext, self.size = "", "", 0
        self._hname = self._hvalue = b""
        self._headers: dict[bytes, bytes] = {}
        self._name, self._buf, self._out = "", bytearray(), None

    async def receive(self, request: fastapi.Request) -> None:
        ctype, params = parse_options_header(request.headers.get("content-type", ""))
        if ctype != b"multipart/form-data" or b"boundary" not in params:
            raise GenrescopeError("Send the audio as multipart/form-data in a field named 'file'.")
        if int(request.headers.get("content-length") or 0) > self.limit + 1024 * 1024:
            raise self._too_large()
        parser = MultipartParser(params[b"boundary"], {
            "on_part_begin": self._part_begin, "on_header_field": self._header_field,
            "on_header_value": self._header_value, "on_header_end": self._header_end,
            "on_headers_finished": self._headers_finished, "on_part_data": self._part_data,
            "on_part_end": self._part_end})
        start, received = time.monotonic(), 0
        chunks = request.stream().__aiter__()
        try:
            while True:
                try:
                    chunk = await asyncio.wait_for(chunks.__anext__(), self.idle_s)
                except StopAsyncIteration:
                    break
                except asyncio.TimeoutError:
                    raise self._too_slow() from None
                received += len(chunk)
                if time.monotonic() - start > self.grace_s + received / self.min_rate:
                    raise self._too_slow()
                await run_in_threadpool(parser.write, chunk)    # file writes off the event loop
            parser.finalize()
            if parser.state != MultipartState.END:
                raise MultipartParseError("the closing boundary is missing: the body was cut")
        except MultipartParseError as exc:                      # a client's fault: 422, not 500
            raise GenrescopeError(f"The multipart/form-data body is malformed ({exc}): send "
                                  "the audio in a form field named 'file'.") from None
        finally:
            if self._out:
                self._out.close()
        if self.path is None:
            raise GenrescopeError("No audio: send the file in the form field 'file'.")

    @property
    def shown_name(self) -> str:
        """The client's file name, for messages only."""
        return os.path.basename(self.filename.replace("\\", "/")) or "the upload"

    def _too_slow(self) -> GenrescopeError:
        return GenrescopeError(f"The upload was too slow (nothing for {self.idle_s:g} s, or "
                               f"under {self.min_rate / 1024:g} KiB/s on average): send it "
                               "again over a faster connection.", status=408)

    def _too_large(self) -> GenrescopeError:
        return GenrescopeError(f"The upload is larger than the limit of "
                               f"{self.limit / 1024 / 1024:.3g} MB.", status=413)

    def _part_begin(self):
        self._headers, self._name, self._buf, self._out = {}, "", bytearray(), None

    def _header_field(self, data, start, end):
        self._hname += data[start:end]

    def _header_value(self, data, start, end):
        self._hvalue += data[start:end]

    def _header_end(self):
        self._headers[self._hname.lower()] = self._hvalue
        self._hname = self._hvalue = b""

    def _headers_finished(self):
        _, opts = parse_options_header(self._headers.get(b"content-disposition", b""))
        self._name = opts.get(b"name", b"").decode("utf-8", "replace")
        if b"filename" in opts:
            if self._name != "file" or self.path is not None:
                raise GenrescopeError("Send exactly one file, in the form field 'file'.")
            self.filename = opts[b"filename"].decode("utf-8", "replace")
            self.ext = safe_extension(self.filename)
            self.path = self.folder / f"upload{self.ext}"
            self._out = open(self.path, "wb")

    def _part_data(self, data, start, end):
        if self._out is not None:
            self.size += end - start
            if self.size > self.limit:
                raise self._too_large()
            self._out.write(data[start:end])
        else:
            self._buf += data[start:end]
            if len(self._buf) > MAX_FIELD_BYTES:
                raise GenrescopeError(f"Form field {self._name!r} is too long.")

    def _part_end(self):
        if self._out is not None:
            self._out.close()
            self._out = None
        else:
            self.fields[self._name] = self._buf.decode("utf-8", "replace")


def hide_path(exc: GenrescopeError, path, shown: str) -> GenrescopeError:
    """``exc`` with the server-side temporary ``path`` replaced by ``shown``."""
    text = str(exc).replace(os.fspath(path), shown) if path else str(exc)
    return GenrescopeError(text, status=exc.status)


def _options(fields: dict[str, str]) -> ClassifyOptions:
    try:
        return ClassifyOptions.model_validate({k: v for k, v in fields.items() if v != ""})
    except ValidationError as exc:
        raise GenrescopeError("; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'form'}: {e['msg']}" for e in exc.errors()))


def public_text(text: str, pool: ModelPool) -> str:
    """``text`` with the server's model folders shown as ``<models-dir>``: clients
    learn which file is missing, not where the server keeps its files."""
    folder = models_dir(pool.models_dir)
    for shown in (folder.resolve(), folder.absolute()):
        text = text.replace(os.fspath(shown), "<models-dir>")
    return text


def _entry_json(entry: ModelEntry, pool: ModelPool) -> dict:
    config = entry.config or {}
    names = config.get("label_names")
    out = {"name": entry.name, "source": entry.source, "available": entry.available,
           "default": entry.name == pool.default,
           "loaded": str(entry.path.resolve()) in pool.loaded(),
           "display_name": config.get("display_name", entry.name),
           "labels": [{"label": g.id, "name_en": g.en, "name_zh": g.zh}
                      for g in (genre(label, names) for label in config.get("labels") or [])]}
    if not entry.available:
        out["reason"] = public_text(entry.reason, pool)
    return out


_ERRORS = {s: {"description": d, "content": {"application/json": {"example": {"error": "..."}}}}
           for s, d in ((404, "Unknown model, or its weights are missing (the reason says "
                               "where to put them)"),
                        (413, "Upload over the size limit"),
                        (422, "Unreadable or empty audio, or a bad form value"))}
_FORM_SCHEMA = {"type": "object", "required": ["file"], "properties": {
    "file": {"type": "string", "format": "binary", "description": "The audio file."},
    **ClassifyOptions.model_json_schema()["properties"]}}


def _api(app: fastapi.FastAPI, service: Service) -> None:
    """Add the REST API routes and its JSON error handlers to ``app``."""

    @app.exception_handler(GenrescopeError)
    async def _user_error(request, exc: GenrescopeError):
        return JSONResponse({"error": public_text(str(exc), service.pool)},
                            status_code=exc.status)

    @app.exception_handler(Exception)
    async def _bug(request, exc: Exception):
        return JSONResponse({"error": f"Internal error ({type(exc).__name__}): please report "
                                      "it with the server's log."}, 500)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request, exc: StarletteHTTPException):
        return JSONResponse({"error": str(exc.detail)}, exc.status_code, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _bad_request(request, exc: RequestValidationError):
        if not request.url.path.startswith("/api/"):
            return await request_validation_exception_handler(request, exc)
        return JSONResponse({"error": "; ".join(
            f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())}, 422)

    @app.get("/healthz", tags=["service"])
    async def healthz() -> dict:
        """Liveness: answers at once, even while analyses run."""
        return {"status": "ok", "version": __version__, "loaded_models": len(service.pool.loaded())}

    @app.get("/api/v1/models", tags=["api"])
    async def models() -> list[dict]:
        """Every known model: ``name``, ``labels``, ``available`` (and ``reason`` if not)."""
        entries = await run_in_threadpool(service.pool.entries)
        return [_entry_json(e, service.pool) for e in entries]

    @app.post("/api/v1/classify", tags=["api"], responses=_ERRORS, openapi_extra={
        "requestBody": {"required": True, "content": {"multipart/form-data": {
            "schema": _FORM_SCHEMA}}}})
    async def classify(request: fastapi.Request) -> dict:
        """Top genres of one uploaded audio file (multipart field ``file``)."""
        folder = Path(tempfile.mkdtemp(prefix="genrescope-upload-", dir=service.tmp_dir))
        upload = _MultipartUpload(folder, service.max_upload_bytes, idle_s=service.upload_idle_s,
                                  grace_s=service.upload_grace_s,
                                  min_rate=service.min_upload_rate)
        try:
            try:
                await upload.receive(request)
            except ClientDisconnect:                  # nobody to answer: no traceback either
                return fastapi.Response(status_code=400)
            opts = _options(upload.fields)
            if opts.model not in (None, service.pool.default) and opts.model not in {
                    e.name for e in await run_in_threadpool(service.pool.entries)}:
                # a name only: a server path would let clients probe and load from its disk
                raise GenrescopeError(f"Unknown model {opts.model!r}: use a name from "
                                      "GET /api/v1/models.", status=404)
            if upload.size == 0:
                raise GenrescopeError("The uploaded file is empty (0 bytes): it holds no audio.")
            if await request.is_disconnected():       # the client left: do not analyse
                return fastapi.Response(status_code=400)
            pred = await run_in_threadpool(
                service.analyse, upload.path, opts.model, offset_s=opts.offset_s,
                duration_s=opts.duration_s, top_k=opts.top_k)
            result = pred.to_dict(opts.lang) | {"file": upload.shown_name}
            await run_in_threadpool(service.keep, upload.path, upload.ext, result)
            return result
        except GenrescopeError as exc:
            raise hide_path(exc, upload.path, upload.shown_name) from None
        finally:
            await run_in_threadpool(shutil.rmtree, folder, True)


_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


def _api_fallback(app: fastapi.FastAPI) -> None:
    """Last API route: 405 (with ``Allow``) for a known path asked with another
    method, 404 for an unknown path, both as ``{"error": ...}`` (without it the
    page mounted at ``/`` would answer them in its own shape)."""
    from starlette.routing import Match

    @app.api_route("/healthz", methods=[m for m in _METHODS if m not in ("GET", "HEAD")],
                   include_in_schema=False)
    @app.api_route("/api/{rest:path}", methods=_METHODS, include_in_schema=False)
    async def _not_here(request: fastapi.Request):
        allowed = sorted({m for r in app.router.routes
                          if isinstance(r, fastapi.routing.APIRoute) and r.endpoint is not _not_here
                          and r.matches(request.scope)[0] is Match.PARTIAL
                          for m in r.methods})
        if allowed:
            return JSONResponse({"error": f"Method {request.method} is not allowed here: use "
                                          f"{', '.join(allowed)}."}, 405,
                                headers={"Allow": ", ".join(allowed)})
        return JSONResponse({"error": f"No API route {request.url.path}: see /docs."}, 404)


def create_app(models_dir=None, model=None, examples_dir=None, max_upload_mb=100,
               save_dir=None, device=None, *, tmp_dir=None, precision: str = "auto",
               max_duration_s: float = MAX_DURATION_S, hosts=(), db=None) -> fastapi.FastAPI:
    """Build the server: the Gradio page at ``/``, the API under ``/api/v1``.

    Parameters
    ----------
    models_dir : str or PathLike, optional
        Official checkpoints and user bundles (default ``$GENRESCOPE_MODELS``
        or ``./models``).
    model : str, optional
        Default model of the API and the page (default ``DEFAULT_MODEL``).
    examples_dir : str or PathLike, optional
        Folder of example clips; default: demo clips synthesised at start-up.
    max_upload_mb : float
        Largest upload the API accepts (413 above).
    save_dir : str or PathLike, optional
        Keep every upload and its JSON result here; default: nothing is kept.
    device : {"cpu", "cuda"}, optional
        Where the networks run (default: CUDA when available).
    tmp_dir : str or PathLike, optional
        Parent of the per-request upload folders (default: the system's).
    precision : {"auto", "fp32", "int8"}
        Network precision of the pooled models (see :meth:`Classifier.load`).
    max_duration_s : float
        Most seconds of audio one request (API or page) may analyse (422 above).
    hosts : iterable of str
        Host names accepted in the ``Host`` header besides IP literals and
        ``localhost`` (see :mod:`genrescope.server.guard`).
    db : str or PathLike, optional
        A library database (``genrescope index``): adds the ``/api/v1/library``
        routes and ``app.state.library`` (see :mod:`genrescope.library.api`).

    Returns
    -------
    fastapi.FastAPI
        ``app.state.service`` is the :class:`Service`, ``app.state.pool`` its
        :class:`ModelPool`.
    """
    import gradio as gr

    from fastapi_offline import FastAPIOffline

    pool = ModelPool(models_dir, device, model, precision=precision)
    service = Service(pool, max_upload_mb=max_upload_mb, save_dir=save_dir, tmp_dir=tmp_dir,
                      max_duration_s=max_duration_s)
    from .page import build_page, examples as page_examples

    examples = page_examples(service, examples_dir)

    @contextlib.asynccontextmanager
    async def lifespan(app):
        yield
        service.private.cleanup()

    # /docs and /redoc with Swagger UI and ReDoc served from the installed package
    app = FastAPIOffline(title="genrescope", version=__version__, lifespan=lifespan,
                         description="Offline music-genre classifier. See docs/api.md.")
    app.state.service, app.state.pool = service, pool
    _api(app, service)
    from .explain_api import explain_router
    from .library.api import include_library

    include_library(app, db, models_dir)
    app.include_router(explain_router(service, _MultipartUpload, hide_path))
    _api_fallback(app)
    blocks = build_page(service, examples)
    allowed = [str(Path(p).parent) for p in examples]
    app = gr.mount_gradio_app(
        app, blocks, path="/", footer_links=["api"], run_history=False, ssr_mode=False,
        mcp_server=False, pwa=False, allowed_paths=sorted(set(allowed)),
        max_file_size=service.max_upload_bytes, show_error=True)
    # mount_gradio_app() does not mark the page launched, and Gradio checks that
    # an input file was uploaded by the client only once it is (issue 17)
    blocks.has_launched = True
    app.add_middleware(RequestGuard, hosts=hosts)
    return app


def is_loopback(host: str) -> bool:
    """Whether ``host`` is reachable from this machine only."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def serve(host: str = "127.0.0.1", port: int = 7860, models_dir=None, model=None,
          examples_dir=None, max_upload_mb: float = 100, save_dir=None, device=None, *,
          precision: str = "auto", max_duration_s: float = MAX_DURATION_S,
          allow_hosts=(), db=None) -> None:
    """Run the page and API with uvicorn until interrupted (see :func:`create_app`).

    ``Host`` headers accepted: IP literals, ``localhost``, ``host`` when it is a
    name, this machine's names when ``host`` is a wildcard, and ``allow_hosts``.

    Raises
    ------
    GenrescopeError
        The port is taken, or ``examples_dir`` does not exist.
    """
    import uvicorn

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family) as probe:
        try:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((host, port))
        except OSError as exc:
            raise GenrescopeError(f"Cannot listen on {host}:{port} ({exc.strerror}): "
                                  "pick another port with --port.") from exc
    with tempfile.TemporaryDirectory(prefix="genrescope-gradio-") as cache:
        os.environ.setdefault("GRADIO_TEMP_DIR", cache)   # the page's uploads: removed at exit
        app = create_app(models_dir, model, examples_dir, max_upload_mb, save_dir, device,
                         precision=precision, max_duration_s=max_duration_s,
                         hosts=bound_names(host, allow_hosts), db=db)
        try:
            name = app.state.pool.entry().name
            print(f"genrescope: loading model {name} ...", flush=True)
            app.state.pool.get().warm_up()          # the first answer as fast as later ones
        except GenrescopeError as exc:
            print(f"genrescope: warning: the default model cannot be used yet: {exc}", flush=True)
        shown = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host   # a wildcard address
        base = f"http://{f'[{shown}]' if ':' in shown else shown}:{port}"
        print(f"genrescope: page {base}/  API {base}/api/v1  docs {base}/docs", flush=True)
        if not is_loopback(host):
            print(f"genrescope: NOTE: listening on {host}: the page and the API are reachable "
                  "from other machines on the network. Use --host 127.0.0.1 to keep them "
                  "on this computer.", flush=True)
        # Open pages keep a stream open; stop waiting for them 3 s after Ctrl+C, quietly.
        config = uvicorn.Config(app, host=host, port=port, log_level="warning",
                                timeout_graceful_shutdown=3, timeout_keep_alive=5,
                                limit_concurrency=64)
        logging.getLogger("uvicorn.error").addFilter(_quiet_shutdown)
        main = threading.current_thread() is threading.main_thread()
        previous = signal.signal(signal.SIGTERM, _terminated) if main else None
        try:                       # uvicorn re-raises SIGTERM after shutdown: clean up first
            uvicorn.Server(config).run()
        finally:
            if previous is not None:
                signal.signal(signal.SIGTERM, previous)


def bound_names(host: str, extra=()) -> list[str]:
    """Host names the server answers to (IP literals and ``localhost`` always)."""
    names = [host, *extra]
    if host in ("0.0.0.0", "::", ""):                 # every interface: this machine's names
        names += [socket.gethostname(), socket.getfqdn()]
    return [n for n in names if n]


def _terminated(signum, frame):
    raise SystemExit(128 + signum)


def _quiet_shutdown(record: logging.LogRecord) -> bool:
    """Drop the tracebacks of page streams cancelled at shutdown."""
    exc = record.exc_info[1] if record.exc_info else None
    return not (isinstance(exc, asyncio.CancelledError)
                or "graceful shutdown exceeded" in record.getMessage())
