"""The admin realm's account representations (the fast path of `AccountSerializer`)
answer exactly what DRF's `ModelSerializer` would."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from accounts.tests.factories import make_user
from accounts.tests.helpers import plain_drf_twin
from admins.serializers import AdminSerializer, StaffAdminSerializer, StaffUserSerializer
from admins.tests.factories import make_admin

pytestmark = pytest.mark.django_db


def _locked_fields() -> dict[str, Any]:
    now = timezone.now()
    return {
        "phone": "+14155550100",
        "avatar": "avatars/root.png",
        "failed_login_attempts": 5,
        "locked_until": now + timedelta(minutes=30),
        "last_login": now - timedelta(days=2),
        "deleted_at": now - timedelta(hours=1),
    }


@pytest.mark.parametrize("superuser", [True, False])
def test_an_admins_fast_representation_is_drfs(superuser):
    admin = make_admin(is_superuser=superuser, **_locked_fields())
    admin.refresh_from_db()

    fast = AdminSerializer(admin).data
    plain = plain_drf_twin(AdminSerializer)(admin).data

    assert fast == plain
    assert list(fast) == list(AdminSerializer.Meta.fields)
    assert fast["is_superuser"] is superuser


@pytest.mark.parametrize(
    ("serializer", "make"),
    [(StaffAdminSerializer, make_admin), (StaffUserSerializer, make_user)],
    ids=["admin", "user"],
)
@pytest.mark.parametrize("locked", [True, False])
def test_what_staff_see_is_drfs_including_the_lockout_fields(serializer, make, locked):
    account = make(**(_locked_fields() if locked else {}))
    account.refresh_from_db()
    context = {"now": timezone.now()}

    fast = serializer(account, context=context).data
    plain = plain_drf_twin(serializer)(account, context=context).data

    assert fast == plain
    assert list(fast) == list(serializer.Meta.fields)
    assert fast["is_locked"] is locked
