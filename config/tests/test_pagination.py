"""Page parameters (`config.api.pagination`): `page` and `page_size` are positive
integers in the contract's digits, or a validation error."""

from __future__ import annotations

import pytest

from config.testing import assert_error, bearer
from tokens.realms import USER
from tokens.services import session_start
from tokens.tests.factories import make_account

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("parameter", ["page", "page_size"])
@pytest.mark.parametrize(
    "value",
    [
        "",  # sent, but empty: it used to mean "the default"
        "\u00b2",  # SUPERSCRIPT TWO: a digit to str.isdigit, not to int(): it used to be a 500
        "\u0663",  # ARABIC-INDIC DIGIT THREE: int() reads it, the contract's digits do not
        "-1",
        "0",
        "1.5",
    ],
)
def test_page_parameters_that_are_not_positive_integers_are_validation_errors(
    api_no_raise, parameter, value
):
    access = session_start(owner=make_account(USER), ip="127.0.0.1", user_agent="test")[
        "access_token"
    ]

    response = api_no_raise.get("/api/v1/tokens", {parameter: value}, **bearer(access))

    body = assert_error(response, 400, "VALIDATION_ERROR")
    assert set(body["error"]["details"]) == {parameter}
