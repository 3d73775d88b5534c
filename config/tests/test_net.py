"""The client IP: REMOTE_ADDR, or through trusted proxies only."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import RequestFactory

from config.api.net import client_ip


def _request(remote: str, forwarded: str | None = None):
    extra: dict[str, Any] = {"REMOTE_ADDR": remote}
    if forwarded is not None:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded
    return RequestFactory().get("/", **extra)


def test_without_trusted_proxies_forwarded_for_is_ignored(settings):
    settings.TRUSTED_PROXIES = []

    assert client_ip(_request("203.0.113.5", "198.51.100.1")) == "203.0.113.5"


def test_a_trusted_proxy_gives_the_rightmost_untrusted_address(settings):
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]

    request = _request("10.0.0.2", "6.6.6.6, 198.51.100.1, 10.0.0.1")

    assert client_ip(request) == "198.51.100.1"


def test_an_untrusted_peer_cannot_pick_its_address(settings):
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]

    assert client_ip(_request("203.0.113.5", "198.51.100.1")) == "203.0.113.5"


@pytest.mark.parametrize("forwarded", ["", "not-an-ip", "10.0.0.3"])
def test_a_proxy_without_a_usable_client_address_is_the_client(settings, forwarded):
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]

    assert client_ip(_request("10.0.0.2", forwarded)) == "10.0.0.2"


def test_ipv6_proxies_and_clients(settings):
    settings.TRUSTED_PROXIES = ["::1", "fd00::/8"]

    assert client_ip(_request("::1", "2001:db8::7, fd00::1")) == "2001:db8::7"


def test_rate_limits_key_ipv6_clients_by_their_64(settings):
    from config.ratelimit import ip_bucket

    first = ip_bucket("2001:db8:1:2::7")
    second = ip_bucket("2001:db8:1:2:ffff::1")
    other = ip_bucket("2001:db8:1:3::7")

    assert first == second == "2001:db8:1:2::/64"
    assert other != first
    assert ip_bucket("203.0.113.5") == "203.0.113.5"
    assert ip_bucket("::ffff:203.0.113.5") == "203.0.113.5"
