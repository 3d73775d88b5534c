"""Structured logs: one line per request, one per auth event, JSON, never a secret."""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
import time
from collections.abc import Iterator
from urllib.parse import quote

import pytest
from django.utils.module_loading import import_string

from config.logging import CONTINUATION, JSONFormatter, PlainFormatter
from config.testing import PASSWORD, bearer, login_pair
from tokens.realms import USER
from tokens.tests.factories import make_account


def _lines(caplog, logger: str) -> list[dict]:
    """The fields of each record of `logger` (the `extra` ones included)."""
    return [vars(record) for record in caplog.records if record.name == logger]


@pytest.mark.django_db
def test_each_request_is_one_line_with_its_request_id_account_and_ip(api, caplog):
    user = make_account(USER, username="ada")
    pair = login_pair(api, USER, "ada")
    caplog.clear()

    with caplog.at_level(logging.INFO, logger="config.request"):
        started = time.perf_counter()
        api.get("/api/v1/users/me", HTTP_X_REQUEST_ID="trace-1", **bearer(pair["access_token"]))
        elapsed_ms = (time.perf_counter() - started) * 1000

    [line] = _lines(caplog, "config.request")
    assert (line["method"], line["path"], line["status"]) == ("GET", "/api/v1/users/me", 200)
    assert (line["request_id"], line["account"], line["ip"]) == (
        "trace-1",
        f"user:{user.pk}",
        "127.0.0.1",
    )
    # Milliseconds with two decimals, the time the middleware measured inside the request,
    # and the very number the message shows.
    duration = line["duration_ms"]
    assert isinstance(duration, float)
    assert duration == round(duration, 2)
    assert 0 < duration <= round(elapsed_ms, 2)
    assert line["msg"] % line["args"] == f"GET /api/v1/users/me 200 {duration:.2f}ms"


@pytest.mark.django_db
def test_an_anonymous_request_logs_no_account(api, caplog):
    with caplog.at_level(logging.INFO, logger="config.request"):
        api.get("/nope?token=secret-in-query")

    [line] = _lines(caplog, "config.request")
    assert (line["status"], line["account"], line["path"]) == (404, None, "/nope")
    assert "secret-in-query" not in line["msg"] % line["args"]


@pytest.mark.django_db
def test_no_log_line_holds_a_password_or_token(api, caplog):
    make_account(USER, username="ada")
    with caplog.at_level(logging.DEBUG):
        pair = login_pair(api, USER, "ada")
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


# --- LOG_FORMAT=plain: one line per record, whatever the client sends ---------------------

FORGED = "2026-12-01 08:00:00,000 INFO accounts.auth login_succeeded account=1"


class Collect(logging.Handler):
    """Each record as the formatter writes it."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.entries: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.entries.append(self.format(record))


@pytest.fixture
def plain(settings) -> Iterator[Collect]:
    """Every record of the root logger, formatted by the `plain` formatter of LOGGING."""
    config = settings.LOGGING["formatters"]["plain"]
    handler = Collect()
    handler.setFormatter(import_string(config["class"])(config["format"]))
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield handler
    root.removeHandler(handler)
    root.setLevel(level)


def test_records_keep_the_process_and_thread_ids_that_other_formats_print():
    """The logging switches this project turns off leave every format working: gunicorn's
    own error log, in the same process, writes `[%(process)d]`."""
    gunicorns = logging.Formatter("%(asctime)s [%(process)d] [%(levelname)s] %(message)s")
    record = logging.getLogger("gunicorn.error").makeRecord(
        "gunicorn.error", logging.INFO, __file__, 1, "Starting gunicorn %s", ("27",), None
    )

    assert f"[{os.getpid()}] [INFO] Starting gunicorn 27" in gunicorns.format(record)
    assert record.thread == threading.get_ident()
    assert logging.Formatter("%(thread)d %(lineno)d %(funcName)s").format(record)


def test_the_plain_format_is_the_escaping_formatter(settings):
    assert settings.LOGGING["formatters"]["plain"]["class"] == "config.logging.PlainFormatter"


@pytest.mark.django_db
@pytest.mark.parametrize("separator", ["%0A", "%0D%0A", "%0D", "%C2%85", "%E2%80%A8", "%1B[2K%0D"])
def test_a_line_break_in_the_path_cannot_forge_a_plain_log_line(api, plain, separator):
    response = api.get(f"/nope{separator}{quote(FORGED)}")

    assert response.status_code == 404
    [request_line] = [entry for entry in plain.entries if " config.request " in entry]
    assert request_line.splitlines() == [request_line]
    assert FORGED in request_line
    assert request_line.endswith("ms")  # the forged text stayed inside its own record
    assert all(entry.splitlines() == [entry] for entry in plain.entries)


@pytest.mark.parametrize(
    ("raw", "escaped"),
    [
        ("a\nb", "a\\nb"),
        ("a\r\nb", "a\\r\\nb"),
        ("tab\there", "tab\\there"),
        ("nul\x00 esc\x1b[31m del\x7f", "nul\\x00 esc\\x1b[31m del\\x7f"),
        ("c1 \x85 \x9b", "c1 \\x85 \\x9b"),
        ("ls \u2028 ps \u2029", "ls \\u2028 ps \\u2029"),
        ("a literal \\n stays readable", "a literal \\\\n stays readable"),
        ("naïve café ✓", "naïve café ✓"),
    ],
)
def test_the_plain_formatter_escapes_every_control_character(raw, escaped):
    record = logging.makeLogRecord({"name": "x", "levelname": "INFO", "msg": "%s", "args": (raw,)})

    assert PlainFormatter("%(message)s").format(record) == escaped


def test_a_traceback_keeps_its_lines_but_none_can_pass_for_a_record():
    try:
        raise ValueError(f"bad input\n{FORGED}")
    except ValueError:
        exc_info = sys.exc_info()
    record = logging.makeLogRecord(
        {"name": "x", "levelname": "ERROR", "msg": "failed: %s", "args": ("a\nb",)}
    )
    record.exc_info = exc_info

    first, *rest = PlainFormatter("%(levelname)s %(message)s").format(record).split("\n")

    assert first == "ERROR failed: a\\nb"
    assert rest[0] == CONTINUATION + "Traceback (most recent call last):"
    assert rest[-1] == CONTINUATION + FORGED
    assert all(line.startswith(CONTINUATION) for line in rest)
