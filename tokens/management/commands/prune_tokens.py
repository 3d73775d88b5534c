"""`manage.py prune_tokens [--dry-run]`: delete expired and revoked tokens (sessions and
personal) and expired second-factor challenges, or with `--dry-run` only say how many
tokens would go."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from tokens.services import mfa_challenges_prune, tokens_prune


class Command(BaseCommand):
    help = "Delete expired and revoked tokens. Safe to run from cron while the API serves."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Say how many tokens would be deleted, and delete nothing.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        count = tokens_prune(dry_run=options["dry_run"])
        noun = f"expired or revoked token{'s' if count != 1 else ''}"
        if options["dry_run"]:
            self.stdout.write(f"Would delete {count} {noun} (dry run: nothing deleted).")
            return
        self.stdout.write(f"Deleted {count} {noun}.")
        challenges = mfa_challenges_prune()
        if challenges:
            self.stdout.write(
                f"Deleted {challenges} expired second-factor challenge"
                f"{'s' if challenges != 1 else ''}."
            )
