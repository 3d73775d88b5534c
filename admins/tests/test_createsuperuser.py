"""`createsuperuser` as the README runs it: prompted for username, email, name and password,
or without prompts from the four `DJANGO_SUPERUSER_*` variables."""

from __future__ import annotations

import builtins
import getpass
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from admins.models import Admin, AdminIdentifier

pytestmark = pytest.mark.django_db

PASSWORD = "a long staff passphrase"


class TTY(StringIO):
    """A standard input that says it is a terminal: createsuperuser prompts only on one."""

    def isatty(self) -> bool:
        return True


def test_createsuperuser_prompts_for_username_email_name_and_password(monkeypatch, api):
    answers = {"Username: ": "root", "Email: ": "root@example.com", "Name: ": "Site admin"}
    asked: list[str] = []

    def answer(prompt: str = "") -> str:
        asked.append(prompt)
        return answers[prompt]

    monkeypatch.setattr(builtins, "input", answer)
    monkeypatch.setattr(getpass, "getpass", lambda prompt="Password: ": PASSWORD)
    out = StringIO()

    call_command("createsuperuser", interactive=True, stdin=TTY(), stdout=out)

    assert asked == ["Username: ", "Email: ", "Name: "]
    assert "Superuser created successfully." in out.getvalue()
    admin = Admin.objects.get()
    assert (admin.username, admin.email, admin.name) == ("root", "root@example.com", "Site admin")
    assert admin.is_superuser
    assert admin.is_staff
    response = api.post(
        "/api/v1/admin/auth/login", {"username": "root", "password": PASSWORD}, format="json"
    )
    assert response.status_code == 200


def test_createsuperuser_noinput_takes_all_four_variables(monkeypatch, api):
    monkeypatch.setenv("DJANGO_SUPERUSER_USERNAME", "root")
    monkeypatch.setenv("DJANGO_SUPERUSER_EMAIL", "root@example.com")
    monkeypatch.setenv("DJANGO_SUPERUSER_NAME", "Site admin")
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", PASSWORD)

    call_command("createsuperuser", "--noinput", verbosity=0)

    admin = Admin.objects.get()
    assert (admin.username, admin.email, admin.name) == ("root", "root@example.com", "Site admin")
    assert admin.is_superuser
    response = api.post(
        "/api/v1/admin/auth/login",
        {"username": "ROOT@example.com", "password": PASSWORD},
        format="json",
    )
    assert response.status_code == 200


def test_createsuperuser_noinput_without_a_name_stops_and_creates_nothing(monkeypatch):
    monkeypatch.setenv("DJANGO_SUPERUSER_USERNAME", "root")
    monkeypatch.setenv("DJANGO_SUPERUSER_EMAIL", "root@example.com")
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", PASSWORD)
    monkeypatch.delenv("DJANGO_SUPERUSER_NAME", raising=False)

    # The message the README quotes.
    with pytest.raises(CommandError, match=r"^You must use --name with --noinput\.$"):
        call_command("createsuperuser", "--noinput", verbosity=0)

    assert not Admin.objects.exists()
    assert not AdminIdentifier.objects.exists()
