"""Account constraints are the database's: case variants cannot both exist."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import User
from accounts.tests.factories import full_width, make_user
from admins.tests.factories import make_admin

pytestmark = pytest.mark.django_db


def _insert_directly(**fields: str) -> None:
    """Bypass the manager: the database alone must refuse the duplicate."""
    with transaction.atomic():
        User.objects.bulk_create([User(name="x", password="!", **fields)])


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ({"username": "Ada"}, {"username": "ada"}),
        ({"username": "ada"}, {"username": "ADA"}),
        ({"email": "Bob@x.io"}, {"email": "bob@X.IO"}),
    ],
)
def test_database_refuses_case_variants(first, second):
    defaults = [{"username": "one", "email": "one@x.io"}, {"username": "two", "email": "two@x.io"}]
    _insert_directly(**{**defaults[0], **first})

    with pytest.raises(IntegrityError):
        _insert_directly(**{**defaults[1], **second})

    assert User.objects.count() == 1


def test_full_width_username_is_normalised_and_collides():
    make_user(username="ada")

    with pytest.raises(ValidationError) as error:
        make_user(username=full_width("ada"))

    assert error.value.message_dict == {"username": ["This username is already taken."]}
    assert User.objects.count() == 1


def test_phone_is_unique_and_stored_as_e164():
    user = make_user(phone="+1 (415) 555-0123")
    assert user.phone == "+14155550123"

    with pytest.raises(ValidationError) as error:
        make_user(phone="0014155550123")

    assert list(error.value.message_dict) == ["phone"]


def test_accounts_without_phone_do_not_collide():
    make_user(phone="")
    make_user(phone=None)

    assert User.objects.filter(phone__isnull=True).count() == 2


def test_username_and_email_keep_the_case_typed():
    user = make_user(username="MixedCase", email="Mixed.Case@Example.COM")

    user.refresh_from_db()
    assert (user.username, user.email) == ("MixedCase", "Mixed.Case@Example.COM")


def test_a_user_and_an_admin_may_share_a_username():
    user = make_user(username="shared", email="shared@example.com")
    admin = make_admin(username="shared", email="shared@example.com")

    assert user.username == admin.username


def test_soft_deleted_accounts_are_left_out_but_kept():
    kept = make_user()
    gone = make_user()
    gone.deleted_at = timezone.now()
    gone.save()

    assert list(User.objects.active()) == [kept]
    assert list(User.objects.deleted()) == [gone]
    assert User.objects.count() == 2


def test_conflicts_names_every_taken_field_in_one_query(django_assert_num_queries):
    make_user(username="ada", email="ada@example.com", phone="+14155550123")
    make_user(username="bob", email="bob@example.com")

    with django_assert_num_queries(1):
        taken = User.objects.conflicts(
            username="ADA", email="BOB@example.com", phone="+14155550199"
        )

    assert sorted(taken) == ["email", "username"]


def test_conflicts_ignores_the_account_itself():
    ada = make_user(username="ada", email="ada@example.com")

    assert User.objects.conflicts(exclude_pk=ada.pk, username="Ada", email="ADA@example.com") == []


def test_by_login_matches_username_or_email_in_any_case():
    user = make_user(username="bob", email="bob@example.com")

    for identifier in ("bob", "BOB", full_width("bob"), "bob@example.com", "BOB@EXAMPLE.COM"):
        assert User.objects.by_login(identifier).first() == user
    assert User.objects.by_login("bobby").first() is None


def test_by_login_prefers_the_username_match():
    by_email = make_user(username="carol", email="dave@example.com")
    by_name = make_user(username="dave-at-example", email="other@example.com")
    # The identifier table refuses this clash; update() goes around it, as rows written
    # before the table existed could have.
    User.objects.filter(pk=by_name.pk).update(username="dave@example.com")

    assert list(User.objects.by_login("dave@example.com")) == [by_name, by_email]


def test_str_is_the_realm_and_id_never_the_username_or_email():
    user = make_user(username="erin@example.com", email="erin@example.org")
    admin = make_admin(username="root", email="root@example.com")

    assert str(user) == f"user {user.pk}"
    assert str(admin) == f"admin {admin.pk}"
