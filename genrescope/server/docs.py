"""The API documentation pages stay on this server.

``fastapi_offline`` serves Swagger UI and ReDoc from the installed package,
but ReDoc's bundle still shows Redocly's logo from ``cdn.redoc.ly``: the
docs' CSP (:data:`genrescope.server.guard.DOCS_CSP`) blocks it and the
browser logs a CSP error on every visit of ``/redoc``. :func:`serve_redoc`
serves the bundle with that address replaced by an empty ``data:`` URL,
which the logo's own error handler then hides.
"""

from __future__ import annotations

from pathlib import Path

#: Where fastapi_offline serves its files, and ReDoc's bundle there.
STATIC_URL = "/static-offline-docs"
REDOC_JS = "redoc.standalone.js"
#: The only outside address in ReDoc's bundle.
REDOC_LOGO = b"https://cdn.redoc.ly/redoc/logo-mini.svg"


def redoc_bundle() -> bytes:
    """fastapi_offline's ReDoc bundle without its outside address."""
    import fastapi_offline

    path = Path(fastapi_offline.__file__).resolve().parent / "static" / REDOC_JS
    return path.read_bytes().replace(REDOC_LOGO, b"data:,")


def serve_redoc(app) -> None:
    """Serve :func:`redoc_bundle` at fastapi_offline's address for it (read
    once, on the first request), ahead of its static-files mount."""
    from starlette.responses import Response
    from starlette.routing import Route

    cached: list[bytes] = []

    async def bundle(request):
        if not cached:
            cached.append(redoc_bundle())
        return Response(cached[0], media_type="text/javascript; charset=utf-8",
                        headers={"cache-control": "public, max-age=3600"})

    app.router.routes.insert(0, Route(f"{STATIC_URL}/{REDOC_JS}", bundle,
                                      methods=["GET", "HEAD"]))
