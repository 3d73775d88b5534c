"""Helpers for the tests of mail: a real SMTP server on loopback, the real task worker,
and reading links back out of the messages the server received."""

from __future__ import annotations

import email
import re
import signal
import socket
from email.message import EmailMessage
from email.policy import default
from typing import Any
from unittest import mock
from urllib.parse import parse_qs, urlsplit

from aiosmtpd.controller import Controller
from django.core.management import call_command
from django_tasks_db.management.commands import db_worker
from django_tasks_db.models import DBTaskResult

LINK = re.compile(r"https?://[^\s\"<>]+\?token=[A-Za-z0-9_\-]+")


class Mailbox:
    """An aiosmtpd handler that keeps every message, or refuses them all while `refusing`."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.refusing = False
        self.refused = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.refusing:
            self.refused += 1
            return "451 4.3.0 Mailbox busy, try again later"
        message = email.message_from_bytes(envelope.original_content, policy=default)
        self.messages.append(message)
        return "250 OK"

    def to(self, address: str) -> list[EmailMessage]:
        return [message for message in self.messages if address in str(message["To"])]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def start_smtp() -> tuple[Controller, Mailbox]:
    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    return controller, mailbox


def run_worker() -> None:
    """The real worker (`manage.py db_worker`) in batch mode: run every task that is due,
    then return. The worker installs its own signal handlers; the test runner's come back.

    The worker closes "old" connections between tasks, and inside a test's transaction
    every connection looks old (not in autocommit): on PostgreSQL that would close the
    test's own connection. Django's test client keeps it open around requests the same
    way (it disconnects `close_old_connections` from the request signals).
    """
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGQUIT)}
    try:
        with mock.patch.object(db_worker, "close_old_connections", return_value=None):
            call_command("db_worker", batch=True, startup_delay=False, reload=False, verbosity=0)
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)


def parts(message: EmailMessage) -> tuple[str, str]:
    """The plain-text and the HTML part of a message."""
    text = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    assert text is not None, "a mail has a plain-text part"
    assert html is not None, "a mail has an HTML part"
    return text.get_content(), html.get_content()


def link_in(message: EmailMessage) -> str:
    """The one link the mail carries; the same in both parts."""
    text, html = parts(message)
    links = set(LINK.findall(text))
    assert len(links) == 1, links
    link = links.pop()
    assert link in html
    return link


def code_in(message: EmailMessage) -> str:
    return parse_qs(urlsplit(link_in(message)).query)["token"][0]


def task_rows() -> int:
    return DBTaskResult.objects.count()


def in_memory(message: Any) -> EmailMessage:
    """A message Django's locmem backend kept (`mail.outbox`), parsed as a received one."""
    parsed: EmailMessage = email.message_from_bytes(message.message().as_bytes(), policy=default)
    return parsed


def outbox_code(address: str) -> str:
    """Run the worker; the code in the newest mail Django's locmem backend holds for
    `address` (for tests about something else than the mail itself)."""
    from django.core import mail

    run_worker()
    sent = [in_memory(message) for message in mail.outbox if address in message.to]
    assert sent, f"no mail to {address}"
    return code_in(sent[-1])
