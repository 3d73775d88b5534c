"""accounts.totp: the encryption of TOTP secrets (keys, rotation), RFC 6238 codes and the
form of recovery codes."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from accounts.totp import (
    SecretUnreadable,
    matching_step,
    new_recovery_codes,
    new_secret,
    normalize_recovery_code,
    secret_decrypt,
    secret_encrypt,
)


def test_a_secret_is_encrypted_differently_each_time_and_decrypts_back():
    secret = new_secret()

    first, second = secret_encrypt(secret), secret_encrypt(secret)

    assert first != second
    assert secret not in first
    assert secret_decrypt(first) == secret_decrypt(second) == secret


def test_without_a_dedicated_key_the_secret_key_is_the_key_material(settings):
    stored = secret_encrypt("JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP")
    old_key = settings.SECRET_KEY
    settings.SECRET_KEY = "another secret key entirely, long enough"

    with pytest.raises(SecretUnreadable):
        secret_decrypt(stored)
    # Rotating SECRET_KEY the Django way (the old one as a fallback) keeps it readable.
    settings.SECRET_KEY_FALLBACKS = [old_key]
    assert secret_decrypt(stored) == "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


def test_a_dedicated_key_outlives_a_secret_key_change(settings):
    settings.MFA_ENCRYPTION_KEY = "a dedicated encryption key"
    stored = secret_encrypt("JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP")

    settings.SECRET_KEY = "another secret key entirely, long enough"

    assert secret_decrypt(stored) == "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


def test_old_keys_decrypt_but_only_the_current_key_encrypts(settings):
    settings.MFA_ENCRYPTION_KEY = "old"
    stored = secret_encrypt("JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP")
    settings.MFA_ENCRYPTION_KEY = "new"
    settings.MFA_ENCRYPTION_KEYS_OLD = ["old"]
    fresh = secret_encrypt("JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP")

    settings.MFA_ENCRYPTION_KEYS_OLD = []

    assert secret_decrypt(fresh) == "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
    with pytest.raises(SecretUnreadable):
        secret_decrypt(stored)


def test_a_tampered_value_is_refused():
    stored = secret_encrypt(new_secret())
    tampered = stored[:-5] + ("A" if stored[-5] != "A" else "B") + stored[-4:]

    with pytest.raises(SecretUnreadable):
        secret_decrypt(tampered)


def test_codes_are_rfc_6238_sha1_six_digits_thirty_seconds():
    # RFC 6238, appendix B: the SHA-1 seed "12345678901234567890", T = 59 s -> 94287082
    # (8 digits); its last 6 digits are the 6-digit code.
    secret = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
    at = datetime.fromtimestamp(59, tz=UTC)

    assert matching_step(secret=secret, code="287082", now=at) == 1
    assert matching_step(secret=secret, code="287083", now=at) is None
    # 1111111109 s -> 07081804.
    later = datetime.fromtimestamp(1111111109, tz=UTC)
    assert matching_step(secret=secret, code="081804", now=later) == 1111111109 // 30


FULL_WIDTH_CODE = "\uff12\uff18\uff17\uff10\uff18\uff12"


@pytest.mark.parametrize("code", ["28708", "2870822", "28708a", FULL_WIDTH_CODE, " 287082"])
def test_anything_but_six_ascii_digits_is_no_totp_code(code):
    # Full-width digits too: str.isdigit() alone would take them.
    at = datetime.fromtimestamp(59, tz=UTC)

    assert matching_step(secret="GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ", code=code, now=at) is None


def test_recovery_codes_are_ten_distinct_groups_of_four():
    codes = new_recovery_codes()

    assert len(set(codes)) == 10
    for code in codes:
        assert re.fullmatch(r"[0-9a-hjkmnp-tv-z]{4}(-[0-9a-hjkmnp-tv-z]{4}){3}", code)


def test_a_recovery_code_may_be_typed_in_any_case_with_or_without_hyphens():
    assert normalize_recovery_code("AB12-cd34 EF56-gh78") == "ab12cd34ef56gh78"
