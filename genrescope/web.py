"""``genrescope serve``: the web page at ``/`` and the REST API under ``/api/v1``.

The server lives in :mod:`genrescope.server` (``guard``, ``uploads``,
``service``, ``api``, ``app``); this module keeps the names other code and
scripts import (``from genrescope.web import create_app, serve``).
"""

from .server.app import bound_names, create_app, is_loopback, serve
from .server.service import MAX_ANALYSES, MAX_DURATION_S, ModelPool, Service, hide_path
from .server.uploads import MultipartUpload, safe_extension

__all__ = ["MAX_ANALYSES", "MAX_DURATION_S", "ModelPool", "MultipartUpload", "Service",
           "bound_names", "create_app", "hide_path", "is_loopback", "safe_extension", "serve"]
