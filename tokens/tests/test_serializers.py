"""The token serializers (`tokens.serializers`): what a personal token's creation takes."""

from __future__ import annotations

import pytest

from config.testing import assert_error, bearer
from tokens.models import Token
from tokens.realms import USER
from tokens.services import session_start
from tokens.tests.factories import make_account

pytestmark = pytest.mark.django_db

TOKENS = "/api/v1/tokens"


@pytest.fixture
def auth() -> dict[str, str]:
    return bearer(
        session_start(owner=make_account(USER), ip="127.0.0.1", user_agent="test")["access_token"]
    )


@pytest.mark.parametrize("name", [0, 1.5, None, ["ci"], {"a": 1}])
def test_a_token_name_must_be_a_string(api, auth, name):
    # The JSON number 0 used to become a token named "0".
    response = api.post(TOKENS, {"name": name, "scopes": ["read"]}, format="json", **auth)

    body = assert_error(response, 400, "VALIDATION_ERROR")
    assert set(body["error"]["details"]) == {"name"}
    assert not Token.objects.personal().exists()
