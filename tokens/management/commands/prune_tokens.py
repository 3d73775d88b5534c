"""`manage.py prune_tokens`: delete expired and revoked tokens (sessions and personal), and
expired second-factor challenges."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from tokens.services import mfa_challenges_prune, tokens_prune


class Command(BaseCommand):
    help = "Delete expired and revoked tokens. Safe to run from cron while the API serves."

    def handle(self, *args: Any, **options: Any) -> None:
        deleted = tokens_prune()
        self.stdout.write(
            f"Deleted {deleted} expired or revoked token{'s' if deleted != 1 else ''}."
        )
        challenges = mfa_challenges_prune()
        if challenges:
            self.stdout.write(
                f"Deleted {challenges} expired second-factor challenge"
                f"{'s' if challenges != 1 else ''}."
            )
