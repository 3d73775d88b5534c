"""
OpenAPI generation (drf-spectacular) that describes responses as they really are.

Every success body is wrapped in the envelope (`<Payload>Envelope` components,
`EmptyEnvelope` where `data` is null, never a bare 204); its `success` is `true` only, and
its description is the action's success message (a viewset's `success_messages`, a view's
`success_message`).

Every error status an operation can answer is listed with the codes it can carry: an
`Error<status>` component (`Error401`: `NOT_AUTHENTICATED`, `TOKEN_INVALID`,
`TOKEN_EXPIRED`), or, for another set of codes, one named after them
(`Error401InvalidCredentials`), each in its envelope (`Error401Envelope`, `success` false
only) with an example. What every operation states follows from the operation itself (a
body: 400, 413, 415; a query: 400; bearer authentication: 401, 403; an id in the path:
404); a view adds or changes statuses with `error_statuses = {status: description}` (the
status's usual codes) or `{status: (description, [codes])}`, for all its operations as a
class attribute, or for one action with `@errors({...})`; `None` removes a status. The
`default` response is the general `ErrorEnvelope`: what any operation may answer whatever
it does (405, 406, 500, 503, a body over the cap, a `Host` not allowed).

operationIds come from the path (`admin_users_block`, `auth_login`, `users_me_update`);
see `EnvelopeAutoSchema.get_operation_id`.

A DELETE that reads a body (`@extend_schema(request=...)`, e.g. the password confirming an
account deletion) documents it, as POST, PUT and PATCH do. A serializer whose `Meta` lists
`optional_fields` documents them as not always present in responses (e.g. the session-only
fields of a token).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence
from http import HTTPStatus
from typing import Any, TypeVar, cast

from django.core.validators import ProhibitNullCharactersValidator, RegexValidator
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import ResolvedComponent, force_instance, is_serializer
from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated

from config.api.exceptions import ErrorCode

JSON = "application/json"
EMPTY_ENVELOPE = "EmptyEnvelope"

# What a view declares for a status: a description (the status's usual codes), or a
# description and the codes; None leaves the status out.
ErrorStatus = str | tuple[str, Sequence[ErrorCode]] | None
ErrorStatuses = Mapping[int, ErrorStatus]

C = ErrorCode

# Each status's description and the codes it carries, unless a view says otherwise.
DOCUMENTED_ERRORS: dict[int, tuple[str, tuple[ErrorCode, ...]]] = {
    400: ("Invalid input, or a malformed body", (C.VALIDATION_ERROR, C.PARSE_ERROR, C.BAD_REQUEST)),
    401: (
        "Not authenticated, or the token is invalid or expired",
        (C.NOT_AUTHENTICATED, C.TOKEN_INVALID, C.TOKEN_EXPIRED),
    ),
    # The usual set of a staff write; each operation's own comes from its permission
    # classes (`EnvelopeAutoSchema._refusals`).
    403: ("Not allowed", (C.FORBIDDEN, C.INSUFFICIENT_SCOPE, C.MFA_ENROLLMENT_REQUIRED)),
    404: ("Not found", (C.NOT_FOUND,)),
    409: ("Already taken", (C.CONFLICT,)),
    413: ("Request body too large", (C.PAYLOAD_TOO_LARGE,)),
    415: ("Unsupported media type", (C.UNSUPPORTED_MEDIA_TYPE,)),
    423: ("Account locked", (C.ACCOUNT_LOCKED,)),
    429: ("Too many attempts", (C.RATE_LIMITED,)),
    503: ("A part the request needs is down", (C.SERVICE_UNAVAILABLE,)),
}
# A query string has no body to be malformed.
QUERY_ERRORS = ("Invalid query parameter", (C.VALIDATION_ERROR, C.BAD_REQUEST))
# Shorter names for some other sets of codes than a status's usual ones.
CODE_SET_NAMES: dict[tuple[int, tuple[ErrorCode, ...]], str] = {
    (400, QUERY_ERRORS[1]): "Error400Query",
    (401, (C.TOKEN_INVALID, C.TOKEN_EXPIRED)): "Error401Token",
    (403, (C.ACCOUNT_INACTIVE, C.EMAIL_NOT_VERIFIED)): "Error403Login",
    (403, (C.FORBIDDEN,)): "Error403Forbidden",
    (403, (C.FORBIDDEN, C.INSUFFICIENT_SCOPE)): "Error403Scope",
    (403, (C.FORBIDDEN, C.MFA_ENROLLMENT_REQUIRED)): "Error403SecondFactor",
    (403, (C.INSUFFICIENT_SCOPE, C.MFA_ENROLLMENT_REQUIRED)): "Error403Session",
}

# A realistic message and details per code, for the examples.
EXAMPLES: dict[ErrorCode, tuple[str, dict[str, Any] | None]] = {
    C.VALIDATION_ERROR: ("Invalid input", {"email": ["Enter a valid email address."]}),
    C.PARSE_ERROR: ("Malformed request body", None),
    C.BAD_REQUEST: ("Bad request", None),
    C.NOT_AUTHENTICATED: ("Authentication credentials were not provided.", None),
    C.INVALID_CREDENTIALS: ("Invalid username or password", None),
    C.TOKEN_INVALID: ("Token is invalid", None),
    C.TOKEN_EXPIRED: ("Token has expired", None),
    C.FORBIDDEN: ("You do not have permission to perform this action", None),
    C.ACCOUNT_INACTIVE: ("This account is blocked", None),
    C.EMAIL_NOT_VERIFIED: (
        "This email address is not verified yet: open the link mailed to it",
        None,
    ),
    C.INSUFFICIENT_SCOPE: ("This needs a login session, not a personal access token.", None),
    C.MFA_ENROLLMENT_REQUIRED: ("Enrol a second factor first: this account must have one", None),
    C.NOT_FOUND: ("Not found", None),
    C.METHOD_NOT_ALLOWED: ('Method "PATCH" not allowed.', None),
    C.NOT_ACCEPTABLE: ("Could not satisfy the request Accept header.", None),
    C.CONFLICT: ("Already taken", {"username": ["This username is already taken."]}),
    C.PAYLOAD_TOO_LARGE: ("Request body too large", None),
    C.UNSUPPORTED_MEDIA_TYPE: ('Unsupported media type "text/plain" in request.', None),
    C.ACCOUNT_LOCKED: (
        "Account locked after too many failed logins",
        {"locked_until": "2026-11-26T10:30:00Z", "retry_after": 1800},
    ),
    C.RATE_LIMITED: ("Too many attempts, try again later", {"retry_after": 600}),
    C.INTERNAL_ERROR: ("Internal server error", None),
    C.SERVICE_UNAVAILABLE: (
        "Service temporarily unavailable",
        {"database": ["The database does not answer."]},
    ),
}

DETAILS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": {},
    "description": "Field errors as `{field: [messages]}`, always a flat list of strings (an "
    "error in a list item or a nested object is prefixed with `Item 2: ` or `city: `), or "
    "extra data such as `retry_after`.",
}
RETRY_AFTER = {"type": "integer", "minimum": 1, "description": "Seconds to wait."}
# The details a code always carries.
CODE_DETAILS: dict[ErrorCode, dict[str, Any]] = {
    C.RATE_LIMITED: {
        "type": "object",
        "required": ["retry_after"],
        "properties": {"retry_after": RETRY_AFTER},
    },
    C.ACCOUNT_LOCKED: {
        "type": "object",
        "required": ["locked_until", "retry_after"],
        "properties": {
            "locked_until": {"type": "string", "format": "date-time"},
            "retry_after": RETRY_AFTER,
        },
    },
}

# Standard actions of a viewset, as the verbs of their operationIds.
ACTION_VERBS = {
    "list": "list",
    "retrieve": "get",
    "create": "create",
    "update": "replace",
    "partial_update": "update",
    "destroy": "delete",
}
METHOD_VERBS = {
    "GET": "get",
    "POST": "create",
    "PUT": "replace",
    "PATCH": "update",
    "DELETE": "delete",
}

Method = TypeVar("Method", bound=Callable[..., Any])


def errors(statuses: ErrorStatuses) -> Callable[[Method], Method]:
    """The error statuses of one action of a viewset, beside the view's `error_statuses`:
    `@errors({409: "Username, email or phone already taken"})`."""

    def declare(method: Method) -> Method:
        method.schema_error_statuses = statuses  # type: ignore[attr-defined]
        return method

    return declare


def in_order(codes: Sequence[ErrorCode]) -> tuple[ErrorCode, ...]:
    """`codes` in the order of `ErrorCode`, so that one set always has one name."""
    order = list(ErrorCode)
    return tuple(sorted(set(codes), key=order.index))


def error_component_name(status: int, codes: Sequence[ErrorCode]) -> str:
    """`Error401` for a status's usual codes, else a name of `CODE_SET_NAMES`, else the
    status and the codes (`Error401InvalidCredentials`)."""
    if tuple(codes) == DOCUMENTED_ERRORS.get(status, ("", ()))[1]:
        return f"Error{status}"
    if (status, tuple(codes)) in CODE_SET_NAMES:
        return CODE_SET_NAMES[status, tuple(codes)]
    return f"Error{status}" + "".join(code.title().replace("_", "") for code in codes)


def error_example(code: ErrorCode) -> dict[str, Any]:
    # A code added without an example of its own still gets a plausible one.
    message, details = EXAMPLES.get(code, (code.value.replace("_", " ").capitalize(), None))
    error: dict[str, Any] = {"code": code.value, "message": message}
    if details:
        error["details"] = details
    return {"success": False, "message": message, "error": error}


def error_schema(code: dict[str, Any], codes: Sequence[ErrorCode]) -> dict[str, Any]:
    """The `error` object of an envelope that carries one of `codes` (`code`: the
    reference to their enum)."""
    details = CODE_DETAILS.get(codes[0]) if len(codes) == 1 else None
    return {
        "type": "object",
        "required": ["code", "message", "details"] if details else ["code", "message"],
        "properties": {
            "code": code,
            "message": {"type": "string"},
            "details": copy.deepcopy(details or DETAILS_SCHEMA),
        },
    }


def postprocess_envelopes(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """Pin `success` to `true` in every success envelope and to `false` in every error
    envelope, and `data` to null in `EmptyEnvelope`. It runs after drf-spectacular's enum
    hook (`POSTPROCESSING_HOOKS`), which would make enum components of these one-value
    fields, under names that collide."""
    for name, schema in result.get("components", {}).get("schemas", {}).items():
        properties = schema.get("properties", {})
        if "success" in properties:
            properties["success"]["enum"] = ["error" not in properties]
        if name == EMPTY_ENVELOPE:
            properties["data"] = {"nullable": True, "enum": [None], "description": "Always null."}
    return result


# What DRF trims (`str.strip()`: Python's whitespace), as JSON Schema escapes: not the
# regex `\s`, which leaves out U+001C-U+001F and U+0085 and adds U+FEFF, so a value of
# U+001F alone would match a `\S` pattern yet be blank once trimmed.
_SPACE = "".join(f"\\u{ord(char):04x}" for char in map(chr, range(0x3001)) if char.isspace())


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
        return f"^[^\\u0000]*[^{_SPACE}\\u0000][^\\u0000]*$" if no_nul else f"[^{_SPACE}]"
    return r"^[^\u0000]*$" if no_nul else None


class EnvelopeAutoSchema(AutoSchema):
    def _component(self, name: str, schema: dict[str, Any]) -> dict[str, Any]:
        component = ResolvedComponent(
            name=name, type=ResolvedComponent.SCHEMA, schema=schema, object=name
        )
        self.registry.register_on_missing(component)
        return component.ref

    def _error_envelope(
        self, name: str, codes: Sequence[ErrorCode], example: ErrorCode | None = None
    ) -> dict[str, Any]:
        # Built afresh each time: drf-spectacular's enum hook rewrites component schemas
        # in place, and the next document served by this process would point to an enum
        # component it lacks.
        # The codes are a component of their own, which the enum hook leaves alone: it
        # would name them after the property (`Error401CodeEnum`), camel-cased anew.
        code = self._component(
            f"{name}Code", {"type": "string", "enum": [code.value for code in codes]}
        )
        error = self._component(name, error_schema(code, codes))
        return self._component(
            f"{name}Envelope",
            {
                "type": "object",
                "required": ["success", "message", "error"],
                "properties": {
                    "success": {"type": "boolean", "description": "Always false."},
                    "message": {"type": "string"},
                    "error": error,
                },
                "example": error_example(example or codes[0]),
            },
        )

    def _envelope(self, inner: dict[str, Any] | None) -> dict[str, Any]:
        schema: dict[str, Any] = {
            "type": "object",
            "required": ["success", "message", "data"],
            "properties": {
                "success": {"type": "boolean", "description": "Always true."},
                "message": {"type": "string"},
                "data": inner if inner is not None else {"nullable": True},
            },
        }
        ref = (inner or {}).get("$ref", "")
        if inner is None:
            return self._component(EMPTY_ENVELOPE, schema)
        if ref.startswith("#/components/schemas/"):
            return self._component(ref.rsplit("/", 1)[1] + "Envelope", schema)
        return schema

    def get_operation_id(self) -> str:
        """The path's words and a verb: `users_me_get`, `admin_users_update` (PATCH),
        `admin_users_replace` (PUT), `admin_users_list`. A path that names its action
        (`auth_login`, `admin_users_block`, `users_me_password`) needs no verb."""
        words = [token.replace("-", "_") for token in self._tokenize_path()]
        action = getattr(self.view, "action", None)
        if action in ACTION_VERBS:
            verb: str | None = ACTION_VERBS[action]
        elif action is None or (action == words[-1] and self.method in ("POST", "PATCH")):
            verb = None
        elif self.method == "POST" and not self._path_reads():
            # A POST to a path that lists nothing does what the path says
            # (`users_me_2fa_totp_confirm`), it creates nothing in a collection.
            verb = None
        elif self.method == "GET" and self._is_list_view():
            verb = "list"
        else:
            verb = METHOD_VERBS[self.method]
        return "_".join([*words, verb] if verb else words)

    def _path_reads(self) -> bool:
        """Whether the path also answers GET (a viewset's route maps it, a view has it)."""
        action_map = getattr(self.view, "action_map", None)
        return "get" in action_map if action_map is not None else hasattr(self.view, "get")

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

    def _declared_error_statuses(self) -> list[ErrorStatuses]:
        """The view's `error_statuses`, then its action's (`@errors`)."""
        declared = [getattr(self.view, "error_statuses", {})]
        action = getattr(self.view, "action", None)
        method = getattr(self.view, action, None) if action else None
        declared.append(getattr(method, "schema_error_statuses", {}))
        return declared

    def error_statuses(self) -> dict[int, tuple[str, tuple[ErrorCode, ...]]]:
        """Each error status this operation can answer: its description and codes."""
        statuses: dict[int, tuple[str, tuple[ErrorCode, ...]]] = {}
        takes_body = self._get_request_body() is not None
        query = (
            self._get_filter_parameters()
            or self._get_pagination_parameters()
            or any(
                getattr(parameter, "location", "query") == "query"
                for parameter in self.get_override_parameters()
            )
        )
        if takes_body:
            for status in (400, 413, 415):
                statuses[status] = DOCUMENTED_ERRORS[status]
        elif query:
            statuses[400] = QUERY_ERRORS
        if getattr(self.view, "authentication_classes", None) and self.get_auth():
            statuses[401] = DOCUMENTED_ERRORS[401]
            refusals = self._refusals()
            if refusals:
                statuses[403] = (DOCUMENTED_ERRORS[403][0], refusals)
        if "{" in self.path:
            statuses[404] = DOCUMENTED_ERRORS[404]
        for declared in self._declared_error_statuses():
            for status, value in declared.items():
                if value is None:
                    statuses.pop(status, None)
                elif isinstance(value, str):
                    statuses[status] = (value, statuses.get(status, DOCUMENTED_ERRORS[status])[1])
                else:
                    statuses[status] = (value[0], in_order(value[1]))
        return dict(sorted(statuses.items()))

    def _refusals(self) -> tuple[ErrorCode, ...]:
        """The 403 codes the operation's permissions can answer for its method.

        A permission class names its own with `refusals(method)` (the scope and session
        checks: INSUFFICIENT_SCOPE only where a token can lack what the method needs);
        any other refuses with DRF's FORBIDDEN, except IsAuthenticated, whose refusal is
        the 401 of a request without credentials.
        """
        codes: list[ErrorCode] = []
        for permission in self.view.get_permissions():
            named = getattr(permission, "refusals", None)
            if named is not None:
                codes.extend(named(self.method))
            elif not isinstance(permission, IsAuthenticated):
                codes.append(C.FORBIDDEN)
        return in_order(codes)

    def _success_message(self) -> str | None:
        """The action's success message: what the envelope's `message` says."""
        messages = getattr(self.view, "success_messages", None)
        if messages is not None:
            return cast(str | None, messages.get(getattr(self.view, "action", None)))
        return cast(str | None, getattr(self.view, "success_message", None))

    def get_response_serializers(self) -> Any:
        serializer = super().get_response_serializers()
        if self.method == "DELETE" and is_serializer(serializer):
            # drf-spectacular has a DELETE answer 204 with no body. Here every answer is
            # an envelope: a DELETE that shows what it changed (the soft-deleted user, the
            # account without its avatar) has the view's serializer, and one that shows
            # nothing says `responses={200: None}`.
            return {200: serializer}
        return serializer

    def _get_response_bodies(self, direction: Any = "response") -> dict[str, Any]:
        responses: dict[str, Any] = super()._get_response_bodies(direction)
        result: dict[str, Any] = {}
        for code, response in responses.items():
            if not code.startswith("2"):
                result[code] = response
                continue
            content = response.get("content") or {JSON: {"schema": None}}
            status = "200" if code == "204" else code
            result[status] = {
                **response,
                "description": self._success_message()
                or response.get("description")
                or HTTPStatus(int(status)).phrase,
                "content": {
                    media: {**body, "schema": self._envelope(body.get("schema"))}
                    for media, body in content.items()
                },
            }
        for error_status, (description, codes) in self.error_statuses().items():
            envelope = self._error_envelope(error_component_name(error_status, codes), codes)
            result.setdefault(
                str(error_status),
                {"description": description, "content": {JSON: {"schema": envelope}}},
            )
        everything = self._error_envelope("Error", list(ErrorCode), C.INTERNAL_ERROR)
        result.setdefault(
            "default",
            {
                "description": "Any other error: what any operation may answer (405, 406, 500, "
                "503, a body over the size cap, a Host not allowed)",
                "content": {JSON: {"schema": everything}},
            },
        )
        return result
