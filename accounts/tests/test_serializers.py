"""The fast account representation (`AccountSerializer.to_representation`, which skips
DRF's field objects) answers exactly what DRF's `ModelSerializer` would."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.utils import timezone

from accounts.models import User
from accounts.serializers import UserSerializer
from accounts.tests.factories import make_user
from accounts.tests.helpers import plain_drf_twin

pytestmark = pytest.mark.django_db


def _both(serializer: Any, account: Any) -> tuple[Any, Any]:
    fast = serializer(account).data
    plain = plain_drf_twin(serializer)(account).data
    return fast, plain


@pytest.mark.parametrize(
    "fields",
    [
        {},
        {"phone": "+14155550123", "avatar": "avatars/ada.png", "is_active": False},
    ],
    ids=["plain", "phone-avatar-blocked"],
)
def test_a_users_fast_representation_is_drfs(fields):
    user = make_user(**fields)
    user.refresh_from_db()

    fast, plain = _both(UserSerializer, user)

    assert fast == plain
    assert list(fast) == list(plain) == list(UserSerializer.Meta.fields)
    assert isinstance(fast["created_at"], str)
    assert fast["created_at"].endswith("Z")


def test_datetimes_are_formatted_as_drf_formats_them_with_and_without_microseconds():
    user = make_user()
    for moment in (
        datetime(2026, 11, 26, 10, 0, 0, tzinfo=UTC),
        datetime(2026, 11, 26, 10, 0, 0, 123456, tzinfo=UTC),
        # Another offset: both answer it in UTC.
        timezone.now().astimezone(timezone.get_fixed_timezone(timedelta(hours=5, minutes=30))),
    ):
        User.objects.filter(pk=user.pk).update(created_at=moment)
        user.refresh_from_db()
        user.updated_at = moment

        fast, plain = _both(UserSerializer, user)

        assert (fast["created_at"], fast["updated_at"]) == (
            plain["created_at"],
            plain["updated_at"],
        )
