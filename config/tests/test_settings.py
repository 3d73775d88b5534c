"""Settings come from the environment, and production refuses to start half-configured."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

from config.testing import settings_in_a_fresh_process

PROJECT = Path(settings.BASE_DIR)


def _django_setup(**env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "DEBUG")}
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=PROJECT,
        env={**clean, "DJANGO_SETTINGS_MODULE": "config.settings", **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_production_without_secret_key_refuses_to_start_with_a_clear_message():
    result = _django_setup(DEBUG="false")

    assert result.returncode != 0
    assert "SECRET_KEY must be set when DEBUG is off" in result.stderr


def test_production_with_secret_key_starts():
    result = _django_setup(DEBUG="false", SECRET_KEY="x" * 50)

    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("value", ["none", "optional", "mandatory"])
def test_email_verification_takes_its_three_values(value):
    result = _django_setup(DEBUG="true", EMAIL_VERIFICATION=value)

    assert result.returncode == 0, result.stderr


def test_email_verification_refuses_anything_else_at_start_up():
    result = _django_setup(DEBUG="true", EMAIL_VERIFICATION="sometimes")

    assert result.returncode != 0
    assert "EMAIL_VERIFICATION must be one of none, optional, mandatory" in result.stderr


def test_embedded_defaults_are_sqlite_and_a_shared_cache():
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "import django; django.setup(); from django.conf import settings as s; "
            "print(s.DATABASES['default']['ENGINE'], s.CACHES['default']['BACKEND'], "
            "s.AUTH_USER_MODEL, s.PASSWORD_HASHERS[0], s.TIME_ZONE)",
        ],
        cwd=PROJECT,
        env={
            **{k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")},
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DEBUG": "false",
            "SECRET_KEY": "x" * 50,
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )

    assert result.stdout.split() == [
        "django.db.backends.sqlite3",
        "config.cache.SQLiteCache",
        "admins.Admin",
        "django.contrib.auth.hashers.Argon2PasswordHasher",
        "UTC",
    ]


def test_database_url_selects_postgresql_with_persistent_connections():
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "import django; django.setup(); from django.conf import settings as s; "
            "d = s.DATABASES['default']; print(d['ENGINE'], d['CONN_MAX_AGE'], "
            "d['CONN_HEALTH_CHECKS'], s.CACHES['default']['BACKEND'])",
        ],
        cwd=PROJECT,
        env={
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DEBUG": "false",
            "SECRET_KEY": "x" * 50,
            "DATABASE_URL": "postgres://app@db.internal:5432/app",
            "REDIS_URL": "redis://cache.internal:6379/0",
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )

    assert result.stdout.split() == [
        "django.db.backends.postgresql",
        "600",
        "False",  # no per-request SELECT 1 (CONN_HEALTH_CHECKS)
        "django.core.cache.backends.redis.RedisCache",
    ]


def _mail_settings(**env: str) -> list[str]:
    return settings_in_a_fresh_process(
        "s.EMAIL_BACKEND, s.EMAIL_HOST, s.EMAIL_PORT, s.EMAIL_USE_TLS, s.FRONTEND_URL, "
        "s.ADMIN_FRONTEND_URL",
        env={"SECRET_KEY": "x" * 50, **env},
        unset=("SECRET_KEY", "DEBUG", "EMAIL_URL", "FRONTEND_URL", "ADMIN_FRONTEND_URL"),
    )


def test_email_url_names_the_smtp_server():
    backend, host, port, tls, *_ = _mail_settings(
        DEBUG="false", EMAIL_URL="smtp+tls://user:secret@mail.example.com:587"
    )

    assert (backend, host, port, tls) == (
        "django.core.mail.backends.smtp.EmailBackend",
        "mail.example.com",
        "587",
        "True",
    )


def test_without_email_url_debug_prints_mails_to_the_console():
    backend, *_ = _mail_settings(DEBUG="true")

    assert backend == "django.core.mail.backends.console.EmailBackend"


def test_frontend_urls_default_to_the_public_url():
    *_, frontend, admin_frontend = _mail_settings(
        DEBUG="false", PUBLIC_URL="https://api.example.com"
    )
    assert frontend == admin_frontend == "https://api.example.com"

    *_, frontend, admin_frontend = _mail_settings(
        DEBUG="false",
        PUBLIC_URL="https://api.example.com",
        ADMIN_FRONTEND_URL="https://api.example.com/admin",
    )
    assert (frontend, admin_frontend) == (
        "https://api.example.com",
        "https://api.example.com/admin",
    )
