"""REST routes of the library under ``/api/v1/library`` (in the OpenAPI docs).

The library itself (:mod:`genrescope.library`) imports no web framework; this
module is its web shell, and :mod:`.app` includes its router.

:func:`library_router` builds a ``fastapi.APIRouter`` over one
:class:`~genrescope.library.Library`; ``genrescope serve --db LIBRARY.db``
includes it (:func:`genrescope.server.app.create_app`). Clients name tracks by their id only: no client-given path is
ever opened, and the audio route serves only files the library holds.
``POST /api/v1/library/similar`` takes an uploaded file instead, through the
server's one upload path (:meth:`Service.upload
<genrescope.server.service.Service.upload>`: private folder, size and speed
limits) and analyses it as the indexer would (:meth:`Library.analyse_file`),
within the server's analysis slots and its cap on analysed seconds.
User errors are :class:`~genrescope.errors.GenrescopeError` and become
``{"error": "..."}`` through the app's handler.
"""

from __future__ import annotations

import os
import tempfile
import threading
from typing import Annotated, Literal

import fastapi
from fastapi import Path as PathParam, Query
from fastapi.responses import FileResponse, HTMLResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from ..errors import GenrescopeError
from ..library.analyse import WindowPlan, probe_duration_s
from ..library.catalog import Library
from ..library.results import Hit, Track
from .api import UPLOAD_ERRORS, error_responses, form_options
from .routes import MEDIA_TYPES
from .service import Service, hide_path

Lang = Literal["en", "zh"]
#: A track id as SQLite stores it (a signed 64-bit integer; larger: 422, not 500).
TrackId = Annotated[int, PathParam(ge=0, le=2**63 - 1, description="The track's id.")]


class SimilarUploadOptions(BaseModel):
    """Form fields of ``POST /api/v1/library/similar`` besides ``file``."""

    model_config = ConfigDict(extra="forbid")
    k: int = Field(10, ge=1, le=100, description="How many similar tracks.")
    lang: Lang = Field("en", description="Language of the genre names and reasons.")


_UPLOAD_SCHEMA = {"type": "object", "required": ["file"], "properties": {
    "file": {"type": "string", "format": "binary", "description": "The audio file."},
    **SimilarUploadOptions.model_json_schema()["properties"]}}
_BAD_QUERY = error_responses(e422="A query parameter out of its bounds")
_NO_TRACK = error_responses(e404="No such track in the library",
                            e422="A track id or query parameter out of its bounds")
_NO_INDEX = error_responses(e409="The library has no analysed tracks yet")
_UPLOAD_ERRORS = UPLOAD_ERRORS | _NO_INDEX | error_responses(
    e404="The library's model or its weights are missing",
    e422="Unreadable or empty audio, a bad form value, or more audio to analyse than "
         "the server's limit")
#: The types the audio route answers with: the page's own (a track of another
#: extension is sent as bytes to download).
AUDIO_TYPES = {ext: t for ext, t in MEDIA_TYPES.items() if t.startswith("audio/")}


def analysed_s(plan: WindowPlan, duration_s: float | None) -> float | None:
    """Seconds of audio ``plan`` decodes from a track of ``duration_s`` seconds
    (``None``: the whole track, of unknown length)."""
    total = 0.0
    for offset_s, length_s in plan.windows(duration_s):
        if length_s is None and duration_s is None:
            return None
        total += length_s if length_s is not None else duration_s - offset_s
    return total


def similar_to_file(library: Library, path: str, k: int, *,
                    max_analysed_s: float | None = None) -> tuple[Track, list[Hit]]:
    """Analyse a file outside the library as the indexer would
    (:meth:`Library.analyse_file`: the library's model and window plan; not
    stored) and find its ``k`` nearest tracks, as :meth:`Library.similar`.

    Returns the query as a :class:`Track` (``id`` None) and the hits.

    Raises
    ------
    GenrescopeError
        (422) Unreadable audio, or the plan would decode more than
        ``max_analysed_s`` seconds; (409) the library has no analysed tracks.
    """
    if max_analysed_s is not None:
        plan = library.plan()
        seconds = analysed_s(plan, probe_duration_s(path))
        if seconds is None or seconds > max_analysed_s:
            raise GenrescopeError(
                f"The library analyses tracks with the plan {plan} ("
                + ("the whole track, of unknown length" if seconds is None else
                   f"{seconds:.0f} s of this file") + f"); the server analyses at most "
                f"{max_analysed_s:g} s per request: send a shorter file.")
    rec = library.analyse_file(path)
    hits = library.similar_to_analysis(rec, k)
    track = Track(None, path, rec.size, rec.duration_s, rec.model, rec.windows,
                  [(g, round(p, 6)) for g, p in rec.top], rec.warnings, None,
                  hits[0].track.names if hits else {})
    return track, hits


def _track(library: Library, track_id: int):
    """The track, or the library's 404 (:meth:`Library.track`)."""
    return library.track(int(track_id))


def library_router(library: Library, service=None) -> fastapi.APIRouter:
    """The ``/api/v1/library`` routes over ``library``; with ``service`` (a
    :class:`~genrescope.server.service.Service`) also ``POST /similar``."""
    router = fastapi.APIRouter(prefix="/api/v1/library", tags=["library"])

    @router.get("", responses=_BAD_QUERY)
    def overview(lang: Lang = "en") -> dict:
        """Counts per top genre, unsure and not-music tracks, failed files."""
        return library.stats().to_dict(lang)

    @router.get("/tracks", responses=_BAD_QUERY)
    def tracks(q: str | None = Query(None, max_length=200, description="part of the path"),
               genre: str | None = Query(None, max_length=100,
                                         description="top genre: id, English or Chinese name"),
               heard: str | None = Query(None, max_length=100, description="an instrument or "
                                         "voice heard: id, English or Chinese name, or a word"),
               note: str | None = Query(None, max_length=40, pattern=r"^[a-z_]+$",
                                        description="a note's code: not_music, outside, ..."),
               limit: int = Query(50, ge=1, le=500), offset: int = Query(0, ge=0, le=10**9),
               lang: Lang = "en") -> dict:
        """Tracks, sorted by path, optionally filtered by name, top genre, an
        instrument or voice heard and a note."""
        found = library.tracks(q, genre=genre, heard=heard, note=note, limit=limit,
                               offset=offset)
        return {"tracks": [t.to_dict(lang) for t in found], "limit": limit, "offset": offset}

    @router.get("/search", responses=error_responses(
        e422="Neither q nor genre, or a query parameter out of its bounds"))
    def search(q: str | None = Query(None, max_length=200), genre: str | None = Query(
               None, max_length=100), limit: int = Query(50, ge=1, le=500),
               lang: Lang = "en") -> dict:
        """Search by name (part of the path) and/or genre (id, English or Chinese name)."""
        if not q and not genre:
            raise GenrescopeError("Give q (part of a name) or genre.", status=422)
        return {"tracks": [t.to_dict(lang) for t in library.tracks(q, genre=genre, limit=limit)]}

    @router.get("/tracks/{track_id}", responses=_NO_TRACK)
    def track(track_id: TrackId, lang: Lang = "en") -> dict:
        """One track: top genres, warnings, and its genre timeline (per analysed chunk)."""
        t = _track(library, track_id)
        arrays = library.arrays(t.id)
        labels = arrays["labels"]
        timeline = [{"start_s": c["start_s"], "end_s": c["end_s"],
                     "top": [{"label": labels[i], "name": t.genre_name(labels[i], lang),
                              "probability": c["p"][i]}
                             for i in sorted(range(len(c["p"])), key=lambda i: -c["p"][i])[:3]]}
                    for c in arrays["timeline"]] if labels else []
        return t.to_dict(lang) | {"timeline": timeline}

    @router.get("/tracks/{track_id}/similar", responses=_NO_TRACK | _NO_INDEX | error_responses(
        e422="The track could not be analysed, or a parameter out of its bounds"))
    def similar(track_id: TrackId, k: int = Query(10, ge=1, le=100), lang: Lang = "en") -> dict:
        """The k nearest tracks (cosine of the embeddings), each with why it is near."""
        t = _track(library, track_id)
        return {"track": t.to_dict(lang),
                "similar": [h.to_dict(lang) for h in library.similar(t.id, k=k)]}

    _add_media_routes(router, library)
    if service is not None:
        _add_similar_upload(router, library, service)
    return router


def _add_media_routes(router: fastapi.APIRouter, library: Library) -> None:
    """A track's thumbnail and audio, and the library's map."""
    map_cache: dict = {}
    map_lock = threading.Lock()

    @router.get("/tracks/{track_id}/thumbnail", response_class=Response,
                responses={200: {"content": {"image/jpeg": {}}}} | error_responses(
                    e404="No such track, or it has no thumbnail",
                    e422="A track id out of its bounds"))
    def thumbnail(track_id: TrackId) -> Response:
        """The spectrogram thumbnail of the analysed windows (JPEG)."""
        data = library.thumbnail(_track(library, track_id).id)
        if not data:
            raise GenrescopeError("This track has no thumbnail (it could not be analysed).",
                                  status=404)
        return Response(data, media_type="image/jpeg",
                        headers={"Cache-Control": "private, max-age=3600"})

    @router.get("/tracks/{track_id}/audio", response_class=FileResponse,
                responses={200: {"content": {"audio/*": {}, "application/octet-stream": {}}}}
                | error_responses(e404="No such track, or its file is gone",
                                  e422="A track id out of its bounds"))
    def audio(track_id: TrackId) -> FileResponse:
        """The track's file, to play it (only files the library holds)."""
        t = _track(library, track_id)
        if not os.path.isfile(t.path):
            raise GenrescopeError("The file of this track is gone: index the library again.",
                                  status=404)
        media = AUDIO_TYPES.get(os.path.splitext(t.path)[1].lower(), "application/octet-stream")
        return FileResponse(t.path, media_type=media, filename=os.path.basename(t.path))

    @router.get("/map", response_class=HTMLResponse, responses=_BAD_QUERY)
    def library_map(lang: Lang = "en") -> HTMLResponse:
        """The 2-D map of the library (self-contained HTML, made once per library state)."""
        key = (lang, library.state())
        with map_lock:
            if map_cache.get("key") != key:
                with tempfile.TemporaryDirectory(prefix="genrescope-map-") as tmp:
                    out = library.write_map(os.path.join(tmp, "map.html"), lang=lang)
                    map_cache.update(key=key, html=out.read_text(encoding="utf-8"))
            return HTMLResponse(map_cache["html"])


def _add_similar_upload(router: fastapi.APIRouter, library: Library, service: Service) -> None:
    one_at_a_time = threading.Lock()       # one on-the-fly model (Library's), loaded once

    def run(path: str, k: int) -> tuple[Track, list[Hit]]:
        with one_at_a_time, service.slot():
            return similar_to_file(library, path, k, max_analysed_s=service.max_duration_s)

    @router.post("/similar", responses=_UPLOAD_ERRORS, openapi_extra={
        "requestBody": {"required": True, "content": {"multipart/form-data": {
            "schema": _UPLOAD_SCHEMA}}}})
    async def similar_upload(request: fastapi.Request) -> dict:
        """The k library tracks nearest an uploaded audio file (multipart field ``file``),
        each with why it is near; the file is analysed as the indexer would (the
        library's model and window plan) and not stored. ``track`` is the upload
        (``id`` null, ``path`` its name as sent) with its top genres."""
        async with service.upload(request, prefix="genrescope-similar-") as upload:
            if upload is None:
                return Response(status_code=400)
            opts = form_options(SimilarUploadOptions, upload.fields)
            upload.require_audio()
            if await request.is_disconnected():       # the client left: do not analyse
                return Response(status_code=400)
            path = os.path.abspath(upload.path)        # as the record names it
            try:
                track, hits = await run_in_threadpool(run, path, opts.k)
            except GenrescopeError as exc:
                raise hide_path(exc, path, upload.shown_name) from None
            track.path = upload.shown_name
            return {"track": track.to_dict(opts.lang),
                    "similar": [h.to_dict(opts.lang) for h in hits]}
