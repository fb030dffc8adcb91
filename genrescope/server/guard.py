"""Who may talk to the server: the ``Host`` allow-list, same-origin only for
browsers, and the security headers on every response.

A loopback server is still reachable from any web page the user opens: a
page can POST a form to ``http://127.0.0.1:7860`` (no CORS preflight for
multipart), and a DNS-rebinding page can even read the answers. So:

* ``Host`` must name this server: an IP literal (a rebinding page cannot
  produce one; its origin would be the IP itself), ``localhost``, the bound
  host name, or a name given with ``--allow-host``; else 400;
* a request carrying an ``Origin`` must come from the server's own origin,
  and ``Sec-Fetch-Site`` must say ``same-origin`` or ``none`` (a top-level
  navigation from a link is allowed for GET/HEAD to the page and the API
  documentation only, :data:`NAVIGABLE`: never to a file or an API answer);
  else 403;
* every response gets ``X-Frame-Options: DENY``, a ``frame-ancestors 'none'``
  CSP (on ``/docs`` and ``/redoc``, a CSP allowing only the server itself), ``X-Content-Type-Options: nosniff`` and ``Referrer-Policy:
  same-origin``, and loses any ``Access-Control-Allow-*`` header (the page and
  the API are same-origin only).

Clients that are not browsers (the CLI, ``curl``, ``gradio_client``) send no
``Origin`` and no ``Sec-Fetch-*``, and are not affected.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Iterable
from urllib.parse import urlsplit

from starlette.datastructures import Headers, MutableHeaders

#: Headers added to every response.
SECURITY_HEADERS = {
    "x-frame-options": "DENY",
    "content-security-policy": "frame-ancestors 'none'",
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
}
#: The API documentation pages load everything from the server: this policy
#: keeps it so (ReDoc's bundle would fetch its logo from a CDN).
DOCS_CSP = ("default-src 'self'; script-src 'self' 'unsafe-inline'; "
            "style-src 'self' 'unsafe-inline'; img-src 'self' data:; worker-src 'self' blob:; "
            "connect-src 'self'; frame-ancestors 'none'")
DOCS_PATHS = ("/docs", "/redoc")
#: Where a link on another site may lead (a top-level GET navigation).
NAVIGABLE = ("/", *DOCS_PATHS)
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
#: Methods any route may use; others (TRACE, CONNECT, made-up ones) get 405.
METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}


def _host_port(netloc: str, scheme: str = "http") -> tuple[str, int] | None:
    """``(hostname, port)`` of ``host[:port]`` (IPv6 in brackets), or None."""
    try:
        parts = urlsplit(f"//{netloc}")
        return (parts.hostname or "").lower(), parts.port or _DEFAULT_PORTS.get(scheme, 80)
    except ValueError:
        return None


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


class RequestGuard:
    """ASGI middleware enforcing the rules of this module.

    Parameters
    ----------
    app : ASGI application
    hosts : iterable of str
        Host names accepted in ``Host`` besides IP literals and ``localhost``.
    """

    def __init__(self, app, hosts: Iterable[str] = ()):
        self.app = app
        self.hosts = frozenset(h.lower().strip("[]") for h in (*LOOPBACK_NAMES, *hosts) if h)

    def refusal(self, scope: dict, headers: Headers) -> tuple[int, str] | None:
        """``(status, message)`` when the request must be refused, else None."""
        host = _host_port(headers.get("host", ""), scope.get("scheme", "http"))
        if host is None or not host[0] or not (_is_ip(host[0]) or host[0] in self.hosts):
            return 400, ("Unknown Host header: this server answers only to its own address "
                         "(start it with --allow-host NAME to accept another name).")
        method = scope.get("method", "GET")
        if method not in METHODS:
            return 405, f"Method {method} is not allowed: use GET or POST."
        site = headers.get("sec-fetch-site")
        if site not in (None, "same-origin", "none"):
            navigation = headers.get("sec-fetch-mode") == "navigate" \
                and scope.get("path") in NAVIGABLE
            if method not in SAFE_METHODS or not navigation:
                return 403, ("Cross-site request refused: the page and the API answer only "
                             "their own page and clients that are not browsers.")
        origin = headers.get("origin")
        if origin is not None:
            parts = urlsplit(origin) if origin != "null" else None
            scheme = parts.scheme if parts else ""
            theirs = _host_port(parts.netloc, scheme) if parts and parts.netloc else None
            mine = _host_port(headers.get("host", ""), scheme.replace("ws", "http") or "http")
            if theirs is None or theirs != mine:
                return 403, ("Cross-origin request refused: the page and the API answer only "
                             "their own page and clients that are not browsers.")
        return None

    async def __call__(self, scope, receive, send):
        if scope["type"] not in ("http", "websocket"):
            return await self.app(scope, receive, send)
        problem = self.refusal(scope, Headers(scope=scope))
        if problem is not None:
            if scope["type"] == "websocket":
                return await send({"type": "websocket.close", "code": 1008})
            status, message = problem
            body = json.dumps({"error": message}).encode()
            allow = [(b"allow", b"GET, POST")] if status == 405 else []
            await send({"type": "http.response.start", "status": status, "headers": [
                *allow, (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *((k.encode(), v.encode()) for k, v in SECURITY_HEADERS.items())]})
            return await send({"type": "http.response.body", "body": body})

        docs = scope["type"] == "http" and scope.get("path") in DOCS_PATHS

        async def send_guarded(message):
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for key in [k for k in headers.keys() if k.startswith("access-control-allow-")]:
                    del headers[key]
                for key, value in SECURITY_HEADERS.items():
                    headers[key] = value
                if docs:
                    headers["content-security-policy"] = DOCS_CSP
            await send(message)

        return await self.app(scope, receive, send_guarded)
