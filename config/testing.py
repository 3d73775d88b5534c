"""What every app's tests share: the error envelope's check, logging in on a realm, bearer
headers and requests sent at once.

It sits in `config`, the lowest layer, and imports no app: a realm comes in as an argument,
so the tests of `tokens` and `config` need nothing from the apps above them to use it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import pytest
from django.conf import settings
from django.db import connection
from rest_framework.test import APIClient

if TYPE_CHECKING:
    from tokens.realms import Realm

# For a race between requests: SQLite serialises every write, so only PostgreSQL's row locking
# lets two of them meet (with `django_db(transaction=True)`, each thread on its own connection).
needs_row_locking = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="SQLite serialises every write; the races need PostgreSQL's row locking",
)

# The password every test account gets unless a test gives it another, in every realm.
PASSWORD = "correct horse battery staple"


def assert_error(response: Any, status: int, code: str) -> dict[str, Any]:
    """The response is an error envelope with this status and `error.code`."""
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    body: dict[str, Any] = response.json()
    assert body["success"] is False
    assert body["error"]["code"] == code, body
    return body


def bearer(token: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


def login(
    api: APIClient, realm: Realm, username: str, password: str = PASSWORD, **extra: Any
) -> Any:
    """A login on `realm`'s own endpoint (`/api/v1/{url_prefix}auth/login`)."""
    return api.post(
        f"/api/v1/{realm.url_prefix}auth/login",
        {"username": username, "password": password},
        format="json",
        **extra,
    )


def login_pair(
    api: APIClient, realm: Realm, username: str, password: str = PASSWORD
) -> dict[str, Any]:
    """The token pair (and account) of a login on `realm` that must succeed."""
    response = login(api, realm, username, password)
    assert response.status_code == 200, response.content
    data: dict[str, Any] = response.json()["data"]
    return data


def run_together(count: int, request: Callable[[APIClient, int], Any]) -> list[Any]:
    """Send `count` requests at once, one thread and one client each; return the responses.

    A client that does not re-raise view exceptions, so a server error shows up as a 500
    response to assert on rather than as a crash in a thread.
    """
    barrier = threading.Barrier(count)
    responses: list[Any] = [None] * count
    failures: list[BaseException] = []

    def worker(index: int) -> None:
        try:
            client = APIClient(raise_request_exception=False)
            barrier.wait(timeout=30)
            responses[index] = request(client, index)
        except BaseException as exc:  # reported below, in the test's own thread
            failures.append(exc)
        finally:
            # Each thread has its own connection; leaving it open would block the flush
            # that ends a transactional test.
            connection.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads), "a request never finished"
    assert not failures, failures
    return responses


def settings_in_a_fresh_process(
    expression: str, *, env: dict[str, str], unset: Iterable[str] = ()
) -> list[str]:
    """The words a new process prints for `expression` (over `s`, its settings), started
    with this environment less `unset`, plus `env`: what production settings make of
    their environment variables, which a test cannot change once Django is set up."""
    environment = {name: value for name, value in os.environ.items() if name not in set(unset)}
    result = subprocess.run(  # noqa: S603 (this interpreter, a fixed program)
        [
            sys.executable,
            "-c",
            f"import django; django.setup(); from django.conf import settings as s; "
            f"print({expression})",
        ],
        cwd=settings.BASE_DIR,
        env={**environment, "DJANGO_SETTINGS_MODULE": "config.settings", **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return result.stdout.split()
