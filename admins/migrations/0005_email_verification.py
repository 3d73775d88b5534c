"""
Email verification: `email_verified` and `pending_email` on every admin.

Every admin that exists when this migration runs counts as verified
(`existing_accounts_verified`): their addresses were accepted before the project could
verify any, and marking them unverified would lock them all out under
`EMAIL_VERIFICATION=mandatory`. Accounts created later start unverified (the field's
default) until their link is used. Going back drops both fields.
"""

from typing import Any

from django.db import migrations, models


def existing_accounts_verified(apps: Any, schema_editor: Any) -> None:
    model = apps.get_model("admins", "admin")
    model.objects.using(schema_editor.connection.alias).update(email_verified=True)


class Migration(migrations.Migration):
    dependencies = [
        ("admins", "0004_admin_two_factor"),
    ]

    operations = [
        migrations.AddField(
            model_name="admin",
            name="email_verified",
            field=models.BooleanField(
                default=False,
                help_text="The account holder has confirmed this address by its link.",
            ),
        ),
        migrations.AddField(
            model_name="admin",
            name="pending_email",
            field=models.EmailField(
                blank=True,
                help_text="A new address asked for, waiting for its verification link.",
                max_length=254,
                null=True,
            ),
        ),
        migrations.RunPython(existing_accounts_verified, migrations.RunPython.noop),
    ]
