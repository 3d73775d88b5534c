"""
Seed the peers' database (`python seed.py COUNT`, run by `scripts/bench.py --peers` with
`PEER_DATABASE_URL` and `PEER_SECRET_KEY` set): migrate, create COUNT users like the
project's bench data and one `bench` user, and print the bench's two access tokens as JSON:
simplejwt's for the DRF peer and a PyJWT HS256 token (`sub`, `exp`) for the FastAPI peer,
which reads the same table.
"""

from __future__ import annotations

import json
import os
import sys
from datetime import UTC, datetime, timedelta

import django


def seed(count: int) -> dict[str, str]:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "drfpeer.settings")
    django.setup()
    import jwt
    from django.contrib.auth.hashers import make_password
    from django.core.management import call_command
    from django.db import connection
    from rest_framework_simplejwt.tokens import AccessToken
    from users.models import User

    call_command("migrate", verbosity=0)
    unusable = make_password(None)  # nobody logs in to a peer: the bench mints its token
    User.objects.bulk_create(
        (
            User(
                username=f"user{n:05d}",
                name=f"Seeded User {n}",
                email=f"user{n:05d}@example.com",
                phone=f"+1415555{n:04d}" if n % 3 == 0 else None,
                password=unusable,
                is_active=n % 50 != 1,
            )
            for n in range(count)
        ),
        batch_size=1000,
    )
    bench = User.objects.create(
        username="bench", name="Bench", email="bench@example.com", password=unusable
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    expires = datetime.now(UTC) + timedelta(days=1)
    return {
        "drf_jwt": str(AccessToken.for_user(bench)),
        "fastapi_jwt": jwt.encode(
            {"sub": str(bench.pk), "exp": expires}, os.environ["PEER_SECRET_KEY"], "HS256"
        ),
    }


if __name__ == "__main__":
    print(json.dumps(seed(int(sys.argv[1]))))
