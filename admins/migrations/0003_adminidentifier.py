"""
The admin realm's login identifier table, filled with every existing admin's folded
username and email.

The backfill stops the migration (nothing is written) if existing admins already break
the one namespace: a username equal to another admin's email, in any case or width.
The error names the clashing values and accounts; change one of them (in the admin site
or a shell) and run the migration again. The fold is copied here, not imported, so
that this migration keeps doing what it did.
"""

import unicodedata
from typing import Any

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


def _fold(value: str) -> str:
    return unicodedata.normalize("NFKC", value).lower()


def backfill(apps: Any, schema_editor: Any) -> None:
    account_model = apps.get_model("admins", "admin")
    identifier_model = apps.get_model("admins", "adminidentifier")
    db = schema_editor.connection.alias
    holders: dict[str, int] = {}
    clashes = []
    # In id order, so the report names the older account first, every time.
    for pk, username, email in account_model.objects.using(db).order_by("pk").values_list(
        "pk", "username", "email"
    ):
        for value in {_fold(username), _fold(email)} - {""}:
            if holders.setdefault(value, pk) != pk:
                clashes.append(f"{value!r} (admins {holders[value]} and {pk})")
    if clashes:
        raise RuntimeError(
            "Some admins share a login identifier (a username equal to another's email, "
            "in any case or width); change one of each pair, then migrate again: "
            + ", ".join(clashes)
        )
    identifier_model.objects.using(db).bulk_create(
        identifier_model(account_id=pk, value=value) for value, pk in holders.items()
    )


class Migration(migrations.Migration):

    dependencies = [
        ('admins', '0002_account_created_index'),
    ]

    operations = [
        migrations.CreateModel(
            name='AdminIdentifier',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('value', models.CharField(max_length=508, unique=True)),
                ('account', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='identifiers', to=settings.AUTH_USER_MODEL)),
            ],
            options={
                'verbose_name': 'admin login identifier',
                'abstract': False,
            },
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop),
    ]
