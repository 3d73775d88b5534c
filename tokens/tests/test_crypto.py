"""Personal access token secrets: their shape, their randomness and their offline checksum."""

from __future__ import annotations

import math
import string
import zlib

import pytest

from tokens.crypto import digest, new_personal_token, personal_token_is_well_formed

BASE62 = string.digits + string.ascii_letters
PREFIX = "pat_"
RANDOM_LENGTH = 30
CHECKSUM_LENGTH = 6
LENGTH = len(PREFIX) + RANDOM_LENGTH + CHECKSUM_LENGTH


def random_part(token: str) -> str:
    return token[len(PREFIX) : len(PREFIX) + RANDOM_LENGTH]


def from_base62(text: str) -> int:
    """Decode base62 digits (0-9, a-z, A-Z in that order), independently of the code."""
    number = 0
    for char in text:
        number = number * 62 + BASE62.index(char)
    return number


def substituted(token: str, position: int, char: str) -> str:
    return f"{token[:position]}{char}{token[position + 1 :]}"


# --- Shape ---------------------------------------------------------------------------


def test_new_personal_token_has_the_pat_prefix_and_a_fixed_length():
    token = new_personal_token()

    assert token.startswith(PREFIX)
    assert len(token) == LENGTH == 40


def test_new_personal_token_body_is_base62_only():
    for _ in range(50):
        body = new_personal_token()[len(PREFIX) :]

        assert set(body) <= set(BASE62), body


def test_new_personal_token_carries_the_crc32_of_its_random_part():
    for _ in range(50):
        token = new_personal_token()
        checksum = token[-CHECKSUM_LENGTH:]

        assert from_base62(checksum) == zlib.crc32(random_part(token).encode())
        assert personal_token_is_well_formed(token)


def test_new_personal_token_has_at_least_160_random_bits():
    tokens = [new_personal_token() for _ in range(200)]
    parts = [random_part(token) for token in tokens]

    # 30 characters drawn from the whole base62 alphabet: 30 * log2(62) > 178 bits.
    assert RANDOM_LENGTH * math.log2(len(BASE62)) >= 160
    # Every one of the 62 characters is used (6000 draws would all but never miss one)...
    assert set("".join(parts)) == set(BASE62)
    # ...and every one of the 30 positions varies: no position is fixed or nearly so.
    for position in range(RANDOM_LENGTH):
        assert len({part[position] for part in parts}) >= 30, position


def test_two_new_personal_tokens_differ():
    tokens = {new_personal_token() for _ in range(1000)}

    assert len(tokens) == 1000
    assert len({random_part(token) for token in tokens}) == 1000


# --- The checksum refuses typos and made-up tokens -----------------------------------


def test_every_single_character_substitution_is_refused():
    """CRC32 detects every error burst of up to 32 bits, so every one-character change of
    the random part changes the checksum; a changed checksum or prefix fails on its own.
    Checked exhaustively: every position, every other base62 character, several tokens."""
    for _ in range(10):
        token = new_personal_token()
        for position in range(LENGTH):
            for char in BASE62:
                if char == token[position]:
                    continue
                changed = substituted(token, position, char)

                assert not personal_token_is_well_formed(changed), (position, char)


def test_a_real_token_is_well_formed():
    assert personal_token_is_well_formed(new_personal_token())


@pytest.mark.parametrize("cut", [1, CHECKSUM_LENGTH, LENGTH - len(PREFIX), LENGTH])
def test_a_truncated_token_is_refused(cut):
    token = new_personal_token()

    assert not personal_token_is_well_formed(token[:-cut])


@pytest.mark.parametrize("extra", ["0", "a", "Z", " ", "\n"])
def test_a_token_with_a_character_appended_is_refused(extra):
    assert not personal_token_is_well_formed(new_personal_token() + extra)


def test_a_token_with_a_character_prepended_or_inserted_is_refused():
    token = new_personal_token()

    assert not personal_token_is_well_formed("a" + token)
    assert not personal_token_is_well_formed(substituted(token, 20, "a" + token[20]))


@pytest.mark.parametrize("prefix", ["PAT_", "Pat_", "pat-", "pat.", "tap_", "pa_t", "pat0"])
def test_a_token_with_another_prefix_is_refused(prefix):
    token = new_personal_token()

    assert not personal_token_is_well_formed(prefix + token[len(PREFIX) :])


@pytest.mark.parametrize(
    "char",
    [
        "-",
        "_",
        "+",
        "/",
        "=",
        ".",
        " ",
        "\x00",
        "é",
        "\uff41",  # FULLWIDTH LATIN SMALL LETTER A: alphanumeric, but not base62
        "\u0663",  # ARABIC-INDIC DIGIT THREE: a digit to str.isdigit, not base62
    ],
)
@pytest.mark.parametrize("position", [len(PREFIX), len(PREFIX) + 15, LENGTH - 1])
def test_a_token_with_a_non_base62_character_is_refused(char, position):
    token = substituted(new_personal_token(), position, char)

    assert len(token) == LENGTH
    assert not personal_token_is_well_formed(token)


@pytest.mark.parametrize("garbage", ["", "pat_", PREFIX + "0" * 36, "x" * LENGTH])
def test_garbage_is_refused(garbage):
    assert not personal_token_is_well_formed(garbage)


# --- Digests -------------------------------------------------------------------------


def test_digest_is_a_deterministic_sha256_hex():
    token = new_personal_token()

    assert digest(token) == digest(token)
    assert len(digest(token)) == 64
    assert set(digest(token)) <= set("0123456789abcdef")
    assert digest(token) != digest(new_personal_token())
