"""Structured logs: one line per request, one per auth event, JSON, never a secret."""

from __future__ import annotations

import json
import logging

import pytest

from accounts.tests.factories import PASSWORD, make_user
from accounts.tests.helpers import bearer, login_pair
from config.logging import JSONFormatter


def _lines(caplog, logger: str) -> list[dict]:
    """The fields of each record of `logger` (the `extra` ones included)."""
    return [vars(record) for record in caplog.records if record.name == logger]


@pytest.mark.django_db
def test_each_request_is_one_line_with_its_request_id_account_and_ip(api, caplog):
    user = make_user(username="ada")
    pair = login_pair(api, "ada")
    caplog.clear()

    with caplog.at_level(logging.INFO, logger="config.request"):
        api.get("/api/v1/users/me", HTTP_X_REQUEST_ID="trace-1", **bearer(pair["access_token"]))

    [line] = _lines(caplog, "config.request")
    assert (line["method"], line["path"], line["status"]) == ("GET", "/api/v1/users/me", 200)
    assert (line["request_id"], line["account"], line["ip"]) == (
        "trace-1",
        f"user:{user.pk}",
        "127.0.0.1",
    )
    assert line["duration_ms"] >= 0


@pytest.mark.django_db
def test_an_anonymous_request_logs_no_account(api, caplog):
    with caplog.at_level(logging.INFO, logger="config.request"):
        api.get("/nope?token=secret-in-query")

    [line] = _lines(caplog, "config.request")
    assert (line["status"], line["account"], line["path"]) == (404, None, "/nope")
    assert "secret-in-query" not in line["msg"] % line["args"]


@pytest.mark.django_db
def test_no_log_line_holds_a_password_or_token(api, caplog):
    make_user(username="ada")
    with caplog.at_level(logging.DEBUG):
        pair = login_pair(api, "ada")
        api.get("/api/v1/users/me", **bearer(pair["access_token"]))
        api.post("/api/v1/auth/refresh", {"refresh_token": pair["refresh_token"]}, format="json")
        api.post(
            "/api/v1/auth/login",
            {"username": "ada", "password": "Wr0ng-Secret-Guess"},
            format="json",
        )

    formatter = JSONFormatter()
    text = "\n".join(formatter.format(record) for record in caplog.records)
    for secret in (PASSWORD, "Wr0ng-Secret-Guess", pair["access_token"], pair["refresh_token"]):
        assert secret not in text


def test_the_json_formatter_writes_one_object_per_record_with_the_extra_fields():
    record = logging.makeLogRecord(
        {"name": "accounts.auth", "levelname": "INFO", "msg": "login %s", "args": ("ok",)}
    )
    vars(record).update(event="login_succeeded", account_id=7)

    entry = json.loads(JSONFormatter().format(record))

    assert entry["message"] == "login ok"
    assert (entry["event"], entry["account_id"], entry["logger"]) == (
        "login_succeeded",
        7,
        "accounts.auth",
    )
    assert entry["time"].endswith("Z")
    assert "\n" not in JSONFormatter().format(record)
