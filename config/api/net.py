"""The client's IP address, the one way every part of the project reads it, and `Client`
(address and User-Agent), what the security log records of the client behind a change.

It is `REMOTE_ADDR`, unless that address is a trusted reverse proxy (`TRUSTED_PROXIES`,
IPs or CIDRs): then it is the right-most `X-Forwarded-For` address that is not itself a
trusted proxy. Proxies append the address they saw, so everything left of that is
whatever the client chose to send; without trusted proxies the header is ignored.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache
from typing import NamedTuple

from django.conf import settings
from django.http import HttpRequest

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=8)
def _networks(proxies: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(proxy.strip(), strict=False) for proxy in proxies)


def _is_proxy(address: str, proxies: tuple[Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in proxies)


def client_ip(request: HttpRequest) -> str:
    remote = str(request.META.get("REMOTE_ADDR", ""))
    proxies = _networks(tuple(settings.TRUSTED_PROXIES))
    if not proxies or not _is_proxy(remote, proxies):
        return remote
    forwarded = str(request.META.get("HTTP_X_FORWARDED_FOR", ""))
    for address in reversed([part.strip() for part in forwarded.split(",")]):
        if _is_proxy(address, proxies):
            continue
        try:
            return str(ipaddress.ip_address(address))
        except ValueError:
            # Not an address a proxy would write: the chain cannot be trusted past here.
            return remote
    return remote


class Client(NamedTuple):
    """Where a request came from, as the security log records it."""

    ip: str | None
    user_agent: str = ""


def client_of(request: HttpRequest) -> Client:
    """The client behind `request`: its address (`client_ip`) and its User-Agent, cut to
    the 255 characters the log keeps."""
    return Client(client_ip(request) or None, request.headers.get("User-Agent", "")[:255])
