"""Regression tests for what `scripts/fuzz.py` (schemathesis) found under /api/v1/tokens."""

from __future__ import annotations

from typing import Any

import jsonschema  # type: ignore[import-untyped]
import pytest
from django.test import Client

from accounts.tests.factories import make_user
from config.testing import assert_error, bearer
from tokens.models import Token
from tokens.services import personal_token_create, session_start

pytestmark = pytest.mark.django_db

TOKENS = "/api/v1/tokens"


@pytest.fixture
def user() -> Any:
    return make_user()


@pytest.fixture
def auth(user: Any) -> dict[str, str]:
    return bearer(session_start(owner=user, ip="127.0.0.1", user_agent="test")["access_token"])


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    result: dict[str, Any] = Client().get("/api/schema?format=json").json()
    return result


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
        else:
            result = {"anyOf": [result, {"type": "null"}]}
    return result


def _validate(document: dict[str, Any], path: str, method: str, status: str, body: Any) -> None:
    """`body` against the response schema the document gives, as schemathesis checks it."""
    response = document["paths"][path][method]["responses"][status]
    schema = {
        **_json_schema(response["content"]["application/json"]["schema"]),
        "components": _json_schema(document["components"]),
    }
    jsonschema.Draft4Validator(schema).validate(body)


def test_a_list_with_a_personal_token_matches_the_documented_schema(api, user, auth, document):
    # `ip` and `user_agent` are left out for personal tokens, and the document said every
    # token had them (schemathesis: response violates schema).
    personal_token_create(owner=user, name="ci", scopes=["read"], expires_in_days=1)

    response = api.get(TOKENS, **auth)

    assert response.status_code == 200
    kinds = {item["kind"] for item in response.json()["data"]["items"]}
    assert kinds == {"session", "personal"}
    _validate(document, TOKENS, "get", "200", response.json())


def test_a_created_token_matches_the_documented_schema(api, auth, document):
    response = api.post(TOKENS, {"name": "ci", "scopes": ["read"]}, format="json", **auth)

    assert response.status_code == 201
    assert "ip" not in response.json()["data"]
    _validate(document, TOKENS, "post", "201", response.json())


@pytest.mark.parametrize("name", [0, 1.5, None, ["ci"], {"a": 1}])
def test_a_token_name_must_be_a_string(api, auth, name):
    # The JSON number 0 used to become a token named "0".
    response = api.post(TOKENS, {"name": name, "scopes": ["read"]}, format="json", **auth)

    body = assert_error(response, 400, "VALIDATION_ERROR")
    assert set(body["error"]["details"]) == {"name"}
    assert not Token.objects.personal().exists()


@pytest.mark.parametrize(
    ("data", "content_type"),
    [
        ("name=ci&scopes=read", "application/x-www-form-urlencoded"),
        (
            '--b\r\nContent-Disposition: form-data; name="name"\r\n\r\nnull\r\n'
            '--b\r\nContent-Disposition: form-data; name="scopes"\r\n\r\nread\r\n--b--\r\n',
            "multipart/form-data; boundary=b",
        ),
    ],
    ids=["urlencoded", "multipart"],
)
def test_tokens_are_created_from_json_only(api, auth, data, content_type):
    # A multipart `name` of null arrived as the text "null", and became the token's name.
    response = api.generic("POST", TOKENS, data, content_type=content_type, **auth)

    assert_error(response, 415, "UNSUPPORTED_MEDIA_TYPE")
    assert not Token.objects.personal().exists()
