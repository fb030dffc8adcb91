"""The app factory and ``genrescope serve``: the one place where the parts of
the server are put together.

:func:`create_app` builds the service (:mod:`.service`), adds the REST API
(:mod:`.api`), the routers of other modules (library, explanation), the
last-resort API route, the Gradio page (:mod:`.page`) at ``/`` and
the request guard (:mod:`.guard`). :func:`serve` runs it with uvicorn.
Nothing contacts an outside host: analytics, share links, SSR, MCP and the
run history are off; Gradio's fonts and scripts, Swagger UI and ReDoc are
served by the server itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import ipaddress
import logging
import os
import signal
import socket
import sys
import tempfile
import threading
from pathlib import Path

import fastapi

from .. import __version__
from ..errors import GenrescopeError
from .api import add_error_handlers, add_fallback, api_router
from .guard import RequestGuard
from .paths import CACHE_TOKEN, HideFolders
from .routes import RouteAllowList
from .service import MAX_DURATION_S, ModelPool, Service


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
        Folder of example clips; default: the shipped ones (genrescope/assets/examples).
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
        routes and ``app.state.library`` (see :mod:`.library`).

    Returns
    -------
    fastapi.FastAPI
        ``app.state.service`` is the :class:`Service`, ``app.state.pool`` its
        :class:`ModelPool`.
    """
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")   # before gradio is imported
    import gradio as gr
    from fastapi_offline import FastAPIOffline
    from gradio.utils import get_upload_folder

    from ..library import Library
    from .docs import serve_redoc
    from .explain import explain_router
    from .library import library_router
    from .page import PAGE_CSS, PAGE_HEAD, build_page, examples as page_examples

    pool = ModelPool(models_dir, device, model, precision=precision)
    service = Service(pool, max_upload_mb=max_upload_mb, save_dir=save_dir, tmp_dir=tmp_dir,
                      max_duration_s=max_duration_s)
    examples = page_examples(service, examples_dir)

    @contextlib.asynccontextmanager
    async def lifespan(app):
        yield
        service.private.cleanup()

    # /docs and /redoc with Swagger UI and ReDoc served from the installed package
    app = FastAPIOffline(title="genrescope", version=__version__, lifespan=lifespan,
                         description="Offline music-genre classifier. See docs/api.md.")
    app.state.service, app.state.pool = service, pool
    serve_redoc(app)                                  # ReDoc without its CDN logo
    app.state.library = library = None if db is None else Library(db, models_dir=models_dir)
    hidden = {} if library is None else {os.fspath(library.db): "<library>",
                                         os.path.abspath(library.db): "<library>"}
    add_error_handlers(app, pool, hidden)
    app.include_router(api_router(service))
    if library is not None:
        app.include_router(library_router(library, service))
    app.include_router(explain_router(service))
    add_fallback(app)                                 # after every other API route
    blocks = build_page(service, examples, library=library)
    allowed = [str(Path(p).parent) for p in examples]
    app = gr.mount_gradio_app(
        app, blocks, path="/", footer_links=["api"], run_history=False, ssr_mode=False,
        mcp_server=False, pwa=False, allowed_paths=sorted(set(allowed)), css=PAGE_CSS,
        head=PAGE_HEAD,
        max_file_size=service.max_upload_bytes, show_error=True)
    # mount_gradio_app() does not mark the page launched, and Gradio checks that
    # an input file was uploaded by the client only once it is (issue 17)
    blocks.has_launched = True
    # the page's answers name no server folder: Gradio's upload folder as a token
    app.add_middleware(HideFolders, folders=lambda: {get_upload_folder(): CACHE_TOKEN})
    # only the routes the page and the API need (genrescope/server/routes.py), with
    # the page's bodies bounded as the API's uploads; inside the guard
    app.add_middleware(RouteAllowList, max_upload_bytes=service.max_upload_bytes,
                       fn_ids=lambda: set(blocks.fns))
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


def bound_names(host: str, extra=()) -> list[str]:
    """Host names the server answers to (IP literals and ``localhost`` always)."""
    names = [host, *extra]
    if host in ("0.0.0.0", "::", ""):                 # every interface: this machine's names
        names += [socket.gethostname(), socket.getfqdn()]
    return [n for n in names if n]


M_ARENA_MAX = -8                  # glibc's mallopt parameter (malloc.h)


def limit_malloc_arenas(n: int = 2) -> bool:
    """Cap glibc's malloc arenas of this process at ``n``, as
    ``MALLOC_ARENA_MAX=n`` would (a value the user set is left alone).

    Each of the server's many request threads otherwise gets an arena of its
    own, and the networks' freed 10-70 MB activations stay spread over them:
    under 16 clients the server grew from 0.8 to 1.15 GB before levelling
    off; with 2 arenas it stays near 0.6 GB, at the same speed
    (docs/reliability.md). Returns whether the cap was set.
    """
    if os.environ.get("MALLOC_ARENA_MAX") or not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
        return bool(libc.mallopt(M_ARENA_MAX, int(n)))
    except (OSError, AttributeError):              # not glibc (musl, ...): nothing to do
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

    limit_malloc_arenas()
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


def _terminated(signum, frame):
    raise SystemExit(128 + signum)


def _quiet_shutdown(record: logging.LogRecord) -> bool:
    """Drop the tracebacks of page streams cancelled at shutdown."""
    exc = record.exc_info[1] if record.exc_info else None
    return not (isinstance(exc, asyncio.CancelledError)
                or "graceful shutdown exceeded" in record.getMessage())
