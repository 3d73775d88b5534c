"""Helpers for the user realm's HTTP tests."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from django.db import connection
from django.utils import timezone
from rest_framework import serializers
from rest_framework.test import APIClient

from accounts.services import two_factor_confirm, two_factor_enrol
from accounts.tests.factories import PASSWORD
from accounts.totp import code_at, time_step


def assert_error(response: Any, status: int, code: str) -> dict[str, Any]:
    """The response is an error envelope with this status and `error.code`."""
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    body: dict[str, Any] = response.json()
    assert body["success"] is False
    assert body["error"]["code"] == code, body
    return body


def login(api: APIClient, username: str, password: str = PASSWORD, **extra: Any) -> Any:
    return api.post(
        "/api/v1/auth/login", {"username": username, "password": password}, format="json", **extra
    )


def login_pair(api: APIClient, username: str, password: str = PASSWORD) -> dict[str, Any]:
    response = login(api, username, password)
    assert response.status_code == 200, response.content
    data: dict[str, Any] = response.json()["data"]
    return data


def bearer(token: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


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


def plain_drf_twin(fast: type[serializers.ModelSerializer]) -> type[serializers.ModelSerializer]:
    """A plain DRF `ModelSerializer` with `fast`'s model, `Meta.fields` and method fields,
    but DRF's own `to_representation`: what a fast representation must equal."""
    methods = {
        name: serializers.SerializerMethodField()
        for name, field in fast._declared_fields.items()
        if isinstance(field, serializers.SerializerMethodField)
    }
    getters = {f"get_{name}": getattr(fast, f"get_{name}") for name in methods}
    meta = type("Meta", (), {"model": fast.Meta.model, "fields": fast.Meta.fields})
    return type(
        f"Plain{fast.__name__}",
        (serializers.ModelSerializer,),
        {**methods, **getters, "Meta": meta},
    )


def totp_now(secret: str) -> str:
    """The code an authenticator app with `secret` shows now."""
    return code_at(secret=secret, step=time_step(timezone.now()))


def enable_two_factor(account: Any, password: str = PASSWORD) -> tuple[str, list[str]]:
    """Turn on an account's second factor as its holder would (enrol, confirm with the
    current code); the secret and the recovery codes. The confirming code's step is used
    up: a login needs a code of a later step (move the clock on by `STEP_SECONDS`)."""
    secret, _ = two_factor_enrol(account=account, password=password, ip="127.0.0.1")
    codes = two_factor_confirm(account=account, code=totp_now(secret), ip="127.0.0.1")
    return secret, codes
