"""Regression tests for what `scripts/fuzz.py` (schemathesis) found in the OpenAPI layer."""

from __future__ import annotations

import re
from typing import Any

import pytest


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


def _user_session() -> str:
    from accounts.tests.factories import make_user
    from tokens.services import session_start

    return session_start(owner=make_user(), ip="127.0.0.1", user_agent="test")["access_token"]


@pytest.mark.django_db
@pytest.mark.parametrize("parameter", ["page", "page_size"])
@pytest.mark.parametrize(
    "value",
    [
        "",  # sent, but empty: it used to mean "the default"
        "\u00b2",  # SUPERSCRIPT TWO: a digit to str.isdigit, not to int(): it used to be a 500
        "\u0663",  # ARABIC-INDIC DIGIT THREE: int() reads it, the contract's digits do not
        "-1",
        "0",
        "1.5",
    ],
)
def test_page_parameters_that_are_not_positive_integers_are_validation_errors(
    api_no_raise, parameter, value
):
    access = _user_session()

    response = api_no_raise.get(
        "/api/v1/tokens", {parameter: value}, HTTP_AUTHORIZATION=f"Bearer {access}"
    )

    assert response.status_code == 400
    body = response.json()
    assert body["error"]["code"] == "VALIDATION_ERROR"
    assert set(body["error"]["details"]) == {parameter}


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
