"""The OpenAPI document (`config.api.schema`): envelopes, per-status error codes, success
descriptions, operationIds and component names, and real answers that match it."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import jsonschema  # type: ignore[import-untyped]
import pytest
from django.test import Client
from django.utils import timezone

from config.testing import assert_error, bearer, login, login_pair
from tokens.models import Token
from tokens.realms import ADMIN, USER
from tokens.services import personal_token_create, session_start
from tokens.tests.factories import make_account

LOGIN = "/api/v1/auth/login"
ADMIN_LOGIN = "/api/v1/admin/auth/login"
REGISTER = "/api/v1/auth/register"
ME = "/api/v1/users/me"
TOKENS = "/api/v1/tokens"
ADMIN_USER = "/api/v1/admin/users/{id}"
ADMIN_USER_BLOCK = "/api/v1/admin/users/{id}/block"
METHODS = {"get", "post", "put", "patch", "delete"}
# The longest operationId and component name the document may have.
MAX_NAME = 40

ALL_401 = {"NOT_AUTHENTICATED", "TOKEN_INVALID", "TOKEN_EXPIRED"}
BODY_400 = {"VALIDATION_ERROR", "PARSE_ERROR", "BAD_REQUEST"}


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    response = Client().get("/api/schema?format=json")
    assert response.status_code == 200
    result: dict[str, Any] = response.json()
    return result


def _name(ref: dict[str, Any]) -> str:
    return str(ref["$ref"].rsplit("/", 1)[1])


def _operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    ]


def _envelope(document: dict[str, Any], response: dict[str, Any]) -> dict[str, Any]:
    schema: dict[str, Any] = document["components"]["schemas"][
        _name(response["content"]["application/json"]["schema"])
    ]
    return schema


def _codes(document: dict[str, Any], path: str, method: str, status: str) -> set[str]:
    """The `error.code` values the document allows for this status of this operation."""
    schemas = document["components"]["schemas"]
    envelope = _envelope(document, document["paths"][path][method]["responses"][status])
    error = schemas[_name(envelope["properties"]["error"])]
    return set(schemas[_name(error["properties"]["code"])]["enum"])


def _statuses(document: dict[str, Any], path: str, method: str) -> set[str]:
    return set(document["paths"][path][method]["responses"])


# --- Envelopes ----------------------------------------------------------------------


def test_every_error_response_is_an_envelope_whose_success_is_false_only(document):
    checked = 0
    for _path, _method, operation in _operations(document):
        for status, response in operation["responses"].items():
            envelope = _envelope(document, response)
            expected = [True] if status.startswith("2") else [False]
            assert envelope["properties"]["success"]["enum"] == expected, (status, envelope)
            assert ("error" in envelope["properties"]) is (expected == [False])
            checked += 1
    assert checked > 100


def test_an_envelope_of_no_data_is_a_named_component_whose_data_is_null(document):
    logout = document["paths"]["/api/v1/auth/logout"]["post"]["responses"]["200"]

    envelope = _envelope(document, logout)

    assert _name(logout["content"]["application/json"]["schema"]) == "EmptyEnvelope"
    assert envelope["properties"]["data"]["enum"] == [None]


def test_every_error_component_has_an_example_of_its_own_codes(document):
    schemas = document["components"]["schemas"]
    envelopes = [name for name in schemas if re.fullmatch(r"Error(\d{3}\w*)?Envelope", name)]
    assert len(envelopes) > 10
    for name in envelopes:
        example = schemas[name]["example"]
        error = schemas[_name(schemas[name]["properties"]["error"])]
        codes = schemas[_name(error["properties"]["code"])]["enum"]
        assert example["success"] is False
        assert example["error"]["code"] in codes, name
        assert example["message"] == example["error"]["message"]


def test_the_examples_of_429_and_423_carry_their_details(document):
    schemas = document["components"]["schemas"]

    assert schemas["Error429Envelope"]["example"]["error"]["details"]["retry_after"] > 0
    locked = schemas["Error423Envelope"]["example"]["error"]["details"]
    assert set(locked) == {"locked_until", "retry_after"}
    assert schemas["Error429"]["properties"]["details"]["required"] == ["retry_after"]
    assert schemas["Error423"]["properties"]["details"]["required"] == [
        "locked_until",
        "retry_after",
    ]


# --- Each operation's statuses and codes -------------------------------------------


def test_a_login_documents_its_own_statuses_and_codes(document):
    for path in (LOGIN, ADMIN_LOGIN):
        assert _statuses(document, path, "post") == {
            "200",
            "400",
            "401",
            "403",
            "413",
            "415",
            "423",
            "429",
            "default",
        }
        assert _codes(document, path, "post", "400") == BODY_400
        assert _codes(document, path, "post", "401") == {"INVALID_CREDENTIALS"}
        assert _codes(document, path, "post", "403") == {"ACCOUNT_INACTIVE", "EMAIL_NOT_VERIFIED"}
        assert _codes(document, path, "post", "423") == {"ACCOUNT_LOCKED"}
        assert _codes(document, path, "post", "429") == {"RATE_LIMITED"}


def test_reading_the_profile_documents_only_authentication_errors(document):
    assert _statuses(document, ME, "get") == {"200", "401", "403", "default"}
    assert _codes(document, ME, "get", "401") == ALL_401
    # Another realm's token is FORBIDDEN; every personal access token has `read`.
    assert _codes(document, ME, "get", "403") == {"FORBIDDEN"}


def test_changing_the_profile_documents_conflicts_and_its_throttle(document):
    assert _statuses(document, ME, "patch") == {
        "200",
        "400",
        "401",
        "403",
        "409",
        "413",
        "415",
        "429",
        "default",
    }
    assert _codes(document, ME, "patch", "409") == {"CONFLICT"}


def test_an_admin_write_documents_its_statuses_and_codes(document):
    assert _statuses(document, ADMIN_USER_BLOCK, "patch") == {"200", "401", "403", "404", "default"}
    assert _statuses(document, ADMIN_USER, "patch") == {
        "200",
        "400",
        "401",
        "403",
        "404",
        "409",
        "413",
        "415",
        "default",
    }
    assert _codes(document, ADMIN_USER, "patch", "403") == {
        "FORBIDDEN",
        "INSUFFICIENT_SCOPE",
        "MFA_ENROLLMENT_REQUIRED",
    }
    assert _codes(document, ADMIN_USER, "get", "403") == {"FORBIDDEN", "MFA_ENROLLMENT_REQUIRED"}
    assert _codes(document, ADMIN_USER, "patch", "404") == {"NOT_FOUND"}


def test_creating_a_token_documents_its_statuses_and_codes(document):
    assert _statuses(document, TOKENS, "post") == {
        "201",
        "400",
        "401",
        "403",
        "413",
        "415",
        "429",
        "default",
    }
    # Tokens serve either realm: a personal access token is refused, reading or writing,
    # and so is an account without the second factor its realm requires.
    assert _codes(document, TOKENS, "post", "403") == {
        "INSUFFICIENT_SCOPE",
        "MFA_ENROLLMENT_REQUIRED",
    }
    assert _codes(document, TOKENS, "get", "403") == {
        "INSUFFICIENT_SCOPE",
        "MFA_ENROLLMENT_REQUIRED",
    }
    assert _codes(document, TOKENS, "post", "429") == {"RATE_LIMITED"}


def test_a_refresh_documents_the_refresh_tokens_codes(document):
    assert _codes(document, "/api/v1/auth/refresh", "post", "401") == {
        "TOKEN_INVALID",
        "TOKEN_EXPIRED",
    }


def test_no_read_documents_a_conflict_and_no_bodiless_operation_a_body_error(document):
    for path, method, operation in _operations(document):
        if method == "get":
            assert "409" not in operation["responses"], path
        if "requestBody" not in operation:
            assert not {"413", "415"} & set(operation["responses"]), (method, path)
        if "{" not in path:
            assert "404" not in operation["responses"], (method, path)


def test_the_default_response_is_the_general_error_envelope(document):
    schemas = document["components"]["schemas"]
    for _path, _method, operation in _operations(document):
        assert _name(operation["responses"]["default"]["content"]["application/json"]["schema"])
    everything = schemas[_name(schemas["ErrorEnvelope"]["properties"]["error"])]
    codes = schemas[_name(everything["properties"]["code"])]["enum"]
    assert {"METHOD_NOT_ALLOWED", "NOT_ACCEPTABLE", "INTERNAL_ERROR", "SERVICE_UNAVAILABLE"} <= set(
        codes
    )


# --- Descriptions and names ----------------------------------------------------------


def test_every_success_response_is_described_by_its_message(document):
    for path, method, operation in _operations(document):
        for status, response in operation["responses"].items():
            assert response["description"].strip(), (method, path, status)
    assert document["paths"][ME]["get"]["responses"]["200"]["description"] == "Profile retrieved"
    assert document["paths"][LOGIN]["post"]["responses"]["200"]["description"] == "Logged in"
    assert document["paths"][REGISTER]["post"]["responses"]["201"]["description"] == "Registered"


def test_operation_ids_are_short_readable_and_unique(document):
    ids = [operation["operationId"] for _path, _method, operation in _operations(document)]

    assert len(ids) == len(set(ids))
    for path, method, operation in _operations(document):
        operation_id = operation["operationId"]
        assert re.fullmatch(r"[a-z]+(_[a-z0-9]+)*", operation_id), operation_id
        assert len(operation_id) <= MAX_NAME, operation_id
        assert "partial_update" not in operation_id
        # `_create` only where a POST adds to a collection that a GET lists.
        if operation_id.endswith("_create"):
            assert method == "post", operation_id
            assert "get" in document["paths"][path], operation_id


def test_operation_ids_come_from_the_path_for_both_realms(document):
    def operation_id(path: str, method: str) -> str:
        return str(document["paths"][path][method]["operationId"])

    assert operation_id(LOGIN, "post") == "auth_login"
    assert operation_id(ADMIN_LOGIN, "post") == "admin_auth_login"
    assert operation_id(ME, "get") == "users_me_get"
    assert operation_id(ME, "patch") == "users_me_update"
    assert operation_id(ME, "put") == "users_me_replace"
    assert operation_id("/api/v1/admin/me", "get") == "admin_me_get"
    assert operation_id(ADMIN_USER_BLOCK, "patch") == "admin_users_block"
    assert operation_id("/api/v1/admin/users", "get") == "admin_users_list"
    assert operation_id(TOKENS, "post") == "tokens_create"


def test_component_names_are_short_and_readable(document):
    for name in document["components"]["schemas"]:
        assert re.fullmatch(r"[A-Z][A-Za-z0-9]*", name), name
        assert "Type0" not in name
        assert len(name) <= MAX_NAME, name


# --- One body type per operation ----------------------------------------------------


def test_login_and_register_document_json_and_describe_the_alternatives(document):
    login_operation = document["paths"][LOGIN]["post"]
    register = document["paths"][REGISTER]["post"]

    assert list(login_operation["requestBody"]["content"]) == ["application/json"]
    assert "application/x-www-form-urlencoded" in login_operation["description"]
    assert list(register["requestBody"]["content"]) == ["application/json"]
    assert "multipart/form-data" in register["description"]
    body = document["components"]["schemas"]["RegisterRequest"]["properties"]
    assert "avatar" not in body
    # Both are still accepted: accounts/tests/test_flow.py (a form login) and
    # accounts/tests/test_register.py (a multipart registration with an avatar).


# --- Real answers match what the document says ---------------------------------------


def _json_schema(node: Any) -> Any:
    """An OpenAPI 3.0 schema as JSON Schema: `nullable: true` becomes "or null"."""
    if isinstance(node, list):
        return [_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    result = {key: _json_schema(value) for key, value in node.items() if key != "nullable"}
    if node.get("nullable"):
        if "type" in result:
            result["type"] = [result["type"], "null"]
        elif "enum" in result:
            result["enum"] = (
                [*result["enum"], None] if None not in result["enum"] else result["enum"]
            )
        else:
            result = {"anyOf": [result, {"type": "null"}]}
    return result


def assert_documented(document: dict[str, Any], path: str, method: str, response: Any) -> None:
    """The answer's status is documented for the operation and its body matches."""
    responses = document["paths"][path][method]["responses"]
    assert str(response.status_code) in responses, (path, method, response.status_code)
    schema = {
        **_json_schema(
            responses[str(response.status_code)]["content"]["application/json"]["schema"]
        ),
        "components": _json_schema(document["components"]),
    }
    jsonschema.Draft4Validator(schema).validate(response.json())


@pytest.mark.django_db
def test_login_errors_match_the_documented_codes(api_no_raise, document, settings):
    settings.MAX_LOGIN_ATTEMPTS = 2
    settings.RATE_LIMIT_ATTEMPTS = 4
    make_account(USER, username="ada")
    make_account(USER, username="bob", is_active=False)

    refused = login(api_no_raise, USER, "ada", "not the password at all")
    blocked = login(api_no_raise, USER, "bob")
    locked = login(api_no_raise, USER, "ada", "not the password at all")
    throttled = login(api_no_raise, USER, "ada")
    throttled = login(api_no_raise, USER, "ada")

    assert_error(refused, 401, "INVALID_CREDENTIALS")
    assert_error(blocked, 403, "ACCOUNT_INACTIVE")
    assert_error(locked, 423, "ACCOUNT_LOCKED")
    assert_error(throttled, 429, "RATE_LIMITED")
    for response in (refused, blocked, locked, throttled):
        assert_documented(document, LOGIN, "post", response)


@pytest.mark.django_db
def test_profile_and_token_errors_match_the_documented_codes(api_no_raise, document):
    user = make_account(USER)
    admin = make_account(ADMIN)
    _, personal = personal_token_create(owner=user, name="ci", scopes=["read"], expires_in_days=1)
    admin_session = session_start(owner=admin, ip="127.0.0.1", user_agent="test")
    expired = session_start(owner=user, ip="127.0.0.1", user_agent="test")
    Token.objects.for_owner(user).sessions().update(expires_at=timezone.now() - timedelta(days=1))

    answers = [
        (ME, "get", api_no_raise.get(ME), 401, "NOT_AUTHENTICATED"),
        (ME, "get", api_no_raise.get(ME, **bearer("nope")), 401, "TOKEN_INVALID"),
        (
            ME,
            "get",
            api_no_raise.get(ME, **bearer(admin_session["access_token"])),
            403,
            "FORBIDDEN",
        ),
        (
            ME,
            "patch",
            api_no_raise.patch(ME, {"name": "x"}, **bearer(personal)),
            403,
            "INSUFFICIENT_SCOPE",
        ),
        (
            TOKENS,
            "post",
            api_no_raise.post(TOKENS, {}, **bearer(personal)),
            403,
            "INSUFFICIENT_SCOPE",
        ),
        # A session whose row has expired, with an access token still inside its own `exp`.
        (ME, "get", api_no_raise.get(ME, **bearer(expired["access_token"])), 401, "TOKEN_INVALID"),
    ]
    for path, method, response, status, code in answers:
        assert_error(response, status, code)
        assert_documented(document, path, method, response)


@pytest.mark.django_db
def test_admin_and_register_errors_match_the_documented_codes(api_no_raise, document):
    make_account(USER, username="taken", email="taken@example.com")
    admin = make_account(ADMIN, is_superuser=True)
    session = login_pair(api_no_raise, USER, "taken")
    admin_access = session_start(owner=admin, ip="127.0.0.1", user_agent="test")["access_token"]
    body = {
        "username": "taken",
        "name": "T",
        "email": "new@example.com",
        "password": "a long passphrase 1",
    }

    answers = [
        (REGISTER, "post", api_no_raise.post(REGISTER, body, format="json"), "CONFLICT"),
        (
            REGISTER,
            "post",
            api_no_raise.generic("POST", REGISTER, "{", content_type="application/json"),
            "PARSE_ERROR",
        ),
        (
            ADMIN_USER_BLOCK,
            "patch",
            api_no_raise.patch("/api/v1/admin/users/999999/block", **bearer(admin_access)),
            "NOT_FOUND",
        ),
        (
            ADMIN_USER_BLOCK,
            "patch",
            api_no_raise.patch("/api/v1/admin/users/1/block", **bearer(session["access_token"])),
            "FORBIDDEN",
        ),
        (
            TOKENS,
            "post",
            api_no_raise.post(
                TOKENS, "x", content_type="text/plain", **bearer(session["access_token"])
            ),
            "UNSUPPORTED_MEDIA_TYPE",
        ),
    ]
    for path, method, response, code in answers:
        assert response.json()["error"]["code"] == code, response.content
        assert_documented(document, path, method, response)


@pytest.mark.django_db
def test_the_second_factor_policy_and_a_token_reading_tokens_match_the_documented_codes(
    api_no_raise, document, settings
):
    user = make_account(USER)
    _, personal = personal_token_create(owner=user, name="ci", scopes=["read"], expires_in_days=1)
    settings.ADMIN_2FA_REQUIRED = True
    admin = make_account(ADMIN, is_superuser=True)
    unenrolled = session_start(owner=admin, ip="127.0.0.1", user_agent="test")

    answers = [
        (TOKENS, "get", api_no_raise.get(TOKENS, **bearer(personal)), "INSUFFICIENT_SCOPE"),
        (
            ADMIN_USER,
            "get",
            api_no_raise.get(
                f"/api/v1/admin/users/{user.pk}", **bearer(unenrolled["access_token"])
            ),
            "MFA_ENROLLMENT_REQUIRED",
        ),
        (
            TOKENS,
            "get",
            api_no_raise.get(TOKENS, **bearer(unenrolled["access_token"])),
            "MFA_ENROLLMENT_REQUIRED",
        ),
    ]
    for path, method, response, code in answers:
        assert_error(response, 403, code)
        assert_documented(document, path, method, response)


def test_insufficient_scope_is_documented_only_where_a_token_can_lack_what_it_needs(document):
    """Every personal access token has `read`: a read checked by scope alone never answers
    INSUFFICIENT_SCOPE, a write can, and so can anything that needs a login session."""
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            codes = (
                _codes(document, path, method, "403") if "403" in operation["responses"] else set()
            )
            if method in ("get", "head") and not path.startswith(
                ("/api/v1/tokens", "/api/v1/auth")
            ):
                assert "INSUFFICIENT_SCOPE" not in codes, (method, path)


# --- What the fuzzer found: the document says what the server does --------------------


def _session_of(account: Any) -> dict[str, str]:
    return bearer(session_start(owner=account, ip="127.0.0.1", user_agent="test")["access_token"])


def _refs(node: Any) -> set[str]:
    if isinstance(node, dict):
        found = {node["$ref"]} if isinstance(node.get("$ref"), str) else set()
        for value in node.values():
            found |= _refs(value)
        return found
    if isinstance(node, list):
        return set().union(*(_refs(item) for item in node)) if node else set()
    return set()


def test_openapi_document_is_the_same_every_time_it_is_served(api):
    # The error component was a module-level dict that drf-spectacular's enum hook
    # rewrote in place: from the second request of a process on, `error.code` pointed to a
    # `CodeEnum` component that the document no longer contained.
    first = api.get("/api/schema?format=json").json()
    second = api.get("/api/schema?format=json").json()

    assert second == first
    schemas = second["components"]["schemas"]
    for ref in _refs(second):
        assert ref.rsplit("/", 1)[1] in schemas, f"dangling {ref}"


def test_the_password_that_confirms_an_account_deletion_is_documented(document):
    operation = document["paths"][ME]["delete"]

    body = operation["requestBody"]
    assert body["required"] is True
    assert list(body["content"]) == ["application/json"]
    ref = body["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
    assert document["components"]["schemas"][ref]["required"] == ["password"]
    assert {"400", "413", "415"} <= operation["responses"].keys()


def test_text_fields_document_what_drf_refuses_beyond_their_length(document):
    # DRF refuses a NUL character anywhere, and trims whitespace before `minLength`.
    properties = document["components"]["schemas"]["RegisterRequest"]["properties"]

    assert properties["username"]["pattern"] == r"^[\w.@+-]+$"  # its own validator's
    name = properties["name"]["pattern"]
    # Not only what DRF trims (Python's whitespace), and no NUL.
    assert name.startswith(r"^[^\u0000]*[^\u0009\u000a")
    assert name.endswith(r"\u0000][^\u0000]*$")
    assert re.search(name, "a")
    assert not re.search(name, "\x1f \u3000")
    assert properties["password"]["pattern"] == r"^[^\u0000]*$"  # never trimmed


@pytest.mark.django_db
@pytest.mark.parametrize(
    "value",
    [
        "\u0000",
        "a\u0000b",
        "   ",
        "\t\n",
        "\x1f",
        "\u001d",
        "\u001c\u001f",
        " \u0085 ",
        "\u0085\u3000",
    ],
)
def test_the_documented_patterns_are_what_the_server_refuses(api, value):
    ada = make_account(USER, name="Ada")
    response = api.patch(ME, {"name": value}, format="json", **_session_of(ada))

    body = assert_error(response, 400, "VALIDATION_ERROR")
    assert set(body["error"]["details"]) == {"name"}


@pytest.mark.django_db
def test_a_text_field_of_python_whitespace_alone_is_outside_the_documented_pattern(api):
    """DRF trims what `str.strip()` trims, which is not what a JSON Schema `\\S` excludes:
    U+001F alone matched `\\S` and was then refused as blank."""
    schema = api.get("/api/schema?format=json").json()
    pattern = schema["components"]["schemas"]["RefreshRequest"]["properties"]["refresh_token"][
        "pattern"
    ]

    for blank in ("\x1f", "\x85", " \t\u3000"):
        assert re.search(pattern, blank) is None, repr(blank)
        response = api.post("/api/v1/auth/refresh", {"refresh_token": blank}, format="json")
        assert response.status_code == 400
        assert response.json()["error"]["details"] == {
            "refresh_token": ["This field may not be blank."]
        }
    assert re.search(pattern, "\ufeff") is not None  # not trimmed, so not blank


@pytest.mark.django_db
def test_a_list_with_a_personal_token_matches_the_documented_schema(api, document):
    # `ip` and `user_agent` are left out for personal tokens, and the document said every
    # token had them (schemathesis: response violates schema).
    user = make_account(USER)
    personal_token_create(owner=user, name="ci", scopes=["read"], expires_in_days=1)

    response = api.get(TOKENS, **_session_of(user))

    assert response.status_code == 200
    kinds = {item["kind"] for item in response.json()["data"]["items"]}
    assert kinds == {"session", "personal"}
    assert_documented(document, TOKENS, "get", response)


@pytest.mark.django_db
def test_a_created_token_matches_the_documented_schema(api, document):
    auth = _session_of(make_account(USER))
    response = api.post(TOKENS, {"name": "ci", "scopes": ["read"]}, format="json", **auth)

    assert response.status_code == 201
    assert "ip" not in response.json()["data"]
    assert_documented(document, TOKENS, "post", response)
