"""
schemathesis's hooks for `fuzz.py`: what a run does not send, and which failures it does
not count, each with its reason.

schemathesis loads this file by its path (`SCHEMATHESIS_HOOKS`, see `environment()`), so
it imports nothing but the standard library and schemathesis. `fuzz.py` passes the run's
own session ids and the log of what was not counted through the environment.

- `filter_case` drops `PROTECTED`: a `DELETE /api/v1/tokens/{id}` with the id of the
  session the run authenticates with would revoke it (every later request would be a 401).
  Any other id, the user's personal access token's included, is fuzzed.
- `filter_failure` drops the failures that are the API working as documented:
  `NOT_APPLICABLE` ones, and ST202s refused only for `SCHEMA_INEXPRESSIBLE_RULES`. Each is
  written to the log, which `fuzz.py` lists with a count at the end.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import schemathesis

# Token ids the fuzzer must never revoke (its own sessions), comma-separated.
PROTECTED_ENV = "FUZZ_PROTECTED_TOKEN_IDS"
# A JSON-lines file: one `{"operation": ..., "reason": ...}` per failure not counted.
ACCEPTED_LOG_ENV = "FUZZ_ACCEPTED_LOG"
PROTECTED = "DELETE /api/v1/tokens/{id} with the id of the fuzzer's own session"
# A check's failures on some operations that are the API working as documented, and why:
# (failure code, regex over "METHOD /path" of the operation that failed, reason). Only
# those failures are not counted (they are listed, with a count, at the end).
NOT_APPLICABLE: list[tuple[str, str, str]] = [
    (
        "ST301",  # use_after_free: a resource still answers after its DELETE
        r"^[A-Z]+ /api/v1/admin/users/\{id\}",
        "DELETE /admin/users/{id} is a soft delete: staff still read a deleted user, list "
        "its tokens and restore it (API.md); DELETE /admin/users/{id}/tokens revokes the "
        "tokens, and the list keeps showing them, with revoked_at",
    ),
]
# Field rules that a JSON Schema cannot state. `positive_data_acceptance` (ST202) expects
# every schema-valid request to succeed; a 400 VALIDATION_ERROR whose `details` name only
# these fields is the server applying such a rule, so that one failure is not counted (it is
# listed, with a count per field, at the end). A 400 naming any other field still fails.
SCHEMA_INEXPRESSIBLE_RULES: dict[str, str] = {
    "password": "Django's password validators (too common, all digits, too similar to the "
    "username); or, to confirm a deletion, the account's own password",
    "current_password": "must be the account's own password, which the fuzzer never has",
    "new_password": "Django's password validators",
    "phone": "a number that exists in its country's numbering plan (phonenumbers)",
    "email": "Django's EmailValidator, stricter than `format: email` (for one, it wants a "
    "top-level domain of two characters or more); the schema says so in words; or, "
    "asking for a new verification link, an address left to verify",
    "name": "no character of the Unicode categories Cc, Cf, Cs, Co or Cn",
    "avatar": "a file that Pillow decodes as a JPEG, PNG or WebP image",
    "scopes": '"write" only together with "read"',
    "token": "a one-time code from a mail (reset, verification, this wasn't me), which the "
    "fuzzer never receives",
    "code": "a current code of the account's authenticator app, or an unused recovery code, "
    "which the fuzzer never has (its account has no second factor, so none is right)",
}


def environment(*, protected_token_ids: list[int], accepted_log: Path) -> dict[str, str]:
    """The variables that make a schemathesis process load these hooks, configured."""
    return {
        "SCHEMATHESIS_HOOKS": str(Path(__file__).resolve()),
        PROTECTED_ENV: ",".join(str(pk) for pk in protected_token_ids),
        ACCEPTED_LOG_ENV: str(accepted_log),
    }


def _label(case: Any) -> str:
    return f"{case.operation.method.upper()} {case.operation.path}"


def _protected() -> set[int]:
    return {int(pk) for pk in os.environ.get(PROTECTED_ENV, "").split(",") if pk}


@schemathesis.hook
def filter_case(context: Any, case: Any) -> bool:
    """Drop `PROTECTED`: a revocation of the run's own session."""
    operation = case.operation
    if operation.method.upper() != "DELETE" or operation.path != "/api/v1/tokens/{id}":
        return True
    value = str((case.path_parameters or {}).get("id", ""))
    return not (value.isdecimal() and int(value) in _protected())


def not_counted(failure: Any, case: Any, response: Any) -> str | None:
    """Why this failure is not a finding, or None when it is one."""
    label = _label(case)
    for code, pattern, _reason in NOT_APPLICABLE:
        if failure.code == code and re.match(pattern, label):
            return f"{code} not applicable"
    if failure.code != "ST202" or response.status_code != 400:
        return None
    try:
        error = response.json()["error"]
    except (ValueError, KeyError, TypeError):
        return None
    fields = set((error.get("details") or {}).keys())
    if error.get("code") != "VALIDATION_ERROR" or not fields:
        return None
    if not fields <= SCHEMA_INEXPRESSIBLE_RULES.keys():
        return None
    return "ST202 refused for " + ", ".join(sorted(fields))


@schemathesis.hook
def filter_failure(context: Any, failure: Any, case: Any, response: Any) -> bool:
    """Keep every failure but `NOT_APPLICABLE` ones and ST202s due to
    `SCHEMA_INEXPRESSIBLE_RULES` alone."""
    reason = not_counted(failure, case, response)
    if reason is None:
        return True
    accepted_log = os.environ.get(ACCEPTED_LOG_ENV)
    if accepted_log:
        with open(accepted_log, "a") as log:
            log.write(json.dumps({"operation": _label(case), "reason": reason}) + "\n")
    return False
