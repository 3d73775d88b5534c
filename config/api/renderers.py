"""The renderer that wraps every DRF response in the envelope."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rest_framework.renderers import JSONRenderer

from config.api.envelope import success_body

DEFAULT_MESSAGES = {201: "Created"}


class EnvelopeRenderer(JSONRenderer):
    """
    Wrap a successful response's data as `{"success": true, "message", "data"}`.

    Error responses already hold the full error envelope (built by the exception
    handler, which DRF marks with `response.exception`), so they pass through. A view
    names its message with `config.api.responses.APIResponse(data, message=...)`.
    """

    charset = "utf-8"

    def render(
        self,
        data: Any,
        accepted_media_type: str | None = None,
        renderer_context: Mapping[str, Any] | None = None,
    ) -> bytes:
        response = (renderer_context or {}).get("response")
        if response is not None and not getattr(response, "exception", False):
            message = getattr(response, "message", None) or DEFAULT_MESSAGES.get(
                response.status_code, "OK"
            )
            data = success_body(data, message)
        return super().render(data, accepted_media_type, renderer_context)
