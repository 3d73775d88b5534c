"""
OpenAPI generation (drf-spectacular) that describes responses as they really are.

Every success body is wrapped in the envelope (`<Payload>Envelope` components, `data: null`
where there is no payload, never a bare 204), and every operation lists its error
responses as the `ErrorEnvelope` component. A view adds statuses of its own (409, 423,
429, ...) with a class attribute `error_statuses = {409: "Username taken", ...}`.

A DELETE that reads a body (`@extend_schema(request=...)`, e.g. the password confirming an
account deletion) documents it, as POST, PUT and PATCH do. A serializer whose `Meta` lists
`optional_fields` documents them as not always present in responses (e.g. the session-only
fields of a token).
"""

from __future__ import annotations

import copy
from typing import Any

from django.core.validators import ProhibitNullCharactersValidator, RegexValidator
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import ResolvedComponent, force_instance
from rest_framework import serializers

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
            "description": "Field errors as `{field: [messages]}`, always a flat list of "
            "strings (an error in a list item or a nested object is prefixed with "
            "`Item 2: ` or `city: `), or extra data such as `retry_after`.",
        },
    },
}


# The characters `str.strip()` removes, which is how DRF trims: more than the `\s` of a
# JSON Schema pattern (ECMA 262) holds (the separators U+001C-U+001F and U+0085 are not in
# it, and its U+FEFF is not stripped), so a value of them alone would pass `\S` and then
# be refused as blank.
PYTHON_WHITESPACE = (
    r"\u0009-\u000d\u001c-\u0020\u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
)


def _text_pattern(field: serializers.CharField) -> str | None:
    """The rules every DRF text field applies that `minLength` does not say: no NUL
    character, and not only whitespace, which DRF trims away (a blank value, where a field
    allows one, is the `""` alternative drf-spectacular adds beside the pattern)."""
    if any(isinstance(v, RegexValidator) for v in field.validators):
        return None  # the field's own pattern, which drf-spectacular documents
    no_nul = any(isinstance(v, ProhibitNullCharactersValidator) for v in field.validators)
    if field.allow_blank:
        # Whitespace alone is trimmed to the blank value, which is allowed.
        return r"^[^\u0000]+$" if no_nul else None
    if field.trim_whitespace:
        if no_nul:
            return rf"^[^\u0000]*[^{PYTHON_WHITESPACE}\u0000][^\u0000]*$"
        return rf"[^{PYTHON_WHITESPACE}]"
    return r"^[^\u0000]*$" if no_nul else None


class EnvelopeAutoSchema(AutoSchema):
    def _component(self, name: str, schema: dict[str, Any]) -> dict[str, Any]:
        component = ResolvedComponent(
            name=name, type=ResolvedComponent.SCHEMA, schema=schema, object=name
        )
        self.registry.register_on_missing(component)
        return component.ref

    def _error_ref(self) -> dict[str, Any]:
        # A copy: drf-spectacular's enum hook rewrites component schemas in place, and the
        # next document served by this process would point to a `CodeEnum` it lacks.
        error = self._component("Error", copy.deepcopy(ERROR_SCHEMA))
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

    def _declares_delete_body(self) -> bool:
        """Whether a DELETE names its own request serializer (the default serializer of a
        generic view is no body: DELETE handlers here declare theirs or `request=None`)."""
        declared = self.get_request_serializer()
        if declared is None or not hasattr(self.view, "get_serializer"):
            return declared is not None
        default = AutoSchema.get_request_serializer(self)
        return type(force_instance(declared)) is not type(force_instance(default))

    def _get_request_body(self, direction: str = "request") -> Any:
        if self.method != "DELETE" or not self._declares_delete_body():
            return super()._get_request_body(direction)
        # drf-spectacular documents bodies for POST, PUT and PATCH only.
        self.method = "POST"
        try:
            return super()._get_request_body(direction)
        finally:
            self.method = "DELETE"

    def _map_serializer_field(
        self, field: Any, direction: str, bypass_extensions: bool = False
    ) -> dict[str, Any]:
        schema: dict[str, Any] = super()._map_serializer_field(field, direction, bypass_extensions)
        if direction == "request" and isinstance(field, serializers.CharField):
            text_pattern = _text_pattern(field)
            if text_pattern and schema.get("type") == "string" and "pattern" not in schema:
                # A regex validator of the field's own, if any, replaces this one.
                schema["pattern"] = text_pattern
        return schema

    def _map_basic_serializer(self, serializer: Any, direction: str) -> dict[str, Any]:
        schema: dict[str, Any] = super()._map_basic_serializer(serializer, direction)
        optional = getattr(getattr(serializer, "Meta", None), "optional_fields", ())
        if optional and "required" in schema:
            schema["required"] = [name for name in schema["required"] if name not in optional]
            if not schema["required"]:
                del schema["required"]
        return schema

    def _error_statuses(self) -> dict[str, str]:
        statuses: dict[int, str] = {}
        takes_body = self._get_request_body() is not None
        query = (
            self._get_filter_parameters()
            or self._get_pagination_parameters()
            or any(
                getattr(parameter, "location", "query") == "query"
                for parameter in self.get_override_parameters()
            )
        )
        if takes_body or query:
            statuses[400] = "Invalid input"
        if takes_body:
            statuses[413] = "Request body too large"
            statuses[415] = "Unsupported media type"
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
