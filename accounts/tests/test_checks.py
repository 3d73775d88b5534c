"""`check --deploy` warns when rate limits are not counted in Redis, and when no mail server
is configured outside DEBUG."""

from __future__ import annotations

from accounts.checks import check_email_url, check_rate_limit_cache


def test_deploy_check_warns_when_the_rate_limit_cache_is_not_redis(settings):
    settings.CACHES = {
        "default": {"BACKEND": "config.cache.SQLiteCache", "LOCATION": "cache.sqlite3"}
    }

    messages = check_rate_limit_cache(None)

    assert [message.id for message in messages] == ["accounts.W001"]


def test_deploy_check_is_quiet_on_redis(settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:6379/0",
        }
    }

    assert check_rate_limit_cache(None) == []


def test_deploy_check_warns_when_email_url_is_unset_outside_debug(settings):
    settings.DEBUG = False
    settings.EMAIL_URL = ""

    assert [message.id for message in check_email_url(None)] == ["accounts.W002"]


def test_deploy_check_is_quiet_with_email_url_or_in_debug(settings):
    settings.DEBUG, settings.EMAIL_URL = False, "smtp://mail.example.com:587"
    assert check_email_url(None) == []
    settings.DEBUG, settings.EMAIL_URL = True, ""
    assert check_email_url(None) == []
