"""The throttles of the accounts: logins, their second step, password confirmations, reset
requests and code checks per client IP and realm (codes also per account); registration
per client IP; profile updates, avatar uploads and verification mails per account. Every
attempt counts, whatever it answers."""

from __future__ import annotations

from typing import Any

from django.conf import settings

from config.ratelimit import ip_bucket, throttle
from tokens.realms import Realm, account_key


def login_rate() -> str:
    return f"{settings.RATE_LIMIT_ATTEMPTS}/{settings.RATE_LIMIT_WINDOW_MINUTES}m"


def throttle_login(*, realm: Realm, ip: str) -> None:
    """Login attempts of one realm."""
    throttle(group=realm.group("login"), rate=login_rate(), key=ip_bucket(ip))


def throttle_login_second_factor(*, realm: Realm, ip: str) -> None:
    """The second step of logins with a second factor: a group of its own, at the login's
    rate, so that codes cannot be guessed faster than passwords."""
    throttle(group=realm.group("login-2fa"), rate=login_rate(), key=ip_bucket(ip))


def throttle_second_factor_check(*, realm: Realm, ip: str, account: Any) -> None:
    """Codes checked by a signed-in account (confirming, regenerating, turning off the
    second factor): per client IP, with the password checks, and per account, so that a
    stolen session cannot guess codes from many addresses either."""
    throttle_password_check(realm=realm, ip=ip)
    throttle(group=realm.group("second-factor-check"), rate=login_rate(), key=account_key(account))


def throttle_password_check(*, realm: Realm, ip: str) -> None:
    """Password confirmations (password change, account deletion): a stolen access token
    must not be a way to guess the password at full speed."""
    throttle(group=realm.group("password-check"), rate=login_rate(), key=ip_bucket(ip))


def throttle_register(*, ip: str) -> None:
    throttle(group="register", rate=settings.REGISTER_RATE_LIMIT, key=ip_bucket(ip))


def throttle_profile_update(*, account: Any) -> None:
    """Profile updates of one account, either realm. A 409 tells whether a username, email
    or phone is taken, so the attempt counts whether it succeeds, conflicts or is invalid:
    otherwise the endpoint would be an oracle for other people's contact details."""
    throttle(
        group="profile-update",
        rate=settings.PROFILE_UPDATE_RATE_LIMIT,
        key=account_key(account),
    )


def throttle_avatar_upload(*, account: Any) -> None:
    """Avatar uploads of one account: each costs a decode, so one account's loop must not
    occupy a worker, from however many addresses it comes."""
    throttle(
        group="avatar-upload", rate=settings.AVATAR_UPLOAD_RATE_LIMIT, key=account_key(account)
    )


def throttle_password_reset(*, realm: Realm, ip: str) -> None:
    """Reset requests per client IP (the per-address cap is the worker's)."""
    throttle(
        group=realm.group("password-reset"),
        rate=settings.PASSWORD_RESET_RATE_LIMIT,
        key=ip_bucket(ip),
    )


def throttle_token_check(*, realm: Realm, ip: str) -> None:
    """Checks of a mailed code (reset confirm, verification, secure-account): 256-bit
    codes cannot be guessed, but every check costs a query and a password hash may follow."""
    throttle(
        group=realm.group("token-check"), rate=settings.TOKEN_CHECK_RATE_LIMIT, key=ip_bucket(ip)
    )


def throttle_email_verify_resend(*, account: Any) -> None:
    """New verification mails of one account (asked for, or sent on a login refused for an
    unverified address), either realm: each one lands in an inbox."""
    throttle(
        group="email-verify-resend",
        rate=settings.EMAIL_VERIFY_RESEND_RATE_LIMIT,
        key=account_key(account),
    )
