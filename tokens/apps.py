from django.apps import AppConfig


class TokensConfig(AppConfig):
    name = "tokens"
    verbose_name = "Tokens"

    def ready(self) -> None:
        # Registers the OpenAPI description of the bearer scheme.
        from tokens import schema  # noqa: F401
