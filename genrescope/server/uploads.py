"""Receive one uploaded audio file from a ``multipart/form-data`` body.

Parsing is Starlette's streaming :class:`~starlette.formparsers.MultiPartParser`
(over python-multipart): at most one file, ten small fields of at most
:data:`MAX_FIELD_BYTES` each. This module adds what a server open to any
client needs around it: the size limit checked while the body streams (and
from ``Content-Length``), a deadline for slow clients (idle time and average
rate), a body cut before its closing boundary refused, and the file stored in
the request's own folder under a name that owes nothing to the client's.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import time
from pathlib import Path

import fastapi
from python_multipart.multipart import parse_options_header
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser

from ..errors import GenrescopeError

MAX_FIELD_BYTES = 1024    # a form field other than the file
MAX_FIELDS = 10
UPLOAD_IDLE_S = 30.0      # an upload that sends nothing for this long is dropped (408)
UPLOAD_GRACE_S = 30.0     # then it must keep an average of at least MIN_UPLOAD_RATE
MIN_UPLOAD_RATE = 16 * 1024   # bytes/s


def safe_extension(filename: str | None) -> str:
    """The lower-cased extension of a client's file name if it is a plain one
    (``.mp3``), else ``""``. The name itself is never used as a path."""
    ext = os.path.splitext(os.path.basename((filename or "").replace("\\", "/")))[1].lower()
    return ext if re.fullmatch(r"\.[a-z0-9]{1,8}", ext) else ""


class _Parser(MultiPartParser):
    """Starlette's parser, noting whether the closing boundary arrived."""

    complete = False

    def on_end(self) -> None:
        self.complete = True


class MultipartUpload:
    """One upload: ``await receive(request)``, then ``path``, ``fields``,
    ``size``, ``ext`` and :attr:`shown_name`.

    Parameters
    ----------
    folder : Path
        The request's private folder; the file is stored there as ``upload<.ext>``.
    limit : int
        Largest file in bytes (413 above).
    idle_s, grace_s, min_rate : float
        Slow clients: 408 after ``idle_s`` without data, or when the body
        arrives at under ``min_rate`` bytes/s on average after ``grace_s``.
    """

    def __init__(self, folder: Path, limit: int, *, idle_s: float = UPLOAD_IDLE_S,
                 grace_s: float = UPLOAD_GRACE_S, min_rate: float = MIN_UPLOAD_RATE):
        self.folder, self.limit = Path(folder), limit
        self.idle_s, self.grace_s, self.min_rate = idle_s, grace_s, min_rate
        self.fields: dict[str, str] = {}
        self.path: Path | None = None
        self.filename, self.ext, self.size = "", "", 0

    @property
    def shown_name(self) -> str:
        """The client's file name, for messages only."""
        return os.path.basename(self.filename.replace("\\", "/")) or "the upload"

    def require_audio(self) -> None:
        """Refuse (422) an empty file: it holds no audio."""
        if self.size == 0:
            raise GenrescopeError("The uploaded file is empty (0 bytes): it holds no audio.")

    async def receive(self, request: fastapi.Request) -> None:
        """Read the body; raises :class:`GenrescopeError` (408, 413, 422) or
        ``starlette.requests.ClientDisconnect``."""
        ctype, params = parse_options_header(request.headers.get("content-type", ""))
        if ctype != b"multipart/form-data" or b"boundary" not in params:
            raise GenrescopeError("Send the audio as multipart/form-data in a field named 'file'.")
        if int(request.headers.get("content-length") or 0) > self.limit + 1024 * 1024:
            raise self._too_large()
        parser = _Parser(request.headers, self._body(request), max_files=1,
                         max_fields=MAX_FIELDS, max_part_size=MAX_FIELD_BYTES)
        try:
            form = await parser.parse()
        except MultiPartException as exc:                   # a client's fault: 422, not 500
            raise GenrescopeError(f"The multipart/form-data body is malformed ({exc}): send "
                                  "the audio in a form field named 'file'.") from None
        try:
            if not parser.complete:
                raise GenrescopeError("The multipart/form-data body is malformed (the closing "
                                      "boundary is missing: the body was cut): send it again.")
            upload = form.get("file")
            if not isinstance(upload, UploadFile):
                raise GenrescopeError("No audio: send the file in the form field 'file'.")
            self.fields = {k: v for k, v in form.multi_items() if isinstance(v, str)}
            self.filename = upload.filename or ""
            self.ext = safe_extension(self.filename)
            self.path = self.folder / f"upload{self.ext}"
            await run_in_threadpool(self._store, upload)
            if self.size > self.limit:
                raise self._too_large()
        finally:
            await form.close()

    def _store(self, upload: UploadFile) -> None:
        upload.file.seek(0)
        with open(self.path, "wb") as out:
            shutil.copyfileobj(upload.file, out, 1024 * 1024)
        self.size = self.path.stat().st_size

    async def _body(self, request: fastapi.Request):
        """The request body, with the size and speed limits applied."""
        start, received = time.monotonic(), 0
        chunks = request.stream().__aiter__()
        while True:
            try:
                chunk = await asyncio.wait_for(chunks.__anext__(), self.idle_s)
            except StopAsyncIteration:
                return
            except asyncio.TimeoutError:
                raise self._too_slow() from None
            received += len(chunk)
            if received > self.limit + 64 * 1024:          # the file, plus its small fields
                raise self._too_large()
            if time.monotonic() - start > self.grace_s + received / self.min_rate:
                raise self._too_slow()
            yield chunk

    def _too_slow(self) -> GenrescopeError:
        return GenrescopeError(f"The upload was too slow (nothing for {self.idle_s:g} s, or "
                               f"under {self.min_rate / 1024:g} KiB/s on average): send it "
                               "again over a faster connection.", status=408)

    def _too_large(self) -> GenrescopeError:
        return GenrescopeError(f"The upload is larger than the limit of "
                               f"{self.limit / 1024 / 1024:.3g} MB.", status=413)
