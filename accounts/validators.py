"""Field rules shared by both realms: username, name and phone."""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from typing import Any

import phonenumbers
from django.contrib.auth.validators import UnicodeUsernameValidator
from django.core.exceptions import ValidationError
from django.core.validators import MinLengthValidator

USERNAME_MIN_LENGTH = 3
USERNAME_MAX_LENGTH = 150
NAME_MAX_LENGTH = 150
PHONE_MAX_LENGTH = 16  # "+" and at most 15 digits (E.164)

username_validators: list[Callable[[Any], None]] = [
    UnicodeUsernameValidator(),
    MinLengthValidator(USERNAME_MIN_LENGTH),
]


def normalize_username(value: str) -> str:
    """NFKC, so that the full-width and the ASCII forms of a name are one username."""
    return unicodedata.normalize("NFKC", value)


def fold_identifier(value: str) -> str:
    """The form in which usernames and emails are compared: NFKC, then lower case.

    The same fold as the `LOWER(...)` indexes over the stored (NFKC) values, on SQLite
    through `accounts.sqlite`; the login identifier tables hold values in this form.
    """
    return normalize_username(value).lower()


def normalize_email(value: str) -> str:
    """NFKC and trimmed, in the case typed: full-width forms of an address collide."""
    return unicodedata.normalize("NFKC", value).strip()


def validate_no_control_characters(value: str) -> None:
    if any(unicodedata.category(char) in ("Cc", "Cf", "Cs", "Co", "Cn") for char in value):
        raise ValidationError("Control characters are not allowed.", code="control_characters")


def normalize_phone(value: str | None) -> str | None:
    """A phone number in E.164 (`+14155550123`), or None for "no phone" (`""` or null).

    Numbers are given in international form (with `+` or `00`); a number without a country
    code is ambiguous, so it is refused rather than guessed.
    """
    if value is None or not value.strip():
        return None
    text = value.strip()
    if text.startswith("00"):
        text = "+" + text[2:]
    try:
        number = phonenumbers.parse(text, None)
    except phonenumbers.NumberParseException as exc:
        raise ValidationError(
            "Enter a phone number in international format, e.g. +14155550123.", code="invalid"
        ) from exc
    if not phonenumbers.is_valid_number(number):
        raise ValidationError("Enter a valid phone number.", code="invalid")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
