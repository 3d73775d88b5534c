"""The admin site's middleware (sessions, CSRF, auth, messages) runs on the admin site's
paths only: the site keeps its protections, and the API's hot path skips them."""

from __future__ import annotations

import pytest
from django.test import Client

from config.testing import PASSWORD, bearer, login_pair
from tokens.realms import ADMIN, USER
from tokens.tests.factories import make_account

pytestmark = pytest.mark.django_db


def test_the_admin_site_still_refuses_a_form_post_without_its_csrf_token():
    make_account(ADMIN, username="root", is_superuser=True)
    client = Client(enforce_csrf_checks=True)

    response = client.post("/admin/login/", {"username": "root", "password": PASSWORD})

    assert response.status_code == 403
    assert "_auth_user_id" not in client.session


def test_the_admin_site_logs_in_with_its_csrf_token_and_keeps_a_session():
    make_account(ADMIN, username="root", is_superuser=True)
    client = Client(enforce_csrf_checks=True)
    page = client.get("/admin/login/")
    token = page.cookies["csrftoken"].value

    response = client.post(
        "/admin/login/?next=/admin/",
        {"username": "root", "password": PASSWORD, "csrfmiddlewaretoken": token},
    )

    assert response.status_code == 302
    assert client.get("/admin/").status_code == 200


def test_an_api_request_touches_no_cookie_and_no_session(api):
    make_account(USER, username="ada")
    token = login_pair(api, USER, "ada")["access_token"]

    response = api.get("/api/v1/users/me", **bearer(token))

    assert response.status_code == 200
    assert not response.cookies
    assert "Cookie" not in response.get("Vary", "")
    assert not hasattr(response.wsgi_request, "session")
