"""Fixtures the tokens app's tests share: a user and a login session of theirs."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from accounts.models import User
from config.testing import login_pair
from tokens.realms import USER
from tokens.tests.factories import make_account


@pytest.fixture
def user() -> User:
    return make_account(USER)


@pytest.fixture
def pair(api: APIClient, user: User) -> dict[str, Any]:
    """The token pair of a new login session of `user`."""
    return login_pair(api, USER, user.username)
