"""
OpenAPI generation (drf-spectacular) that describes responses as they really are.

Every success body is wrapped in the envelope (`<Payload>Envelope` components, `data: null`
where there is no payload, never a bare 204), and every operation lists its error
responses as the `ErrorEnvelope` component. A view adds statuses of its own (409, 423,
429, ...) with a class attribute `error_statuses = {409: "Username taken", ...}`.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import ResolvedComponent

from config.api.exceptions import ErrorCode

JSON = "application/json"

ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["code", "message"],
    "properties": {
        "code": {"type": "string", "enum": [code.value for code in ErrorCode]},
        "message": {"type": "string"},
        "details": {
            "type": "object",
            "additionalProperties": {},
            "description": "Field errors as `{field: [messages]}`, or extra data such as "
            "`retry_after`.",
        },
    },
}


class EnvelopeAutoSchema(AutoSchema):
    def _component(self, name: str, schema: dict[str, Any]) -> dict[str, Any]:
        component = ResolvedComponent(
            name=name, type=ResolvedComponent.SCHEMA, schema=schema, object=name
        )
        self.registry.register_on_missing(component)
        return component.ref

    def _error_ref(self) -> dict[str, Any]:
        error = self._component("Error", ERROR_SCHEMA)
        return self._component(
            "ErrorEnvelope",
            {
                "type": "object",
                "required": ["success", "message", "error"],
                "properties": {
                    "success": {"type": "boolean", "description": "Always false."},
                    "message": {"type": "string"},
                    "error": error,
                },
            },
        )

    def _envelope(self, inner: dict[str, Any] | None) -> dict[str, Any]:
        schema: dict[str, Any] = {
            "type": "object",
            "required": ["success", "message", "data"],
            "properties": {
                "success": {"type": "boolean", "description": "Always true."},
                "message": {"type": "string"},
                "data": inner if inner is not None else {"type": "object", "nullable": True},
            },
        }
        ref = (inner or {}).get("$ref", "")
        if ref.startswith("#/components/schemas/"):
            return self._component(ref.rsplit("/", 1)[1] + "Envelope", schema)
        return schema

    def _error_statuses(self) -> dict[str, str]:
        statuses: dict[int, str] = {}
        if self.method in ("POST", "PUT", "PATCH") or self._get_filter_parameters():
            statuses[400] = "Invalid input"
        if getattr(self.view, "authentication_classes", None) and self.get_auth():
            statuses[401] = "Not authenticated, or the token is invalid or expired"
            statuses[403] = "Not allowed"
        if "{" in self.path:
            statuses[404] = "Not found"
        statuses.update(getattr(self.view, "error_statuses", {}))
        return {str(code): description for code, description in sorted(statuses.items())}

    def _get_response_bodies(self, direction: Any = "response") -> dict[str, Any]:
        responses: dict[str, Any] = super()._get_response_bodies(direction)
        result: dict[str, Any] = {}
        for code, response in responses.items():
            if not code.startswith("2"):
                result[code] = response
                continue
            content = response.get("content") or {JSON: {"schema": None}}
            result["200" if code == "204" else code] = {
                **response,
                "content": {
                    media: {**body, "schema": self._envelope(body.get("schema"))}
                    for media, body in content.items()
                },
            }
        error = {JSON: {"schema": self._error_ref()}}
        for code, description in self._error_statuses().items():
            result.setdefault(code, {"description": description, "content": error})
        result.setdefault("default", {"description": "Any other error", "content": error})
        return result
