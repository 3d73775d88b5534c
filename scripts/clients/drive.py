"""
The Python client that openapi-python-client generated from the live document, driven
against the live server. `scripts/clients.py` runs this file with the interpreter of the
throwaway virtualenv that holds the generator (and so the client's own dependencies,
httpx and attrs), with the generated package on `sys.path`:

    python drive.py PACKAGE_DIR BASE_URL

It imports every module of the package, then registers, logs in (a wrong password
first), reads the profile, creates a personal access token and uses it, and logs out,
each through the generated functions and models. It prints one JSON object per check
(`{"name", "ok", "detail"}`), which `scripts/clients.py` reports; it never raises for a
failed check.
"""

from __future__ import annotations

import importlib
import json
import pkgutil
import secrets
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

PACKAGE = "account_client"
# A throwaway account's.
PASSWORD = "generated client passphrase 2026"  # noqa: S105
WRONG_PASSWORD = "not the passphrase 2026"  # noqa: S105


def report(name: str, ok: bool, detail: str = "") -> bool:
    print(json.dumps({"name": name, "ok": bool(ok), "detail": detail}), flush=True)
    return bool(ok)


def import_everything() -> bool:
    """Import every module of the generated package; report the ones that fail."""
    package = importlib.import_module(PACKAGE)
    names = [PACKAGE]
    names += [info.name for info in pkgutil.walk_packages(package.__path__, f"{PACKAGE}.")]
    failures = []
    for name in names:
        try:
            importlib.import_module(name)
        except Exception as exc:
            failures.append(f"{name}: {type(exc).__name__}: {exc}")
    return report(
        "python client: every generated module imports",
        not failures,
        f"{len(names)} modules" + (f"; {'; '.join(failures[:5])}" if failures else ""),
    )


def step(name: str, call: Callable[[], tuple[bool, str]]) -> bool:
    """One check: `call()` gives (ok, detail); an exception is a failure."""
    try:
        ok, detail = call()
    except Exception as exc:
        ok, detail = False, f"{type(exc).__name__}: {exc} {traceback.format_exc(limit=-2)!r}"
    return report(name, ok, detail)


def flow(base_url: str) -> None:
    from account_client import AuthenticatedClient, Client  # type: ignore[import-not-found]
    from account_client.api.auth import (  # type: ignore[import-not-found]
        auth_login,
        auth_logout,
        auth_register,
    )
    from account_client.api.tokens import tokens_create  # type: ignore[import-not-found]
    from account_client.api.users import users_me_get  # type: ignore[import-not-found]
    from account_client.models import (  # type: ignore[import-not-found]
        EmptyEnvelope,
        Error401Code,
        Error401Envelope,
        Error401InvalidCredentialsCode,
        Error401InvalidCredentialsEnvelope,
        LoginRequest,
        RegisterRequest,
        ScopesEnum,
        TokenCreateRequest,
        TokenWithSecretEnvelope,
        UserEnvelope,
        UserLoginResponseEnvelope,
    )

    client = Client(base_url=base_url, timeout=15)
    username = f"gen{secrets.token_hex(4)}"
    state: dict[str, Any] = {}

    def register() -> tuple[bool, str]:
        body = RegisterRequest(
            username=username,
            name="Generated Client",
            email=f"{username}@example.com",
            password=PASSWORD,
        )
        answer = auth_register.sync_detailed(client=client, body=body)
        parsed = answer.parsed
        ok = (
            answer.status_code == 201
            and isinstance(parsed, UserEnvelope)
            and parsed.success is True
            and parsed.data.username == username
        )
        return ok, f"{answer.status_code} {type(parsed).__name__}"

    def wrong_password() -> tuple[bool, str]:
        body = LoginRequest(username=username, password=WRONG_PASSWORD)
        answer = auth_login.sync_detailed(client=client, body=body)
        parsed = answer.parsed
        ok = (
            answer.status_code == 401
            and isinstance(parsed, Error401InvalidCredentialsEnvelope)
            and parsed.success is False
            and parsed.error.code == Error401InvalidCredentialsCode.INVALID_CREDENTIALS
        )
        return ok, f"{answer.status_code} {type(parsed).__name__}"

    def login() -> tuple[bool, str]:
        answer = auth_login.sync_detailed(
            client=client, body=LoginRequest(username=username, password=PASSWORD)
        )
        parsed = answer.parsed
        # One response schema for both outcomes (a token pair, or `mfa_required`): this
        # account has no second factor, so the pair and the user are there.
        ok = (
            answer.status_code == 200
            and isinstance(parsed, UserLoginResponseEnvelope)
            and parsed.success is True
            and not parsed.data.mfa_required
            and getattr(parsed.data.user, "username", None) == username
            and str(parsed.data.token_type) == "Bearer"
        )
        if ok:
            state["access"] = parsed.data.access_token
        return ok, f"{answer.status_code} {type(parsed).__name__}"

    def me(token_key: str, what: str) -> Callable[[], tuple[bool, str]]:
        def call() -> tuple[bool, str]:
            bearer = AuthenticatedClient(base_url=base_url, token=state[token_key], timeout=15)
            answer = users_me_get.sync_detailed(client=bearer)
            parsed = answer.parsed
            ok = (
                answer.status_code == 200
                and isinstance(parsed, UserEnvelope)
                and parsed.data.username == username
                and parsed.message == "Profile retrieved"
            )
            return ok, f"{what}: {answer.status_code} {type(parsed).__name__}"

        return call

    def create_token() -> tuple[bool, str]:
        bearer = AuthenticatedClient(base_url=base_url, token=state["access"], timeout=15)
        body = TokenCreateRequest(name="generated client", scopes=[ScopesEnum.READ])
        answer = tokens_create.sync_detailed(client=bearer, body=body)
        parsed = answer.parsed
        ok = (
            answer.status_code == 201
            and isinstance(parsed, TokenWithSecretEnvelope)
            and parsed.data.token.startswith("pat_")
            and [str(scope) for scope in parsed.data.scopes] == ["read"]
        )
        if ok:
            state["pat"] = parsed.data.token
        return ok, f"{answer.status_code} {type(parsed).__name__}"

    def logout() -> tuple[bool, str]:
        bearer = AuthenticatedClient(base_url=base_url, token=state["access"], timeout=15)
        answer = auth_logout.sync_detailed(client=bearer)
        parsed = answer.parsed
        ok = (
            answer.status_code == 200
            and isinstance(parsed, EmptyEnvelope)
            and parsed.success is True
            and parsed.data is None
        )
        return ok, f"{answer.status_code} {type(parsed).__name__}"

    def revoked() -> tuple[bool, str]:
        bearer = AuthenticatedClient(base_url=base_url, token=state["access"], timeout=15)
        answer = users_me_get.sync_detailed(client=bearer)
        parsed = answer.parsed
        ok = (
            answer.status_code == 401
            and isinstance(parsed, Error401Envelope)
            and parsed.success is False
            and parsed.error.code == Error401Code.TOKEN_INVALID
        )
        return ok, f"{answer.status_code} {type(parsed).__name__}"

    checks = [
        ("python client: register (201 UserEnvelope)", register),
        ("python client: wrong password (401 INVALID_CREDENTIALS)", wrong_password),
        ("python client: login (200 UserLoginResponseEnvelope)", login),
        ("python client: me with the access token", me("access", "session")),
        ("python client: create a personal access token (201, pat_...)", create_token),
        ("python client: me with the personal access token", me("pat", "personal token")),
        ("python client: logout (200 EmptyEnvelope, data null)", logout),
        ("python client: the logged-out access token is 401 TOKEN_INVALID", revoked),
    ]
    for name, call in checks:
        if not step(name, call):
            break  # each step needs the one before it


def main() -> None:
    package_dir, base_url = Path(sys.argv[1]), sys.argv[2]
    sys.path.insert(0, str(package_dir.parent))
    if import_everything():
        flow(base_url)


if __name__ == "__main__":
    main()
