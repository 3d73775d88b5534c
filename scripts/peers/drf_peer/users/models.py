from django.contrib.auth.models import AbstractUser
from django.db import models


class User(AbstractUser):
    """Django's user with the profile fields the project's accounts have."""

    name = models.CharField(max_length=150)
    # Null when unset, as the project's phone is (so the two serialise the same body).
    phone = models.CharField(max_length=20, null=True, blank=True)  # noqa: DJ001
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
