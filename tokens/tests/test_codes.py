"""One-time codes: random, stored as digests, bound to account, realm and purpose,
expiring, single-use, and ended by a newer code of the same purpose."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from tokens.codes import code_consume, code_issue, code_lifetime, code_peek, codes_end_all
from tokens.crypto import digest
from tokens.models import CodePurpose, OneTimeCode, Token
from tokens.realms import ADMIN, USER
from tokens.tests.factories import make_account

pytestmark = pytest.mark.django_db

RESET = CodePurpose.PASSWORD_RESET


def refused(code: str, realm=USER, purpose=RESET) -> None:
    with pytest.raises(ValidationError) as info:
        code_consume(realm=realm, purpose=purpose, code=code)
    assert list(info.value.message_dict) == ["token"]


def test_a_code_is_random_and_only_its_digest_is_stored() -> None:
    user = make_account(USER)
    codes = {code_issue(account=user, purpose=purpose) for purpose in CodePurpose}
    assert len(codes) == 3
    for code in codes:
        assert len(code) >= 43  # 32 random bytes, URL-safe base64: 256 bits
        row = OneTimeCode.objects.get(code_hash=digest(code))
        assert code not in str(row)
        assert not OneTimeCode.objects.filter(code_hash=code).exists()


def test_a_code_works_once() -> None:
    user = make_account(USER)
    code = code_issue(account=user, purpose=RESET)
    row = code_consume(realm=USER, purpose=RESET, code=code)
    assert row.user == user
    assert row.used_at is not None
    refused(code)


def test_a_code_expires_after_its_purposes_lifetime(settings) -> None:
    settings.PASSWORD_RESET_TIMEOUT_MINUTES = 30
    settings.EMAIL_VERIFY_TIMEOUT_HOURS = 48
    settings.SECURE_ACCOUNT_TIMEOUT_DAYS = 7
    assert code_lifetime(CodePurpose.PASSWORD_RESET) == timedelta(minutes=30)
    assert code_lifetime(CodePurpose.EMAIL_VERIFY) == timedelta(hours=48)
    assert code_lifetime(CodePurpose.SECURE_ACCOUNT) == timedelta(days=7)
    user = make_account(USER)
    code = code_issue(account=user, purpose=RESET)
    with time_machine.travel(timezone.now() + timedelta(minutes=29)):
        code_peek(realm=USER, purpose=RESET, code=code)
    with time_machine.travel(timezone.now() + timedelta(minutes=30, seconds=1)):
        refused(code)
    assert OneTimeCode.objects.get().used_at is None


def test_a_code_is_bound_to_its_purpose_and_realm() -> None:
    user = make_account(USER)
    admin = make_account(ADMIN)
    user_code = code_issue(account=user, purpose=RESET)
    admin_code = code_issue(account=admin, purpose=RESET)
    refused(user_code, purpose=CodePurpose.SECURE_ACCOUNT)
    refused(user_code, realm=ADMIN)
    refused(admin_code, realm=USER)
    assert code_consume(realm=ADMIN, purpose=RESET, code=admin_code).admin == admin
    assert OneTimeCode.objects.get(user=user).used_at is None


def test_unknown_empty_and_oversized_codes_are_refused() -> None:
    make_account(USER)
    for code in ("", "nope", "x" * 129):
        refused(code)


def test_a_new_code_ends_the_older_ones_of_that_purpose_only() -> None:
    user = make_account(USER)
    other = make_account(USER)
    first = code_issue(account=user, purpose=RESET)
    secure = code_issue(account=user, purpose=CodePurpose.SECURE_ACCOUNT)
    others = code_issue(account=other, purpose=RESET)
    second = code_issue(account=user, purpose=RESET)
    refused(first)
    code_consume(realm=USER, purpose=CodePurpose.SECURE_ACCOUNT, code=secure)
    code_consume(realm=USER, purpose=RESET, code=others)
    code_consume(realm=USER, purpose=RESET, code=second)
    # One row per account and purpose at most: the table does not grow with requests.
    assert OneTimeCode.objects.filter(user=user, purpose=RESET).count() == 1


def test_ending_every_code_of_an_account() -> None:
    user = make_account(USER)
    codes = [code_issue(account=user, purpose=purpose) for purpose in CodePurpose]
    assert codes_end_all(account=user) == 3
    for code, purpose in zip(codes, CodePurpose, strict=True):
        refused(code, purpose=purpose)


def test_a_code_belongs_to_exactly_one_owner() -> None:
    user = make_account(USER)
    admin = make_account(ADMIN)
    expires = timezone.now() + timedelta(minutes=5)
    for owners in ({}, {"user": user, "admin": admin}):
        with pytest.raises(IntegrityError), transaction.atomic():
            OneTimeCode.objects.create(
                purpose=RESET, code_hash=f"h{len(owners)}", expires_at=expires, **owners
            )


def test_a_code_is_no_bearer_credential(api) -> None:
    user = make_account(USER)
    code = code_issue(account=user, purpose=RESET)
    response = api.get("/api/v1/users/me", HTTP_AUTHORIZATION=f"Bearer {code}")
    assert response.status_code == 401
    assert not Token.objects.exists()
