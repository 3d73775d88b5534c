"""`manage.py prune_events`: delete security events older than `AUDIT_RETENTION_DAYS`."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from tokens.services import events_prune


class Command(BaseCommand):
    help = (
        "Delete security events older than AUDIT_RETENTION_DAYS, in batches. "
        "Safe to run from cron while the API serves."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--dry-run", action="store_true", help="Say how many would go; delete nothing."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        count = events_prune(dry_run=options["dry_run"])
        noun = f"event{'s' if count != 1 else ''}"
        days = settings.AUDIT_RETENTION_DAYS
        if options["dry_run"]:
            self.stdout.write(f"Would delete {count} {noun} older than {days} days.")
        else:
            self.stdout.write(f"Deleted {count} {noun} older than {days} days.")
