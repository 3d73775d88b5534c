"""`manage.py prune_tokens`: delete expired and revoked tokens (sessions and personal)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from tokens.services import tokens_prune


class Command(BaseCommand):
    help = "Delete expired and revoked tokens. Safe to run from cron while the API serves."

    def handle(self, *args: Any, **options: Any) -> None:
        deleted = tokens_prune()
        self.stdout.write(
            f"Deleted {deleted} expired or revoked token{'s' if deleted != 1 else ''}."
        )
