"""``POST /api/v1/explain``: the occlusion map of an uploaded file, as numbers
and as a PNG (see :mod:`genrescope.explain`, docs/explain.md).

A router factory, included by :func:`genrescope.server.app.create_app`.

The upload is read by the server's own streaming reader (size, idle and rate
limits, :meth:`Service.upload <genrescope.server.service.Service.upload>`), the window is decoded through ``service.analyse`` (its concurrency
slots and the server's cap on analysed seconds), and the occlusion passes run
one explanation at a time, at most :data:`MAX_API_BUDGET` passes each.
"""

from __future__ import annotations

import base64
import threading
from typing import Literal

import fastapi
from fastapi.responses import Response
from pydantic import Field
from starlette.concurrency import run_in_threadpool

from ..errors import GenrescopeError
from ..explain import DEFAULT_BUDGET, explain_prediction
from .api import UPLOAD_ERRORS, WindowOptions, error_responses, form_options
from .service import Service

#: Most forward passes one API request may ask for (server bound).
MAX_API_BUDGET = 600


class ExplainOptions(WindowOptions):
    """Form fields of ``POST /api/v1/explain`` besides ``file``."""

    genre: str | None = Field(None, max_length=100, description="Genre to explain: label id, "
                              "English or Chinese name; default: the top genre.")
    budget: int | None = Field(None, ge=1, le=MAX_API_BUDGET,
                               description=f"Most forward passes of the network (at least one "
                               f"per analysed chunk; more = a finer map, slower). Default "
                               f"{DEFAULT_BUDGET}, or one per chunk for longer windows.")
    lang: Literal["en", "zh"] = Field("en", description="Language of names and the figure.")
    format: Literal["json", "png"] = Field(
        "json", description="json: the map as numbers with its axes, the prediction and the "
        "figure as base64 PNG; png: the figure only (image/png).")


_FORM_SCHEMA = {"type": "object", "required": ["file"], "properties": {
    "file": {"type": "string", "format": "binary", "description": "The audio file."},
    **ExplainOptions.model_json_schema()["properties"]}}


def explain_router(service: Service) -> fastapi.APIRouter:
    """The ``/api/v1/explain`` route over ``service``.

    Parameters
    ----------
    service : genrescope.server.service.Service
        Its ``pool``, ``analyse`` and ``upload`` are used.

    Returns
    -------
    fastapi.APIRouter
    """
    router = fastapi.APIRouter()
    one_at_a_time = threading.Lock()

    def run(path, opts: ExplainOptions) -> dict | bytes:
        from ..plot import explanation_figure, figure_png

        prediction = service.analyse(path, opts.model, offset_s=opts.offset_s,
                                     duration_s=opts.duration_s)
        clf = service.pool.get(opts.model)
        n_chunks = len(prediction.chunk_probabilities)
        if opts.budget is None and n_chunks > MAX_API_BUDGET:
            raise GenrescopeError(f"This window has {n_chunks} chunks; the server explains at "
                                  f"most {MAX_API_BUDGET}: send a shorter duration_s.")
        with one_at_a_time:
            why = explain_prediction(clf, prediction, genre=opts.genre, budget=opts.budget)
        png = figure_png(explanation_figure(why, lang=opts.lang))
        if opts.format == "png":
            return png
        return {"explanation": why.to_dict(opts.lang),
                "prediction": prediction.to_dict(opts.lang),
                "png_base64": base64.b64encode(png).decode("ascii")}

    @router.post("/api/v1/explain", tags=["api"], responses={
        200: {"content": {"image/png": {}}, "description": "JSON, or the PNG with format=png"},
        **UPLOAD_ERRORS, **error_responses(
            e404="Unknown model, or its weights are missing",
            e422="Unreadable audio, an unknown genre, a budget under one pass per chunk, more "
                 "audio than the server's limit, or a bad form value")},
        openapi_extra={"requestBody": {"required": True, "content": {
            "multipart/form-data": {"schema": _FORM_SCHEMA}}}})
    async def explain_upload(request: fastapi.Request):
        """Why the model said a genre: occlusion heat map over the spectrogram of one
        uploaded file (multipart field ``file``), as numbers and as a PNG."""
        async with service.upload(request, prefix="genrescope-explain-") as upload:
            if upload is None:
                return Response(status_code=400)
            opts = form_options(ExplainOptions, upload.fields)
            await run_in_threadpool(service.pool.check_name, opts.model)
            upload.require_audio()
            if await request.is_disconnected():
                return Response(status_code=400)
            result = await run_in_threadpool(run, upload.path, opts)
            if isinstance(result, bytes):
                return Response(result, media_type="image/png")
            result["prediction"]["file"] = upload.shown_name
            return result

    return router
