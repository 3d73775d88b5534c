"""The envelope on successes, lists and every error Django or DRF can raise."""

from __future__ import annotations

import json
from typing import Any

import pytest
from drf_spectacular.renderers import OpenApiJsonRenderer as OpenAPIRenderer
from rest_framework.exceptions import ErrorDetail
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import BrowsableAPIRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from accounts.models import User
from config.api.envelope import error_body
from config.api.exceptions import ErrorCode
from config.api.handlers import field_errors
from config.api.negotiation import ContentNegotiation
from config.api.renderers import EnvelopeRenderer
from config.testing import bearer, login_pair
from tokens.models import Token
from tokens.realms import USER
from tokens.tests.factories import make_account

pytestmark = [pytest.mark.django_db, pytest.mark.urls("config.tests.urls")]

JSON_TYPE = "application/json; charset=utf-8"


def assert_error(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert body["success"] is False
    assert body["error"]["code"] == code
    assert body["message"] == body["error"]["message"]
    return body


def test_success_is_wrapped_with_its_message(api):
    response = api.get("/api/v1/_probe")

    assert response.status_code == 200
    assert response["Content-Type"] == JSON_TYPE
    assert response.json() == {
        "success": True,
        "message": "Probe retrieved",
        "data": {"hello": "world"},
    }


def test_list_has_items_count_total_page_and_pages(api):
    for _ in range(5):
        make_account(USER)

    body = api.get("/api/v1/_probe/list?page=2&page_size=2").json()

    assert body["success"] is True
    data = body["data"]
    assert [item["id"] for item in data["items"]] == list(
        User.objects.order_by("id").values_list("id", flat=True)[2:4]
    )
    assert (data["count"], data["total"], data["page"], data["page_size"], data["pages"]) == (
        2,
        5,
        2,
        2,
        3,
    )


def test_page_past_the_end_is_empty_with_the_right_total(api):
    make_account(USER)

    data = api.get("/api/v1/_probe/list?page=9").json()["data"]

    assert data["items"] == []
    assert (data["count"], data["total"], data["pages"]) == (0, 1, 1)


def test_page_size_is_capped_at_100(api):
    data = api.get("/api/v1/_probe/list?page_size=1000000").json()["data"]

    assert data["page_size"] == 100


@pytest.mark.parametrize("query", ["page=abc", "page=0", "page=-1", "page_size=x"])
def test_non_numeric_page_is_a_validation_error(api, query):
    body = assert_error(api.get(f"/api/v1/_probe/list?{query}"), 400, "VALIDATION_ERROR")

    assert query.split("=")[0] in body["error"]["details"]


def test_validation_error_names_each_field(api):
    response = api.post("/api/v1/_probe", {"email": "not-an-email", "age": -1}, format="json")

    body = assert_error(response, 400, "VALIDATION_ERROR")
    assert body["message"] == "Invalid input"
    assert set(body["error"]["details"]) == {"email", "age"}
    assert all(isinstance(messages, list) for messages in body["error"]["details"].values())


@pytest.mark.parametrize("path", ["/nope", "/api/v1/nope", "/health/", "/api/v1/_probe/"])
def test_unknown_url_and_trailing_slash_are_404_envelopes(api, path):
    assert_error(api.get(path), 404, "NOT_FOUND")


def test_unknown_url_is_an_envelope_in_debug_mode_too(api, settings):
    settings.DEBUG = True

    assert_error(api.get("/nope"), 404, "NOT_FOUND")


def test_wrong_method_on_a_drf_view_is_405(api):
    response = api.delete("/api/v1/_probe")

    assert_error(response, 405, "METHOD_NOT_ALLOWED")
    assert "GET" in response["Allow"]


def test_wrong_method_on_a_plain_view_is_405(api):
    response = api.post("/health")

    assert_error(response, 405, "METHOD_NOT_ALLOWED")
    assert "GET" in response["Allow"]


def test_malformed_json_is_a_parse_error(api):
    response = api.post("/api/v1/_probe", data='{"email": ', content_type="application/json")

    assert_error(response, 400, "PARSE_ERROR")


def test_wrong_content_type_is_415(api):
    response = api.post("/api/v1/_probe", data="email=x", content_type="text/plain")

    assert_error(response, 415, "UNSUPPORTED_MEDIA_TYPE")


def test_declared_body_over_the_cap_is_413_before_it_is_read(api, settings):
    settings.MAX_REQUEST_BYTES = 1024
    body = json.dumps({"email": "a@example.com", "padding": "x" * 2048})

    response = api.post("/api/v1/_probe", data=body, content_type="application/json")

    assert_error(response, 413, "PAYLOAD_TOO_LARGE")


def test_json_body_over_the_memory_limit_is_413(api, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024
    body = json.dumps({"email": "a@example.com", "padding": "x" * 2048})

    response = api.post("/api/v1/_probe", data=body, content_type="application/json")

    assert_error(response, 413, "PAYLOAD_TOO_LARGE")


def test_json_body_over_the_memory_limit_is_read_to_its_end_before_the_413(api, settings):
    """So that the server closes the connection cleanly: a proxy still sending the body
    would take a reset connection for a failed upstream (a 503 instead of the 413)."""
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024
    body = json.dumps({"email": "a@example.com", "padding": "x" * 200_000})

    response = api.post("/api/v1/_probe", data=body, content_type="application/json")

    assert_error(response, 413, "PAYLOAD_TOO_LARGE")
    assert response.wsgi_request.read(1) == b""


def test_an_upload_refused_before_it_is_read_is_read_to_its_end_first(api):
    body = b"--x\r\n" + b"y" * 300_000 + b"\r\n--x--\r\n"

    response = api.put(
        "/api/v1/users/me/avatar",
        data=body,
        content_type="multipart/form-data; boundary=x",
        HTTP_AUTHORIZATION="Bearer not-a-token",
    )

    assert_error(response, 401, "TOKEN_INVALID")
    assert response.wsgi_request.read(1) == b""


def test_disallowed_host_is_400_bad_request(api):
    response = api.get("/health", HTTP_HOST="evil.example")

    assert_error(response, 400, "BAD_REQUEST")


def test_unhandled_exception_is_a_500_without_a_traceback(api_no_raise, settings):
    settings.DEBUG = False

    response = api_no_raise.get("/api/v1/_probe/broken")

    body = assert_error(response, 500, "INTERNAL_ERROR")
    assert "secret internal detail" not in response.content.decode()
    assert "Traceback" not in response.content.decode()
    assert "details" not in body["error"]


def test_every_response_carries_request_id_and_security_headers(api):
    for response in (api.get("/health"), api.get("/nope"), api.get("/api/v1/_probe")):
        assert response["X-Content-Type-Options"] == "nosniff"
        assert response["X-Frame-Options"] == "DENY"
        assert response["Referrer-Policy"]
        assert len(response["X-Request-ID"]) == 32


def test_a_well_formed_client_request_id_is_echoed(api):
    response = api.get("/health", HTTP_X_REQUEST_ID="trace-42.a_b")

    assert response["X-Request-ID"] == "trace-42.a_b"


@pytest.mark.parametrize("given", ["", "x" * 129, "bad id", "evil\r\nX-Injected: 1", "ü"])
def test_a_malformed_client_request_id_is_replaced(api, given):
    response = api.get("/health", HTTP_X_REQUEST_ID=given)

    assert response["X-Request-ID"] != given
    assert len(response["X-Request-ID"]) == 32


def test_a_database_that_does_not_answer_is_a_503_not_a_500(api_no_raise):
    response = api_no_raise.get("/api/v1/_probe/database-down")

    body = assert_error(response, 503, "SERVICE_UNAVAILABLE")
    assert set(body["error"]["details"]) == {"database"}
    assert "127.0.0.1" not in response.content.decode()


def test_a_content_length_of_non_ascii_digits_is_not_a_500(api):
    # Django reads a Content-Length it cannot parse as no body: the GET is answered.
    response = api.get("/api/v1/_probe", CONTENT_LENGTH="²")

    assert response.status_code == 200, response.content
    assert response.json()["data"] == {"hello": "world"}


def test_json_nested_too_deeply_is_a_parse_error_not_a_500(api_no_raise):
    body = '{"email": ' + "[" * 50000 + "]" * 50000 + "}"

    response = api_no_raise.post("/api/v1/_probe", data=body, content_type="application/json")

    assert_error(response, 400, "PARSE_ERROR")


# --- Negotiation: an error is the JSON envelope whatever the client asked for -------------


@pytest.mark.parametrize("query", ["", "?format=json", "?page=2"])
@pytest.mark.parametrize(
    "accept",
    [None, "*/*", "application/json", "*/*;q=0.8", "application/*", "text/html, */*", "*/*; v=2"],
)
@pytest.mark.parametrize(
    "renderer_classes",
    [[EnvelopeRenderer], [EnvelopeRenderer, BrowsableAPIRenderer], [OpenAPIRenderer, JSONRenderer]],
)
def test_negotiation_chooses_what_drfs_own_chooses(accept, query, renderer_classes):
    """The shortcut for requests that take anything answers what DRF's ranking would."""
    headers = {} if accept is None else {"HTTP_ACCEPT": accept}
    request = Request(APIRequestFactory().get(f"/api/v1/_probe{query}", **headers))
    renderers = [renderer() for renderer in renderer_classes]

    ours = ContentNegotiation().select_renderer(request, renderers)
    drfs = DefaultContentNegotiation().select_renderer(request, renderers)

    assert (type(ours[0]), ours[1]) == (type(drfs[0]), drfs[1])


@pytest.mark.parametrize("accept", ["text/html", "application/xml", "application/vnd.oai.openapi"])
def test_an_accept_an_endpoint_cannot_serve_is_406(api_no_raise, accept):
    assert_error(api_no_raise.get("/api/v1/_probe", HTTP_ACCEPT=accept), 406, "NOT_ACCEPTABLE")


@pytest.mark.parametrize("fmt", ["api", "xml", "yaml", "html", "bogus"])
def test_an_unknown_format_is_406_not_404(api_no_raise, fmt):
    assert_error(api_no_raise.get(f"/api/v1/_probe?format={fmt}"), 406, "NOT_ACCEPTABLE")


def test_format_json_still_serves_json(api):
    response = api.get("/api/v1/_probe?format=json")

    assert response.status_code == 200
    assert response.json()["data"] == {"hello": "world"}


def test_an_error_on_a_request_accepting_only_html_is_406_json(api_no_raise):
    response = api_no_raise.post(
        "/api/v1/_probe", {"email": "x"}, format="json", HTTP_ACCEPT="text/html"
    )

    assert_error(response, 406, "NOT_ACCEPTABLE")
    assert not User.objects.exists()


def test_an_error_body_holds_plain_strings_not_enum_members():
    body = error_body(ErrorCode.NOT_FOUND, "Not found")

    assert type(body["error"]["code"]) is str
    assert body["error"]["code"] == "NOT_FOUND"


# --- Field errors: always {field: [strings]} ----------------------------------------------


def test_an_error_in_a_list_item_names_the_item_from_1(api):
    make_account(USER, username="ada")
    pair = login_pair(api, USER, "ada")

    response = api.post(
        "/api/v1/tokens",
        {"name": "x", "scopes": ["read", "bogus"]},
        format="json",
        **bearer(pair["access_token"]),
    )

    body = assert_error(response, 400, "VALIDATION_ERROR")
    assert body["error"]["details"] == {"scopes": ['Item 2: "bogus" is not a valid choice.']}
    assert not Token.objects.personal().exists()


def test_field_errors_flatten_lists_and_nested_objects_at_any_depth():
    detail = {
        "scopes": {1: [ErrorDetail('"bogus" is not a valid choice.')]},
        "address": {
            "city": [ErrorDetail("This field is required.")],
            "non_field_errors": [ErrorDetail("Not a deliverable address.")],
        },
        "addresses": {
            0: {"non_field_errors": [ErrorDetail("Invalid data.")]},
            2: {"city": [ErrorDetail("This field is required.")], "zip": ["Too long.", "Bad."]},
        },
        "grid": {1: {0: ["A valid integer is required."]}},
        "tags": {"colour": ["A valid integer is required."]},
        "deep": {"a": {"b": {3: {"c": ["Deepest."]}}}},
        "email": [ErrorDetail("Enter a valid email address.")],
        "name": ErrorDetail("Not a list."),
    }

    assert field_errors(detail) == {
        "scopes": ['Item 2: "bogus" is not a valid choice.'],
        "address": ["city: This field is required.", "Not a deliverable address."],
        "addresses": [
            "Item 1: Invalid data.",
            "Item 3: city: This field is required.",
            "Item 3: zip: Too long.",
            "Item 3: zip: Bad.",
        ],
        "grid": ["Item 2: Item 1: A valid integer is required."],
        "tags": ["colour: A valid integer is required."],
        "deep": ["a: b: Item 4: c: Deepest."],
        "email": ["Enter a valid email address."],
        "name": ["Not a list."],
    }
    assert all(
        type(message) is str for messages in field_errors(detail).values() for message in messages
    )


def test_a_list_of_item_errors_skips_the_valid_items():
    # The shape a ListSerializer has used: one entry per item, empty for a valid one.
    detail = [{}, {"username": ["This field is required."]}, {}, ["Bad item."]]

    assert field_errors(detail) == {
        "non_field_errors": ["Item 2: username: This field is required.", "Item 4: Bad item."]
    }


def test_item_errors_of_a_list_validated_as_a_whole_are_never_keyed_by_index():
    detail = {1: {"username": ["This field is required."]}, 3: ["Bad item."]}

    assert field_errors(detail) == {
        "non_field_errors": ["Item 2: username: This field is required.", "Item 4: Bad item."]
    }


def test_errors_not_tied_to_a_field_go_under_non_field_errors():
    assert field_errors(["Passwords do not match."]) == {
        "non_field_errors": ["Passwords do not match."]
    }
    assert field_errors("Oops.") == {"non_field_errors": ["Oops."]}
