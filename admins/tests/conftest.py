"""Fixtures the admin realm's tests share: a superuser, their API session and their browser
on the admin site."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from admins.models import Admin
from admins.tests.factories import make_admin
from admins.tests.helpers import admin_token
from config.testing import bearer


@pytest.fixture
def root() -> Admin:
    return make_admin(username="root", is_superuser=True)


@pytest.fixture
def auth(api: Any, root: Admin) -> dict[str, str]:
    """The bearer header of a new API login session of the superuser `root`."""
    return bearer(admin_token(api, root))


@pytest.fixture
def site(root: Admin) -> Client:
    """A browser logged in to the admin site as the superuser `root`."""
    client = Client()
    client.force_login(root)
    return client
