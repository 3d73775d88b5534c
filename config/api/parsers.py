"""The request parsers: bodies are JSON (API.md), multipart only where a file is uploaded,
and form-encoded only for the login (OAuth2 password-flow clients).

Both parsers refuse what DRF's would let through: JSON nested too deeply to parse (a
RecursionError, which DRF does not catch, would be a 500), and a multipart body that
cannot be read (Django's parser reads it as an empty form).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import IO, Any, cast

from django.utils.http import parse_header_parameters
from rest_framework import parsers
from rest_framework.exceptions import ParseError


class JSONParser(parsers.JSONParser):
    def parse(
        self,
        stream: Any,
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> Any:
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError as exc:
            raise ParseError("JSON parse error - nested too deeply") from exc


# How much of a multipart body is kept, to judge one that yielded no field (an empty form
# is a few dozen bytes).
_MULTIPART_HEAD = 64 * 1024
_CONTENT_DISPOSITION = re.compile(rb"^content-disposition:", re.IGNORECASE | re.MULTILINE)


class _Head:
    """A stream that keeps the first bytes read from it."""

    def __init__(self, stream: Any) -> None:
        self.stream, self.head = stream, bytearray()

    def read(self, *args: Any) -> bytes:
        chunk: bytes = self.stream.read(*args)
        if len(self.head) < _MULTIPART_HEAD:
            self.head += chunk[: _MULTIPART_HEAD - len(self.head)]
        return chunk


class StrictMultiPartParser(parsers.MultiPartParser):
    """Multipart that refuses a body it cannot read, instead of reading it as no fields.

    Django's parser skips whatever it does not understand: junk, or parts without a
    `Content-Disposition`, parse as an empty form, and a PATCH of an empty form would answer
    200 and change nothing. A body that yields no field is accepted only when it is a
    well-formed empty form (a closing delimiter, and a `Content-Disposition` for each part,
    e.g. an empty file input); else it is a PARSE_ERROR.
    """

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        head = _Head(stream)
        result = super().parse(cast(IO[Any], head), media_type, parser_context)
        if not result.data and not result.files:
            boundary = parse_header_parameters(media_type or "")[1].get("boundary", "")
            delimiter = b"--" + boundary.encode("latin-1", "replace")
            body = bytes(head.head)
            parts = body.count(delimiter) - 1
            if (
                not boundary
                or delimiter + b"--" not in body
                or len(_CONTENT_DISPOSITION.findall(body)) < parts
            ):
                raise ParseError("Malformed multipart body")
        return result


JSON_ONLY: list[type[parsers.BaseParser]] = [JSONParser]
