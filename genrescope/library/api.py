"""REST routes of the library under ``/api/v1/library`` (in the OpenAPI docs).

:func:`library_router` builds a ``fastapi.APIRouter`` over one
:class:`~genrescope.library.Library`; ``genrescope serve --db LIBRARY.db``
includes it. Clients name tracks by their id only: no client-given path is
ever opened, and the audio route serves only files the library holds.
User errors are :class:`~genrescope.errors.GenrescopeError` and become
``{"error": "..."}`` through the app's handler.
"""

from __future__ import annotations

import os
import tempfile
import threading
from typing import Literal

import fastapi
from fastapi import Query
from fastapi.responses import FileResponse, HTMLResponse, Response

from ..errors import GenrescopeError
from .catalog import Library

Lang = Literal["en", "zh"]


def library_router(library: Library) -> fastapi.APIRouter:
    """The ``/api/v1/library`` routes over ``library``."""
    router = fastapi.APIRouter(prefix="/api/v1/library", tags=["library"])
    map_cache: dict = {}
    map_lock = threading.Lock()

    def track_or_404(track_id: int):
        return library.track(int(track_id))

    @router.get("")
    def overview(lang: Lang = "en") -> dict:
        """Counts per top genre, unsure and not-music tracks, failed files."""
        return library.stats().to_dict(lang)

    @router.get("/tracks")
    def tracks(q: str | None = Query(None, max_length=200, description="part of the path"),
               genre: str | None = Query(None, max_length=100,
                                         description="top genre: id, English or Chinese name"),
               limit: int = Query(50, ge=1, le=500), offset: int = Query(0, ge=0, le=10**9),
               lang: Lang = "en") -> dict:
        """Tracks, sorted by path, optionally filtered by name and top genre."""
        found = library.tracks(q, genre=genre, limit=limit, offset=offset)
        return {"tracks": [t.to_dict(lang) for t in found], "limit": limit, "offset": offset}

    @router.get("/search")
    def search(q: str | None = Query(None, max_length=200), genre: str | None = Query(
               None, max_length=100), limit: int = Query(50, ge=1, le=500),
               lang: Lang = "en") -> dict:
        """Search by name (part of the path) and/or genre (id, English or Chinese name)."""
        if not q and not genre:
            raise GenrescopeError("Give q (part of a name) or genre.", status=422)
        return {"tracks": [t.to_dict(lang) for t in library.tracks(q, genre=genre, limit=limit)]}

    @router.get("/tracks/{track_id}", responses={404: {"description": "no such track"}})
    def track(track_id: int, lang: Lang = "en") -> dict:
        """One track: top genres, warnings, and its genre timeline (per analysed chunk)."""
        t = track_or_404(track_id)
        arrays = library.arrays(t.id)
        labels = arrays["labels"]
        timeline = [{"start_s": c["start_s"], "end_s": c["end_s"],
                     "top": [{"label": labels[i], "name": t.genre_name(labels[i], lang),
                              "probability": c["p"][i]}
                             for i in sorted(range(len(c["p"])), key=lambda i: -c["p"][i])[:3]]}
                    for c in arrays["timeline"]] if labels else []
        return t.to_dict(lang) | {"timeline": timeline}

    @router.get("/tracks/{track_id}/similar", responses={404: {"description": "no such track"}})
    def similar(track_id: int, k: int = Query(10, ge=1, le=100), lang: Lang = "en") -> dict:
        """The k nearest tracks (cosine of the embeddings), each with why it is near."""
        t = track_or_404(track_id)
        return {"track": t.to_dict(lang),
                "similar": [h.to_dict(lang) for h in library.similar(t.id, k=k)]}

    @router.get("/tracks/{track_id}/thumbnail", response_class=Response,
                responses={200: {"content": {"image/jpeg": {}}}})
    def thumbnail(track_id: int) -> Response:
        """The spectrogram thumbnail of the analysed windows (JPEG)."""
        data = library.thumbnail(track_or_404(track_id).id)
        if not data:
            raise GenrescopeError("This track has no thumbnail (it could not be analysed).",
                                  status=404)
        return Response(data, media_type="image/jpeg",
                        headers={"Cache-Control": "private, max-age=3600"})

    @router.get("/tracks/{track_id}/audio", response_class=FileResponse,
                responses={200: {"content": {"audio/*": {}}}})
    def audio(track_id: int) -> FileResponse:
        """The track's file, to play it (only files the library holds)."""
        t = track_or_404(track_id)
        if not os.path.isfile(t.path):
            raise GenrescopeError("The file of this track is gone: index the library again.",
                                  status=404)
        return FileResponse(t.path, filename=os.path.basename(t.path))

    @router.get("/map", response_class=HTMLResponse)
    def library_map(lang: Lang = "en") -> HTMLResponse:
        """The 2-D map of the library (self-contained HTML, made once per library state)."""
        key = (lang, library.state())
        with map_lock:
            if map_cache.get("key") != key:
                with tempfile.TemporaryDirectory(prefix="genrescope-map-") as tmp:
                    out = library.write_map(os.path.join(tmp, "map.html"), lang=lang)
                    map_cache.update(key=key, html=out.read_text(encoding="utf-8"))
            return HTMLResponse(map_cache["html"])

    return router


def include_library(app: fastapi.FastAPI, db, models_dir=None) -> Library | None:
    """Add the library routes to ``app`` when ``db`` is given (``serve --db``).

    Sets ``app.state.library`` (the :class:`Library`, or ``None``) for the page.
    """
    app.state.library = None if db is None else Library(db, models_dir=models_dir)
    if app.state.library is not None:
        app.include_router(library_router(app.state.library))
    return app.state.library
