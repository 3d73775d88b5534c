"""
The project's errors: one exception class per `error.code` of the HTTP contract.

In app code, just raise: each class carries its HTTP status, its stable code and, where
the contract asks for it, extra `details` and headers. `config.api.handlers` turns any
of them (and DRF's and Django's own) into the error envelope.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, NamedTuple

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import (
    RequestDataTooBig,
    SuspiciousOperation,
    TooManyFilesSent,
)
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import InterfaceError, OperationalError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.exceptions import APIException


class ErrorCode(StrEnum):
    VALIDATION_ERROR = "VALIDATION_ERROR"
    PARSE_ERROR = "PARSE_ERROR"
    BAD_REQUEST = "BAD_REQUEST"
    NOT_AUTHENTICATED = "NOT_AUTHENTICATED"
    INVALID_CREDENTIALS = "INVALID_CREDENTIALS"
    TOKEN_INVALID = "TOKEN_INVALID"
    TOKEN_EXPIRED = "TOKEN_EXPIRED"
    FORBIDDEN = "FORBIDDEN"
    ACCOUNT_INACTIVE = "ACCOUNT_INACTIVE"
    EMAIL_NOT_VERIFIED = "EMAIL_NOT_VERIFIED"
    INSUFFICIENT_SCOPE = "INSUFFICIENT_SCOPE"
    MFA_ENROLLMENT_REQUIRED = "MFA_ENROLLMENT_REQUIRED"
    NOT_FOUND = "NOT_FOUND"
    METHOD_NOT_ALLOWED = "METHOD_NOT_ALLOWED"
    NOT_ACCEPTABLE = "NOT_ACCEPTABLE"
    CONFLICT = "CONFLICT"
    PAYLOAD_TOO_LARGE = "PAYLOAD_TOO_LARGE"
    UNSUPPORTED_MEDIA_TYPE = "UNSUPPORTED_MEDIA_TYPE"
    ACCOUNT_LOCKED = "ACCOUNT_LOCKED"
    RATE_LIMITED = "RATE_LIMITED"
    INTERNAL_ERROR = "INTERNAL_ERROR"
    SERVICE_UNAVAILABLE = "SERVICE_UNAVAILABLE"


class KnownError(NamedTuple):
    status: int
    code: ErrorCode
    # None: the exception's own message (DRF's detail).
    message: str | None
    # The exceptions of DRF's and Django's that mean this error.
    raised_by: tuple[type[Exception], ...] = ()


# The one table of errors the project does not raise itself as an `APIError`: DRF's and
# Django's own exceptions, and the statuses Django answers before DRF sees the request
# (the first row of each status is what that status means on its own). An exception takes
# the first row whose `raised_by` it is an instance of, so subclasses come first.
KNOWN_ERRORS: tuple[KnownError, ...] = (
    KnownError(400, ErrorCode.BAD_REQUEST, "Bad request"),
    KnownError(
        400,
        ErrorCode.VALIDATION_ERROR,
        "Invalid input",
        (exceptions.ValidationError, DjangoValidationError),
    ),
    KnownError(400, ErrorCode.PARSE_ERROR, "Malformed request body", (exceptions.ParseError,)),
    KnownError(400, ErrorCode.BAD_REQUEST, "Too many files in one request", (TooManyFilesSent,)),
    KnownError(401, ErrorCode.NOT_AUTHENTICATED, "Authentication credentials were not provided"),
    KnownError(401, ErrorCode.NOT_AUTHENTICATED, None, (exceptions.NotAuthenticated,)),
    KnownError(401, ErrorCode.TOKEN_INVALID, None, (exceptions.AuthenticationFailed,)),
    KnownError(403, ErrorCode.FORBIDDEN, "You do not have permission to perform this action"),
    KnownError(
        403, ErrorCode.FORBIDDEN, None, (exceptions.PermissionDenied, DjangoPermissionDenied)
    ),
    KnownError(404, ErrorCode.NOT_FOUND, "Not found", (exceptions.NotFound, Http404)),
    KnownError(
        405, ErrorCode.METHOD_NOT_ALLOWED, "Method not allowed", (exceptions.MethodNotAllowed,)
    ),
    KnownError(406, ErrorCode.NOT_ACCEPTABLE, "Not acceptable"),
    KnownError(406, ErrorCode.NOT_ACCEPTABLE, None, (exceptions.NotAcceptable,)),
    KnownError(413, ErrorCode.PAYLOAD_TOO_LARGE, "Request body too large", (RequestDataTooBig,)),
    KnownError(415, ErrorCode.UNSUPPORTED_MEDIA_TYPE, "Unsupported media type"),
    KnownError(415, ErrorCode.UNSUPPORTED_MEDIA_TYPE, None, (exceptions.UnsupportedMediaType,)),
    KnownError(429, ErrorCode.RATE_LIMITED, "Too many requests", (exceptions.Throttled,)),
    KnownError(500, ErrorCode.INTERNAL_ERROR, "Internal server error"),
    KnownError(503, ErrorCode.SERVICE_UNAVAILABLE, "Service unavailable"),
    # The database is down or unreachable (or a transaction lost a deadlock): the request
    # may succeed later, so it is a 503, never a 500 with a traceback.
    KnownError(
        503,
        ErrorCode.SERVICE_UNAVAILABLE,
        "Service temporarily unavailable",
        (OperationalError, InterfaceError),
    ),
    # Last: its subclasses (RequestDataTooBig, TooManyFilesSent) have rows of their own.
    KnownError(400, ErrorCode.BAD_REQUEST, "Bad request", (SuspiciousOperation,)),
)

# The first row of each status wins.
_BY_STATUS = {row.status: row for row in reversed(KNOWN_ERRORS)}


def status_error(status_code: int) -> tuple[ErrorCode, str]:
    """The code and message of a bare HTTP error status."""
    row = _BY_STATUS.get(status_code) or _BY_STATUS[500 if status_code >= 500 else 400]
    return row.code, row.message or ""


def known_error(exc: Exception) -> KnownError | None:
    """The table's row for one of DRF's or Django's exceptions; None for any other."""
    for row in KNOWN_ERRORS:
        if row.raised_by and isinstance(exc, row.raised_by):
            return row
    if isinstance(exc, exceptions.APIException):
        # Another DRF exception: what its status means.
        return KnownError(exc.status_code, status_error(exc.status_code)[0], None)
    return None


class APIError(APIException):
    """Base of the project's errors: a status, a stable code, optional details/headers."""

    status_code: int = status.HTTP_400_BAD_REQUEST
    error_code: ErrorCode = ErrorCode.BAD_REQUEST
    default_detail = "Bad request"

    def __init__(
        self,
        message: str | None = None,
        *,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail=message or self.default_detail, code=self.error_code.value)
        self.message = str(self.detail)
        self.details = details
        self.headers = headers or {}


class BadRequest(APIError):
    error_code = ErrorCode.BAD_REQUEST


class InvalidCredentials(APIError):
    status_code = status.HTTP_401_UNAUTHORIZED
    error_code = ErrorCode.INVALID_CREDENTIALS
    default_detail = "Invalid username or password"


class TokenInvalid(APIError):
    status_code = status.HTTP_401_UNAUTHORIZED
    error_code = ErrorCode.TOKEN_INVALID
    default_detail = "Token is invalid"


class TokenExpired(APIError):
    status_code = status.HTTP_401_UNAUTHORIZED
    error_code = ErrorCode.TOKEN_EXPIRED
    default_detail = "Token has expired"


class Forbidden(APIError):
    status_code = status.HTTP_403_FORBIDDEN
    error_code = ErrorCode.FORBIDDEN
    default_detail = "You do not have permission to perform this action"


class AccountInactive(APIError):
    status_code = status.HTTP_403_FORBIDDEN
    error_code = ErrorCode.ACCOUNT_INACTIVE
    default_detail = "This account is blocked"


class EmailNotVerified(APIError):
    status_code = status.HTTP_403_FORBIDDEN
    error_code = ErrorCode.EMAIL_NOT_VERIFIED
    default_detail = "This email address is not verified yet: open the link mailed to it"


class InsufficientScope(APIError):
    status_code = status.HTTP_403_FORBIDDEN
    error_code = ErrorCode.INSUFFICIENT_SCOPE
    default_detail = "This token does not have the scope this request needs"


class MfaEnrollmentRequired(APIError):
    status_code = status.HTTP_403_FORBIDDEN
    error_code = ErrorCode.MFA_ENROLLMENT_REQUIRED
    default_detail = "Enrol a second factor first: this account must have one"


class NotFound(APIError):
    status_code = status.HTTP_404_NOT_FOUND
    error_code = ErrorCode.NOT_FOUND
    default_detail = "Not found"


class Conflict(APIError):
    status_code = status.HTTP_409_CONFLICT
    error_code = ErrorCode.CONFLICT
    default_detail = "Already taken"


class PayloadTooLarge(APIError):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    error_code = ErrorCode.PAYLOAD_TOO_LARGE
    default_detail = "Request body too large"


class AccountLocked(APIError):
    status_code = status.HTTP_423_LOCKED
    error_code = ErrorCode.ACCOUNT_LOCKED
    default_detail = "Account locked after too many failed logins"


class RateLimited(APIError):
    status_code = status.HTTP_429_TOO_MANY_REQUESTS
    error_code = ErrorCode.RATE_LIMITED
    default_detail = "Too many attempts, try again later"

    def __init__(self, message: str | None = None, *, retry_after: int) -> None:
        retry_after = max(1, retry_after)
        super().__init__(
            message,
            details={"retry_after": retry_after},
            headers={"Retry-After": str(retry_after)},
        )


class ServiceUnavailable(APIError):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    error_code = ErrorCode.SERVICE_UNAVAILABLE
    default_detail = "Service temporarily unavailable"
