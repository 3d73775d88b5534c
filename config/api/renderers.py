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
    handler, which DRF marks with `response.exception`), so they pass through. The message
    is the response's own (`config.api.responses.APIResponse(data, message=...)`), else
    the view's for its action (a viewset's `success_messages = {"list": ...}`, or
    `success_message` on a plain view), else a default for the status.
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
            message = (
                getattr(response, "message", None)
                or _view_message((renderer_context or {}).get("view"))
                or DEFAULT_MESSAGES.get(response.status_code, "OK")
            )
            data = success_body(data, message)
        return super().render(data, accepted_media_type, renderer_context)


def _view_message(view: Any) -> str | None:
    messages = getattr(view, "success_messages", None)
    if messages is not None:
        message: str | None = messages.get(getattr(view, "action", None))
        return message
    return getattr(view, "success_message", None)
