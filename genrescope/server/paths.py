"""The page's answers name no server folder.

Gradio's protocol passes files by their server path: the upload route
answers the path where it stored the file (``/tmp/genrescope-gradio-XXXX/
<hash>/clip.wav``), the queue's data messages name the paths (and
``file=`` URLs) of the files a result shows, and the client sends those
paths back. :class:`HideFolders`, an ASGI middleware over the page's routes,
rewrites the folder in both directions: each hidden folder becomes a short
token in every answer (JSON, server-sent events, HTML) and the token becomes
the folder again in what the client sends back (queue, run/predict and ``call/`` bodies,
``file=`` paths), before Gradio sees it. Gradio still works with real paths;
the client sees ``gradio-cache/<hash>/clip.wav``.

The REST API (``/api/``) is left alone: its answers name no server path
(uploads are named as the client sent them; the library's tracks are the
user's own files).
"""

from __future__ import annotations

import os
from urllib.parse import quote

from starlette.datastructures import MutableHeaders

#: The page's upload folder as the client sees it.
CACHE_TOKEN = "gradio-cache"
#: Answers that may carry a path (files and the page's scripts are left alone).
_TEXT_TYPES = (b"application/json", b"text/event-stream", b"text/html", b"text/plain")
_UNTOUCHED = ("/assets/", "/static/", "/svelte/", "/api/",
              "/static-offline-docs/")
#: Routes whose request body (JSON) names files by path.
_BODY_ROUTES = ("/gradio_api/queue/join", "/gradio_api/run/predict", "/gradio_api/call/")


def _forms(folder: str) -> list[str]:
    """The ways ``folder`` may be written in an answer (as given, absolute,
    with symbolic links resolved; each also URL-quoted)."""
    plain = {os.fspath(folder).rstrip(os.sep), os.path.abspath(folder),
             os.path.realpath(folder)}
    forms = plain | {quote(f) for f in plain}
    return sorted(forms, key=len, reverse=True)      # the longest first


class HideFolders:
    """ASGI middleware: ``folders`` (``{server folder: token}``) as tokens in
    the page's answers, and back in what the client sends.

    Parameters
    ----------
    app : ASGI application
    folders : callable
        Returns ``{folder: token}`` (asked at each request: Gradio's upload
        folder is known once the page is mounted).
    """

    def __init__(self, app, folders):
        self.app, self.folders = app, folders

    async def __call__(self, scope, receive, send):
        path = scope.get("path", "")
        if scope["type"] != "http" or path.startswith("/api/"):
            return await self.app(scope, receive, send)
        folders = self.folders()
        pairs = _pairs(folders)
        real = {t.encode(): os.fspath(f).rstrip(os.sep).encode() for f, t in folders.items()}
        files = path.startswith("/gradio_api/file=")
        if files:
            scope = _unhidden_file_scope(scope, real)
        elif scope.get("method") == "POST" and path.startswith(_BODY_ROUTES):
            receive = await _unhidden_body(scope, receive, real)
        if path.startswith(_UNTOUCHED):
            return await self.app(scope, receive, send)
        # a file as it is; its refusal (Gradio's 403 names the path) hidden
        return await self.app(scope, receive, _hiding(send, pairs, errors_only=files))


def _pairs(folders: dict) -> list[tuple[bytes, bytes]]:
    """``(server form, token)`` byte pairs, the longest form first."""
    pairs = [(f.encode(), t.encode()) for folder, t in folders.items() for f in _forms(folder)]
    return sorted(pairs, key=lambda p: len(p[0]), reverse=True)


def _unhidden_file_scope(scope: dict, real: dict) -> dict:
    """A ``file=TOKEN/...`` request as ``file=/server/folder/...``."""
    target = scope["path"][len("/gradio_api/file="):]
    for token, folder in real.items():
        if target.encode() == token or target.encode().startswith(token + b"/"):
            path = "/gradio_api/file=" + folder.decode() + target[len(token):]
            return dict(scope, path=path, raw_path=quote(path).encode())
    return scope


async def _unhidden_body(scope: dict, receive, real: dict):
    """``receive`` of the request body with each ``"TOKEN/`` and ``file=TOKEN/``
    (a file the client names) written as the server folder. The body is read
    whole (the route allow-list outside bounds its size)."""
    chunks, more = [], True
    while more:
        message = await receive()
        if message["type"] != "http.request":
            return _replay([message])
        chunks.append(message.get("body", b""))
        more = message.get("more_body", False)
    body = b"".join(chunks)
    for token, folder in real.items():
        body = body.replace(b'"' + token + b"/", b'"' + folder + b"/")
        body = body.replace(b"file=" + token + b"/", b"file=" + folder + b"/")
    headers = MutableHeaders(scope=scope)
    if "content-length" in headers:
        headers["content-length"] = str(len(body))
    return _replay([{"type": "http.request", "body": body, "more_body": False}], receive)


def _replay(messages: list[dict], then=None):
    async def receive():
        if messages:
            return messages.pop(0)
        if then is None:
            return {"type": "http.disconnect"}
        return await then()
    return receive


def _hiding(send, pairs, errors_only: bool = False):
    """``send`` with each server form of a folder written as its token, in
    text answers (with ``errors_only``: of status 400 and above); streamed
    line by line (a path is never split across two messages);
    ``Content-Length`` dropped (the length changes)."""
    state = {"text": False, "tail": b""}

    def hide(data: bytes) -> bytes:
        for form, token in pairs:
            data = data.replace(form, token)
        return data

    async def hiding(message):
        if message["type"] == "http.response.start":
            headers = MutableHeaders(scope=message)
            kind = headers.get("content-type", "").encode().lower()
            state["text"] = kind.startswith(_TEXT_TYPES) and "content-encoding" not in headers \
                and (message["status"] >= 400 or not errors_only)
            if state["text"] and "content-length" in headers:
                del headers["content-length"]
        elif message["type"] == "http.response.body" and state["text"]:
            data = state["tail"] + message.get("body", b"")
            more = message.get("more_body", False)
            cut = data.rfind(b"\n") + 1 if more else len(data)
            state["tail"] = data[cut:]
            message = dict(message, body=hide(data[:cut]))
        await send(message)
    return hiding
