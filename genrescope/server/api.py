"""The REST API: ``/healthz``, ``GET /api/v1/models``, ``POST /api/v1/classify``
(see docs/api.md), its JSON error shape ``{"error": ...}`` and the last-resort
405/404 route. A thin shell over :class:`~genrescope.server.service.Service`.
"""

from __future__ import annotations

from typing import Literal, TypeVar

import fastapi
from fastapi.exception_handlers import request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import compile_path

from .. import __version__
from ..audio import MAX_SECONDS
from ..errors import GenrescopeError
from ..labels import genre
from ..models.registry import ModelEntry
from .guard import METHODS
from .service import ModelPool, Service


class WindowOptions(BaseModel):
    """Form fields every analysis route takes: which model, which window."""

    model_config = ConfigDict(extra="forbid")
    model: str | None = Field(None, description="Model name (GET /api/v1/models); "
                              "default: the server's default model.")
    offset_s: float = Field(0.0, ge=0, le=MAX_SECONDS, allow_inf_nan=False,
                            description="Start of the analysed window, seconds.")
    duration_s: float = Field(30.0, ge=0, le=MAX_SECONDS, allow_inf_nan=False,
                              description="Seconds to analyse; 0 = whole file (the server "
                              "caps what one request may analyse: 422 above it).")


class ClassifyOptions(WindowOptions):
    """Form fields of ``POST /api/v1/classify`` besides ``file``."""

    top_k: int = Field(5, ge=1, le=100, description="How many genres to return.")
    lang: Literal["en", "zh"] = Field("en", description="Language of the genre names.")


class ApiError(BaseModel):
    """Every error of the API (4xx, and 500 for a bug): ``{"error": "..."}``."""

    error: str = Field(description="What happened and what to do.")


def error_responses(**why: str) -> dict:
    """OpenAPI ``responses=`` for error answers, as ``e404="why"``: each an
    :class:`ApiError` (FastAPI's default 422 says ``{"detail": [...]}``; ours
    says ``{"error": ...}``, so every route with inputs declares its 422)."""
    schema = ApiError.model_json_schema()      # inline: JSON also on routes answering HTML
    return {int(code.lstrip("e")): {"description": text, "content": {
        "application/json": {"schema": schema}}} for code, text in why.items()}


#: The upload routes' errors (each route adds its own).
UPLOAD_ERRORS = error_responses(
    e408="Upload too slow",
    e413="Upload over the size limit",
    e422="Unreadable or empty audio, a bad form value, or more audio than the server's limit")
_ERRORS = UPLOAD_ERRORS | error_responses(
    e404="Unknown model, or its weights are missing (the reason says where to put them)")
_FORM_SCHEMA = {"type": "object", "required": ["file"], "properties": {
    "file": {"type": "string", "format": "binary", "description": "The audio file."},
    **ClassifyOptions.model_json_schema()["properties"]}}


T = TypeVar("T", bound=BaseModel)


def form_options(options: type[T], fields: dict[str, str]) -> T:
    """A form's fields (empty ones left out) validated as ``options``; a bad
    value is a :class:`GenrescopeError` (422) naming each field and why.
    The one conversion of the server's routes."""
    try:
        return options.model_validate({k: v for k, v in fields.items() if v != ""})
    except ValidationError as exc:
        raise GenrescopeError("; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'form'}: {e['msg']}" for e in exc.errors())) \
            from None


def _entry_json(entry: ModelEntry, pool: ModelPool) -> dict:
    config = entry.config
    names, labels = (config.label_names, config.labels) if config else (None, [])
    out = {"name": entry.name, "source": entry.source, "available": entry.available,
           "default": entry.name == pool.default,
           "loaded": pool.is_loaded(entry),
           "preparing": pool.is_preparing(entry),
           "display_name": (config.display_name if config else None) or entry.name,
           "labels": [{"label": g.id, "name_en": g.en, "name_zh": g.zh}
                      for g in (genre(label, names) for label in labels)]}
    if not entry.available:
        out["reason"] = pool.public_text(entry.reason)
    return out


def add_error_handlers(app: fastapi.FastAPI, pool: ModelPool, hidden: dict | None = None) -> None:
    """Every API error as ``{"error": ...}`` (server paths hidden: the models
    folder, and each path of ``hidden`` shown as its value, e.g. the library's
    database as ``<library>``)."""

    @app.exception_handler(GenrescopeError)
    async def _user_error(request, exc: GenrescopeError):
        text = pool.public_text(str(exc))
        for path, shown in (hidden or {}).items():
            text = text.replace(path, shown)
        return JSONResponse({"error": text}, status_code=exc.status)

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


def api_router(service: Service) -> fastapi.APIRouter:
    """``/healthz``, ``/api/v1/models`` and ``/api/v1/classify`` over ``service``."""
    router = fastapi.APIRouter()
    pool = service.pool

    @router.get("/healthz", tags=["service"])
    async def healthz() -> dict:
        """Liveness: answers at once, even while analyses run."""
        return {"status": "ok", "version": __version__, "loaded_models": len(pool.loaded()),
                "preparing_models": len(pool.preparing())}

    @router.get("/api/v1/models", tags=["api"])
    async def models() -> list[dict]:
        """Every known model: ``name``, ``labels``, ``available`` (and ``reason`` if not)."""
        entries = await run_in_threadpool(pool.entries)
        return [_entry_json(e, pool) for e in entries]

    @router.post("/api/v1/classify", tags=["api"], responses=_ERRORS, openapi_extra={
        "requestBody": {"required": True, "content": {"multipart/form-data": {
            "schema": _FORM_SCHEMA}}}})
    async def classify(request: fastapi.Request) -> dict:
        """Top genres of one uploaded audio file (multipart field ``file``)."""
        async with service.upload(request) as upload:
            if upload is None:
                return fastapi.Response(status_code=400)
            opts = form_options(ClassifyOptions, upload.fields)
            await run_in_threadpool(pool.check_name, opts.model)
            upload.require_audio()
            if await request.is_disconnected():       # the client left: do not analyse
                return fastapi.Response(status_code=400)
            pred = await run_in_threadpool(
                service.analyse, upload.path, opts.model, offset_s=opts.offset_s,
                duration_s=opts.duration_s, top_k=opts.top_k)
            result = pred.to_dict(opts.lang) | {"file": upload.shown_name}
            await run_in_threadpool(service.keep, upload.path, upload.ext, result)
            return result

    return router


def add_fallback(app: fastapi.FastAPI) -> None:
    """Last API routes: 405 (with ``Allow``) for a known path asked with another
    method, 404 for an unknown ``/api/`` path, both as ``{"error": ...}``
    (without them the page mounted at ``/`` would answer in its own shape).
    Add it after every other route."""

    @app.api_route("/healthz", methods=[m for m in METHODS if m not in ("GET", "HEAD")],
                   include_in_schema=False)
    @app.api_route("/api/{rest:path}", methods=list(METHODS), include_in_schema=False)
    async def _not_here(request: fastapi.Request):
        allowed = sorted({m.upper() for path, item in app.openapi()["paths"].items()
                          if compile_path(path)[0].fullmatch(request.url.path)
                          for m in item})
        if allowed:
            return JSONResponse({"error": f"Method {request.method} is not allowed here: use "
                                          f"{', '.join(allowed)}."}, 405,
                                headers={"Allow": ", ".join(allowed)})
        return JSONResponse({"error": f"No API route {request.url.path}: see /docs."}, 404)
