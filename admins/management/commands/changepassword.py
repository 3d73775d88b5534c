"""`manage.py changepassword`: Django's command, and the change recorded as a security
event (`password_changed`, `details.via` "changepassword", no client).

The account model's save hook revokes every token of the admin, as for any password change.
The event is written after Django's command has saved the password, in a transaction of its
own: the command prompts for the password, and a transaction must not stay open while an
operator types.
"""

from __future__ import annotations

import getpass
from typing import Any

from django.contrib.auth.management.commands import changepassword

from accounts.services import password_changed
from admins.models import Admin


class Command(changepassword.Command):
    def handle(self, *args: Any, **options: Any) -> str | None:
        message = super().handle(*args, **options)
        username = options["username"] or getpass.getuser()
        admin = Admin.objects.using(options["database"]).get(username=username)
        password_changed(account=admin, via="changepassword")
        return message
