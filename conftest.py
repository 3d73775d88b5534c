"""Fixtures every app's tests share."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.contrib.auth.hashers import Argon2PasswordHasher
from django.core.cache import cache
from rest_framework.test import APIClient

from accounts.tests.mailing import Mailbox, start_smtp


def clear_cache() -> None:
    """Empty this run's cache keys (rate-limit counters) without touching anyone else's."""
    if django_settings.CACHES["default"]["BACKEND"].endswith("RedisCache"):
        client = cache._cache.get_client(write=True)  # type: ignore[attr-defined]
        prefix = django_settings.CACHES["default"]["KEY_PREFIX"]
        for key in client.scan_iter(f"{prefix}:*"):
            client.delete(key)
    else:
        cache.clear()


@pytest.fixture(autouse=True)
def _isolated(settings: Any, tmp_path: Path) -> None:
    """Every test gets its own upload folder and an empty cache."""
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.MEDIA_ROOT.mkdir()
    clear_cache()


@pytest.fixture
def api() -> APIClient:
    """The real HTTP stack, through DRF's test client."""
    return APIClient()


@pytest.fixture
def api_no_raise() -> APIClient:
    """A client that gets the 500 response instead of the view's exception."""
    return APIClient(raise_request_exception=False)


@pytest.fixture
def argon2_hashes(settings: Any, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The production hasher, for tests that are about hashing, counting each hash it
    computes (`encode` makes one, `verify` recomputes one)."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.Argon2PasswordHasher"]
    calls: list[str] = []
    for method in ("encode", "verify"):
        original = getattr(Argon2PasswordHasher, method)

        def counting(self: Any, *args: Any, _name: str = method, _original: Any = original) -> Any:
            calls.append(_name)
            return _original(self, *args)

        monkeypatch.setattr(Argon2PasswordHasher, method, counting)
    return calls


@pytest.fixture
def smtp(settings: Any) -> Iterator[Mailbox]:
    """A real SMTP server on a free loopback port, and Django's SMTP backend pointed at it;
    yields the server's mailbox."""
    # aiosmtpd logs every connection at INFO.
    logging.getLogger("mail.log").setLevel(logging.WARNING)
    controller, mailbox = start_smtp()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = controller.hostname
    settings.EMAIL_PORT = controller.port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_TIMEOUT = 5
    try:
        yield mailbox
    finally:
        controller.stop()


@pytest.fixture
def generous_login_limit(settings: Any) -> None:
    """For tests that log in often from one address; the login limit has its own tests."""
    settings.RATE_LIMIT_ATTEMPTS = 100
