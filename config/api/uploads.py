"""Uploads: the handler that stops reading a body past the cap, and the view serving
stored files at /uploads/<name>."""

from __future__ import annotations

import re
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.core.files.storage import default_storage
from django.core.files.uploadhandler import FileUploadHandler
from django.http import FileResponse, HttpRequest, HttpResponseBase
from django.utils.cache import get_conditional_response
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_safe

from config.api.envelope import error_response
from config.api.exceptions import ErrorCode


class CappedUploadHandler(FileUploadHandler):
    """Count the bytes of every file in a request and refuse (413) past MAX_REQUEST_BYTES.

    It sits first in FILE_UPLOAD_HANDLERS and passes each chunk on, so the handlers after
    it never write more than the cap to memory or disk.
    """

    def handle_raw_input(
        self,
        input_data: Any,
        META: dict[str, Any],
        content_length: int,
        boundary: Any,
        encoding: str | None = None,
    ) -> None:
        self.received = 0
        if content_length > settings.MAX_REQUEST_BYTES:
            raise RequestDataTooBig("Request body too large")

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes:
        self.received += len(raw_data)
        if self.received > settings.MAX_REQUEST_BYTES:
            raise RequestDataTooBig("Request body too large")
        return raw_data

    def file_complete(self, file_size: int) -> None:
        return None


# Stored names are <32 hex>.<jpg|png|webp>; nothing else under /uploads/ is served.
UPLOAD_NAME = re.compile(r"[0-9a-f]{32}\.(jpg|png|webp)")
CONTENT_TYPES = {"jpg": "image/jpeg", "png": "image/png", "webp": "image/webp"}
# Names are random and never reused, so a file under a name never changes.
IMMUTABLE = "public, max-age=31536000, immutable"


def _not_found() -> HttpResponseBase:
    return error_response(404, ErrorCode.NOT_FOUND, "Not found")


# csrf_exempt: the CSRF check runs before require_safe and would answer a POST with a
# 403; this view only ever reads, and any unsafe method is the 405 envelope (with Allow).
@csrf_exempt
@require_safe
def serve_upload(request: HttpRequest, name: str) -> HttpResponseBase:
    """Serve one stored upload with its real content type; anything else is a 404 envelope."""
    match = UPLOAD_NAME.fullmatch(name)
    if match is None:
        return _not_found()
    etag = f'"{name}"'
    not_modified = get_conditional_response(request, etag=etag)
    if not_modified is not None:
        not_modified["Cache-Control"] = IMMUTABLE
        return not_modified
    try:
        handle = default_storage.open(name, "rb")
    except (FileNotFoundError, IsADirectoryError):
        return _not_found()
    response = FileResponse(handle, content_type=CONTENT_TYPES[match.group(1)])
    response["ETag"] = etag
    response["Cache-Control"] = IMMUTABLE
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["Content-Disposition"] = "inline"
    return response
