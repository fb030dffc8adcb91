"""Every route the server answers, in one list; everything else is 404.

``gr.mount_gradio_app`` brings some 80 routes; the page uses a few of them.
The others (``process_recording``, which ran the system ffmpeg on uploads;
``proxy=``, ``monitoring``, ``stream``, ``vibe-*``, login, deep links, run
history...) are refused before they run by :class:`RouteAllowList`, an ASGI
middleware over the whole app. :data:`KEPT` lists what is served, with why;
:data:`REFUSED` lists what exists and was reviewed and refused (a route in
neither fails ``tests/test_security_routes.py``: a new Gradio or FastAPI
version cannot add a route unreviewed).

The middleware also bounds the page's request bodies as the REST API bounds
its uploads (size from ``Content-Length`` and while streaming, idle time and
average rate: 413/408), refuses ``file=`` URLs (no route fetches one), fixes
the type of the files ``file=`` serves (ours, never the upstream's or a
guess: audio and images inline, the rest as an attachment), and refuses
queue requests for a function the page does not have (422, not 500).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import time
from dataclasses import dataclass

from starlette.datastructures import MutableHeaders
from starlette.requests import ClientDisconnect
from starlette.routing import compile_path

from .uploads import MIN_UPLOAD_RATE, UPLOAD_GRACE_S, UPLOAD_IDLE_S

GET, POST, ANY = ("GET", "HEAD"), ("POST",), ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE",
                                               "OPTIONS")
#: Most bytes in the body of a page request that is not an upload (the page
#: sends file references, never file contents, in JSON).
MAX_JSON_BYTES = 1024 * 1024
#: Most bytes of one upload request beyond the file limit (multipart framing).
UPLOAD_OVERHEAD = 1024 * 1024
log = logging.getLogger("genrescope.server")


@dataclass(frozen=True)
class Kept:
    """One served route: its methods, path template, body kind and why."""

    methods: tuple
    path: str
    why: str
    body: str = "none"          # "none", "json" (MAX_JSON_BYTES) or "upload"


#: What the server answers. Gradio's helpers that the page uses, and ours.
KEPT = (
    Kept(GET, "/", "the page"),
    Kept(GET, "/config", "the page's configuration (the client reads it on reconnect)"),
    Kept(GET, "/config/", "the same, as Gradio's client may ask it"),
    Kept(GET, "/assets/{path:path}", "the page's scripts and styles (Gradio's package)"),
    Kept(GET, "/static/{path:path}", "Gradio's static files (package)"),
    Kept(GET, "/svelte/{path:path}", "Gradio's frontend modules (package)"),
    Kept(GET, "/favicon.ico", "the icon"),
    Kept(GET, "/theme.css", "the page's theme"),
    Kept(GET, "/gradio_api/theme.css", "the same, where the client asks it"),
    Kept(GET, "/robots.txt", "robots"),
    Kept(GET, "/gradio_api/info", "the page's API description (footer link 'API')"),
    Kept(GET, "/gradio_api/info/", "the same"),
    Kept(GET, "/gradio_api/app_id", "the client's reconnect check"),
    Kept(GET, "/gradio_api/app_id/", "the same"),
    Kept(GET, "/gradio_api/heartbeat/{session_hash}", "the session's keep-alive stream"),
    Kept(POST, "/gradio_api/queue/join", "run an event of the page", "json"),
    Kept(GET, "/gradio_api/queue/data", "its results (server-sent events)"),
    Kept(POST, "/gradio_api/run/predict", "the page's events that skip the queue "
         "(queue=False: showing a result, switching the language, clearing a box)", "json"),
    Kept(POST, "/gradio_api/cancel", "cancel an event (trigger_mode 'always_last')", "json"),
    Kept(POST, "/gradio_api/reset", "the client's reset after cancel (no-op)", "json"),
    Kept(POST, "/gradio_api/reset/", "the same", "json"),
    Kept(POST, "/gradio_api/upload", "the page's uploads (microphone, file)", "upload"),
    Kept(GET, "/gradio_api/upload_progress", "upload progress (server-sent events)"),
    Kept(GET, "/gradio_api/file={path_or_url:path}",
         "uploads, examples and results back to the player (no URL; type fixed by us)"),
    Kept(POST, "/gradio_api/call/{api_name}", "the page's curl API (docs/api.md)", "json"),
    Kept(POST, "/gradio_api/call/{api_name}/", "the same", "json"),
    Kept(GET, "/gradio_api/call/{api_name}/{event_id}", "its results"),
    Kept(POST, "/gradio_api/call/v2/{api_name}", "the same, as Gradio's API page shows", "json"),
    Kept(POST, "/gradio_api/call/v2/{api_name}/", "the same", "json"),
    Kept(GET, "/gradio_api/call/v2/{api_name}/{event_id}", "its results"),
    Kept(GET, "/openapi.json", "the REST API's schema"),
    Kept(GET, "/docs", "Swagger UI (served from the installed package)"),
    Kept(GET, "/redoc", "ReDoc (the same)"),
    Kept(GET, "/static-offline-docs/redoc.standalone.js",
         "ReDoc's bundle without its CDN logo (server/docs.py), ahead of the mount below"),
    Kept(GET, "/static-offline-docs/{path:path}", "their scripts"),
    Kept(ANY, "/healthz", "liveness (other methods: 405 from the API's fallback)"),
    Kept(GET, "/api/v1/models", "the models (docs/api.md)"),
    Kept(POST, "/api/v1/classify", "classify an upload (its own upload limits)"),
    Kept(POST, "/api/v1/explain", "explain an upload (the same)"),
    Kept(GET, "/api/v1/library", "with --db: the library's overview"),
    Kept(GET, "/api/v1/library/tracks", "its tracks"),
    Kept(GET, "/api/v1/library/search", "search them"),
    Kept(GET, "/api/v1/library/tracks/{track_id}", "one track"),
    Kept(GET, "/api/v1/library/tracks/{track_id}/similar", "its neighbours"),
    Kept(GET, "/api/v1/library/tracks/{track_id}/thumbnail", "its thumbnail"),
    Kept(GET, "/api/v1/library/tracks/{track_id}/audio", "its file (library files only)"),
    Kept(GET, "/api/v1/library/map", "the library's map"),
    Kept(POST, "/api/v1/library/similar", "neighbours of an upload (its own upload limits)"),
    Kept(ANY, "/api/{rest:path}", "the REST API; its own upload limits; 404/405 fallback"),
)

#: Routes the app has that are refused (404), with why; reviewed for Gradio
#: 6.31 and FastAPI 0.165.
REFUSED = {
    "/login": "no accounts", "/login/": "no accounts", "/logout": "no accounts",
    "/gradio_api/user": "no accounts", "/gradio_api/user/": "no accounts",
    "/gradio_api/login_check": "no accounts", "/gradio_api/login_check/": "no accounts",
    "/gradio_api/token": "no accounts", "/gradio_api/token/": "no accounts",
    "/gradio_api/dev/reload": "development mode only",
    "/gradio_api/runs": "run history is off", "/gradio_api/runs/": "run history is off",
    "/gradio_api/deep_link": "deep links are not used",
    "/gradio_api/openapi.json": "Gradio's schema of the page; /gradio_api/info describes it",
    "/gradio_api/custom_component/{id}/{environment}/{type}/{file_name}":
        "no custom components",
    "/gradio_api/proxy={url_path:path}": "fetches URLs (Spaces only)",
    "/gradio_api/file/{path:path}": "deprecated twin of file=",
    "/gradio_api/stream/{event_id}": "no streaming inputs",
    "/gradio_api/stream/{event_id}/close": "no streaming inputs",
    "/gradio_api/stream/{session_hash}/{run}/{component_id}/playlist.m3u8":
        "no streaming outputs",
    "/gradio_api/stream/{session_hash}/{run}/{component_id}/{segment_id}.{ext}":
        "no streaming outputs",
    "/gradio_api/stream/{session_hash}/{run}/{component_id}/playlist-file":
        "no streaming outputs",
    "/gradio_api/api/{api_name}": "synchronous twin of call/; not used",
    "/gradio_api/api/{api_name}/": "the same",
    "/gradio_api/run/{api_name}": "the same", "/gradio_api/run/{api_name}/": "the same",
    "/gradio_api/queue/status": "not used by the page",
    "/gradio_api/component_server": "no component of the page has server functions",
    "/gradio_api/component_server/": "the same",
    "/gradio_api/startup-events": "run by the server itself at start",
    "/gradio_api/process_recording": "runs the system ffmpeg on uploads (screen recording)",
    "/gradio_api/vibe-edit": "code editing", "/gradio_api/vibe-edit/": "code editing",
    "/gradio_api/undo-vibe-edit": "code editing", "/gradio_api/undo-vibe-edit/": "code editing",
    "/gradio_api/vibe-code": "code editing", "/gradio_api/vibe-code/": "code editing",
    "/gradio_api/vibe-starter-queries": "code editing",
    "/gradio_api/vibe-starter-queries/": "code editing",
    "/pwa_icon": "no PWA", "/pwa_icon/{size}": "no PWA", "/manifest.json": "no PWA",
    "/monitoring": "monitoring is off", "/monitoring/summary": "monitoring is off",
    "/monitoring/{key}": "monitoring is off",
    "/docs/oauth2-redirect": "no OAuth2",
}

#: The page's event routes: their body names the function (``fn_index``) to run.
EVENT_ROUTES = ("/gradio_api/queue/join", "/gradio_api/run/predict")
_KEPT = [(compile_path(k.path)[0], k) for k in KEPT]
#: Types of the files ``file=`` serves inline: the page's own media.
MEDIA_TYPES = {
    ".wav": "audio/wav", ".flac": "audio/flac", ".mp3": "audio/mpeg", ".ogg": "audio/ogg",
    ".oga": "audio/ogg", ".opus": "audio/ogg", ".m4a": "audio/mp4", ".aac": "audio/aac",
    ".mp4": "audio/mp4", ".webm": "audio/webm", ".weba": "audio/webm", ".mka": "audio/x-matroska",
    ".aif": "audio/aiff", ".aiff": "audio/aiff", ".png": "image/png", ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg", ".webp": "image/webp",
}
_SCHEME = re.compile(r"^(?:[a-zA-Z][a-zA-Z0-9+.\-]+:|[\\/]{2})")   # http:, file:, //host


def match(path: str, method: str) -> tuple[Kept | None, list[str]]:
    """The kept route of ``path`` for ``method`` (or None) and the methods
    ``path`` is kept for."""
    allowed = []
    for regex, kept in _KEPT:
        if regex.fullmatch(path):
            if method in kept.methods:
                return kept, list(kept.methods)
            allowed += kept.methods
    return None, allowed


def served_routes(app) -> list[tuple[str, frozenset]]:
    """``(path template, methods)`` of every route ``app`` has, mounted
    sub-apps and included routers too (static mounts as ``/prefix/{path:path}``)."""
    out = []

    def walk(routes, prefix):
        for route in routes:
            kind = type(route).__name__
            if kind == "_IncludedRouter":              # FastAPI >= 0.16x: lazily included
                walk(route.original_router.routes, prefix + route.include_context.prefix)
            elif kind in ("Mount", "Host"):
                inner = getattr(route.app, "routes", None)
                if inner is None:
                    out.append((prefix + route.path + "/{path:path}", frozenset(GET)))
                else:
                    walk(inner, prefix + route.path)
            else:
                out.append((prefix + route.path, frozenset(getattr(route, "methods", None)
                                                           or ("WEBSOCKET",))))
    walk(app.routes, "")
    return out


async def _reply(send, status: int, message: str, headers=()) -> None:
    body = json.dumps({"error": message}).encode()
    await send({"type": "http.response.start", "status": status, "headers": [
        *headers, (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


class RouteAllowList:
    """ASGI middleware: only :data:`KEPT` routes, with their body limits.

    Parameters
    ----------
    app : ASGI application
    max_upload_bytes : int
        Largest page upload (the server's ``--max-upload-mb``): one upload
        request may carry at most this plus :data:`UPLOAD_OVERHEAD` bytes.
    fn_ids : callable, optional
        Returns the page's function indices (queue requests for others: 422).
    idle_s, grace_s, min_rate : float
        Slow bodies: 408 after ``idle_s`` without data, or under ``min_rate``
        bytes/s on average after ``grace_s`` (as the REST API's uploads).
    """

    def __init__(self, app, max_upload_bytes: int, fn_ids=None, *, idle_s=UPLOAD_IDLE_S,
                 grace_s=UPLOAD_GRACE_S, min_rate=MIN_UPLOAD_RATE):
        self.app, self.max_upload_bytes, self.fn_ids = app, int(max_upload_bytes), fn_ids
        self.idle_s, self.grace_s, self.min_rate = idle_s, grace_s, min_rate

    async def __call__(self, scope, receive, send):
        if scope["type"] not in ("http", "websocket"):
            return await self.app(scope, receive, send)
        path, method = scope.get("path", ""), scope.get("method", "GET")
        kept, allowed = match(path, method if scope["type"] == "http" else "GET")
        if scope["type"] == "websocket":               # no route of ours is a websocket
            return await send({"type": "websocket.close", "code": 1008})
        if kept is None:
            if allowed:
                return await _reply(send, 405, f"Method {method} is not allowed here: use "
                                    f"{', '.join(sorted(set(allowed)))}.",
                                    [(b"allow", ", ".join(sorted(set(allowed))).encode())])
            return await _reply(send, 404, f"Not found: {path}")
        if kept.path.startswith("/gradio_api/file="):
            target = path[len("/gradio_api/file="):]
            if _SCHEME.match(target) and not re.match(r"^[a-zA-Z]:[\\/]", target):
                return await _reply(send, 404, "Not found: the server fetches no URL.")
            send = _typed_file(send, target)
        if kept.body == "none" or kept.path.startswith("/api/"):
            return await self.app(scope, receive, send)
        limit = self.max_upload_bytes + UPLOAD_OVERHEAD if kept.body == "upload" \
            else MAX_JSON_BYTES
        body = _Body(scope, receive, send, limit, self.idle_s, self.grace_s, self.min_rate)
        if body.declared > limit:
            return await _reply(send, 413, body.too_large())
        if kept.path in EVENT_ROUTES and self.fn_ids is not None:
            data = await body.read_all()
            if data is None:
                return None
            problem = _queue_problem(data, self.fn_ids())
            if problem:
                return await _reply(send, 422, problem)
        return await _client_errors(self.app, scope, body.receive, body.send)


async def _client_errors(app, scope, receive, send) -> None:
    """Run a page route whose input is the client's; an exception it raises
    on malformed input (an upload part without a file name, a body of the
    wrong shape) is answered 422, without a traceback, not 500."""
    held: list[dict] = []

    async def holding(message):
        if held or (message["type"] == "http.response.start" and message["status"] >= 500):
            held.append(message)                       # the sub-app's 500: wait for why
            return
        await send(message)
    try:
        await app(scope, receive, holding)
    except ClientDisconnect:                           # cut (408/413, answered) or gone: no
        return None                                    # one to answer, no traceback
    except (TypeError, ValueError, KeyError, IndexError, AttributeError) as exc:
        log.info("page request refused (422): %s: %s", type(exc).__name__, exc)
        return await _reply(send, 422, "The request is malformed: send what the page sends "
                            "(an upload needs a file name; an event its inputs).")
    for message in held:                               # a 500 without an exception
        await send(message)


def _queue_problem(data: bytes, fn_ids) -> str | None:
    """Why an event's body (queue/join, run/predict) names no function of the
    page, else None."""
    try:
        fn_index = json.loads(data).get("fn_index")
    except (ValueError, AttributeError):
        return None                                    # Gradio answers malformed JSON (422)
    if fn_index is None or (isinstance(fn_index, int) and not isinstance(fn_index, bool)
                            and fn_index in fn_ids):
        return None
    return f"fn_index {str(fn_index)[:40]!r} is not a function of this page."


def _typed_file(send, target: str):
    """``send`` with the type of a ``file=`` answer set by us: the page's
    media inline, anything else as an ``application/octet-stream`` attachment."""
    media = MEDIA_TYPES.get(os.path.splitext(target)[1].lower())

    async def typed(message):
        if message["type"] == "http.response.start" and message["status"] < 300:
            headers = MutableHeaders(scope=message)
            headers["content-type"] = media or "application/octet-stream"
            disposition = headers.get("content-disposition", "")
            if media is None or not disposition.startswith("inline"):
                headers["content-disposition"] = "attachment" if media is None else "inline"
            headers["x-content-type-options"] = "nosniff"
        await send(message)
    return typed


class _Body:
    """A request body with size and speed limits; answers 408/413 itself and
    then tells the app the client left (and drops what the app sends)."""

    def __init__(self, scope, receive, send, limit, idle_s, grace_s, min_rate):
        self._receive, self._send, self.limit = receive, send, limit
        self.idle_s, self.grace_s, self.min_rate = idle_s, grace_s, min_rate
        headers = dict(scope.get("headers") or [])
        try:
            self.declared = int(headers.get(b"content-length", b"0") or 0)
        except ValueError:
            self.declared = 0
        self.start, self.received, self.done, self.answered = time.monotonic(), 0, False, False
        self._buffered: list[dict] = []

    def too_large(self) -> str:
        return (f"The request is larger than the limit of {self.limit / 1024 / 1024:.3g} MB "
                "(the server's --max-upload-mb for uploads).")

    async def _refuse(self, status: int, text: str) -> dict:
        if not self.answered:
            self.answered = True
            await _reply(self._send, status, text)
            log.info("page request refused (%d): %s", status, text)
        return {"type": "http.disconnect"}

    async def _next(self) -> dict:
        if self.answered:
            return {"type": "http.disconnect"}
        if self.done:
            return await self._receive()               # after the body: disconnect events
        deadline = self.start + self.grace_s + self.received / self.min_rate
        wait = max(min(self.idle_s, deadline - time.monotonic()), 0.001)
        try:
            message = await asyncio.wait_for(self._receive(), wait)
        except asyncio.TimeoutError:
            return await self._refuse(408, "The upload was too slow (nothing for "
                                      f"{self.idle_s:g} s, or under "
                                      f"{self.min_rate / 1024:g} KiB/s on average): send it "
                                      "again over a faster connection.")
        if message["type"] == "http.request":
            self.received += len(message.get("body", b""))
            if self.received > self.limit:
                return await self._refuse(413, self.too_large())
            self.done = not message.get("more_body", False)
        return message

    async def receive(self) -> dict:
        if self._buffered:
            return self._buffered.pop(0)
        return await self._next()

    async def read_all(self) -> bytes | None:
        """The whole body (kept for the app), or None when refused or the client left."""
        chunks = []
        while True:
            message = await self._next()
            if message["type"] != "http.request":
                return None
            self._buffered.append(message)
            chunks.append(message.get("body", b""))
            if self.done:
                return b"".join(chunks)

    async def send(self, message: dict) -> None:
        if not self.answered:
            await self._send(message)
