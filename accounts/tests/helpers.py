"""Helpers for the user realm's tests."""

from __future__ import annotations

from rest_framework import serializers

# What the API shows of a user to the user themself.
USER_FIELDS = {
    "id",
    "username",
    "name",
    "email",
    "phone",
    "avatar_url",
    "is_active",
    "created_at",
    "updated_at",
}


def plain_drf_twin(fast: type[serializers.ModelSerializer]) -> type[serializers.ModelSerializer]:
    """A plain DRF `ModelSerializer` with `fast`'s model, `Meta.fields` and method fields,
    but DRF's own `to_representation`: what a fast representation must equal."""
    methods = {
        name: serializers.SerializerMethodField()
        for name, field in fast._declared_fields.items()
        if isinstance(field, serializers.SerializerMethodField)
    }
    getters = {f"get_{name}": getattr(fast, f"get_{name}") for name in methods}
    meta = type("Meta", (), {"model": fast.Meta.model, "fields": fast.Meta.fields})
    return type(
        f"Plain{fast.__name__}",
        (serializers.ModelSerializer,),
        {**methods, **getters, "Meta": meta},
    )
