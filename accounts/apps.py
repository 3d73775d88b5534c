from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts"

    def ready(self) -> None:
        # Registers the deployment check on the rate-limit cache.
        from accounts import checks  # noqa: F401
