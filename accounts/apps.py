from django.apps import AppConfig
from django.db.backends.signals import connection_created


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts"

    def ready(self) -> None:
        # Registers the deployment check on the rate-limit cache.
        from accounts import checks  # noqa: F401
        from accounts.sqlite import unicode_lower

        connection_created.connect(unicode_lower, dispatch_uid="accounts.sqlite.unicode_lower")
