"""The Django admin site works for admins created by `createsuperuser`."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django.utils import timezone

from accounts.tests.factories import make_user
from admins.models import Admin, AdminIdentifier
from admins.tests.factories import make_admin
from config.testing import PASSWORD

pytestmark = pytest.mark.django_db


def test_createsuperuser_noinput_creates_an_admin_who_can_use_the_admin_site(monkeypatch):
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "a long staff password 1")
    monkeypatch.setenv("DJANGO_SUPERUSER_NAME", "Root Admin")

    call_command(
        "createsuperuser", "--noinput", username="root", email="root@example.com", verbosity=0
    )

    admin = Admin.objects.get(username="root")
    assert admin.is_superuser
    assert admin.is_staff
    assert admin.name == "Root Admin"
    client = Client()
    response = client.post(
        "/admin/login/?next=/admin/",
        {"username": "ROOT", "password": "a long staff password 1"},
    )
    assert response.status_code == 302
    assert response["Location"] == "/admin/"
    for page in ("/admin/", "/admin/accounts/user/", "/admin/admins/admin/"):
        assert client.get(page).status_code == 200, page


def test_createsuperuser_refuses_a_username_taken_in_another_case(capsys, monkeypatch):
    make_admin(username="root")
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "a long staff password 1")
    monkeypatch.setenv("DJANGO_SUPERUSER_NAME", "Root Admin")

    with pytest.raises(CommandError, match=r"already taken"):
        call_command(
            "createsuperuser", "--noinput", username="ROOT", email="r@example.com", verbosity=0
        )

    assert Admin.objects.count() == 1


def test_createsuperuser_refuses_a_username_that_is_another_admins_email(monkeypatch):
    victim = make_admin(username="victim", email="victim@example.com")
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "a long staff password 1")
    monkeypatch.setenv("DJANGO_SUPERUSER_NAME", "Mallory")

    with pytest.raises(CommandError, match=r"already taken"):
        call_command(
            "createsuperuser",
            "--noinput",
            username="Victim@Example.com",
            email="mallory@example.com",
            verbosity=0,
        )

    assert list(Admin.objects.all()) == [victim]
    assert sorted(AdminIdentifier.objects.values_list("value", flat=True)) == [
        "victim",
        "victim@example.com",
    ]


@pytest.fixture
def staff_client() -> Client:
    admin = make_admin(is_superuser=True)
    client = Client()
    client.force_login(admin)
    return client


def test_user_changelist_filters_and_search(staff_client):
    make_user(username="alice", email="alice@example.com")
    locked = make_user(username="locked", locked_until=timezone.now() + timedelta(days=1))
    deleted = make_user(username="gone", deleted_at=timezone.now())

    def listed(query: str) -> str:
        response = staff_client.get(f"/admin/accounts/user/{query}")
        assert response.status_code == 200
        return response.content.decode()

    assert "alice" in listed("?q=ALICE")
    assert "alice" not in listed("?locked=yes")
    assert locked.username in listed("?locked=yes")
    assert deleted.username in listed("?deleted=yes")
    assert "alice" not in listed("?deleted=yes")
    assert "alice" in listed("?is_active__exact=1")


def test_change_page_never_shows_the_password_hash(staff_client):
    user = make_user()

    response = staff_client.get(f"/admin/accounts/user/{user.pk}/change/")

    assert response.status_code == 200
    assert user.password not in response.content.decode()


def test_blocked_admin_cannot_enter_the_admin_site():
    make_admin(username="blocked", is_active=False)

    client = Client()
    response = client.post(
        "/admin/login/?next=/admin/", {"username": "blocked", "password": PASSWORD}
    )

    assert response.status_code == 200  # the form again, with an error
    assert "_auth_user_id" not in client.session


def test_admin_site_errors_stay_html():
    staff = make_admin(username="staff")  # not a superuser: no access to admin pages
    client = Client()
    client.force_login(staff)

    response = client.get("/admin/admins/admin/")

    assert response.status_code == 403
    assert response["Content-Type"].startswith("text/html")


def test_the_change_form_offers_no_avatar_upload(staff_client):
    """Avatars are checked and re-encoded by the API; the admin form must not bypass that."""
    user = make_user()

    response = staff_client.get(f"/admin/accounts/user/{user.pk}/change/")

    assert response.status_code == 200
    assert 'type="file"' not in response.content.decode()
