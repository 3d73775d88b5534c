"""The mail tasks: enqueued in the change's transaction, retried with growing delays when
the mail server refuses, then logged as failed."""

from __future__ import annotations

import itertools
import logging
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.db import transaction
from django.utils import timezone
from django_tasks_db.models import DBTaskResult
from rest_framework.test import APIClient

from accounts.services import account_change_password
from accounts.tasks import RETRY_DELAYS
from accounts.tests.factories import make_user
from accounts.tests.mailing import Mailbox, code_in, run_worker, task_rows
from config.testing import PASSWORD
from tokens.models import OneTimeCode

pytestmark = pytest.mark.django_db


class RolledBack(Exception):
    pass


def test_a_change_that_rolls_back_leaves_no_task() -> None:
    user = make_user()
    inside: list[int] = []

    def change_then_fail() -> None:
        with transaction.atomic():
            account_change_password(
                account=user, current_password=PASSWORD, new_password="a new passphrase", keep=None
            )
            # The task's row is written in the change's own transaction, not after it.
            inside.append(task_rows())
            raise RolledBack

    with pytest.raises(RolledBack):
        change_then_fail()
    assert inside == [1]
    assert task_rows() == 0
    user.refresh_from_db()
    assert user.check_password(PASSWORD)


def test_a_registration_refused_with_409_enqueues_nothing(api: APIClient) -> None:
    make_user(username="taken", email="taken@example.com")
    response = api.post(
        "/api/v1/auth/register",
        {"username": "taken", "name": "T", "email": "new@example.com", "password": PASSWORD},
        format="json",
    )
    assert response.status_code == 409
    assert task_rows() == 0


def test_a_refused_delivery_is_retried_with_growing_delays_then_logged_as_failed(
    api: APIClient, smtp: Mailbox, caplog: pytest.LogCaptureFixture
) -> None:
    user = make_user()
    smtp.refusing = True
    start = timezone.now()
    assert (
        api.post("/api/v1/auth/password/reset", {"email": user.email}, format="json").status_code
        == 202
    )

    waits: list[float] = []
    with time_machine.travel(start, tick=False) as clock, caplog.at_level(logging.WARNING):
        for _ in range(len(RETRY_DELAYS) + 1):
            run_worker()
            due = DBTaskResult.objects.filter(status="READY").first()
            if due is None:
                break
            assert not DBTaskResult.objects.ready().exists()  # not due yet
            waits.append((due.run_after - timezone.now()).total_seconds())
            clock.move_to(due.run_after)

    assert waits == [float(delay) for delay in RETRY_DELAYS]
    assert all(later > earlier for earlier, later in itertools.pairwise(waits))
    rows = list(DBTaskResult.objects.all())
    assert len(rows) == len(RETRY_DELAYS) + 1
    assert {row.status for row in rows} == {"FAILED"}
    attempts = sorted(row.args_kwargs["kwargs"].get("attempt", 1) for row in rows)
    assert attempts == [1, 2, 3, 4]
    assert smtp.refused == len(rows)
    failed = [record for record in caplog.records if getattr(record, "event", "") == "mail_failed"]
    assert len(failed) == 1
    assert failed[0].levelno == logging.ERROR
    # No code outlived a delivery that failed.
    assert OneTimeCode.objects.count() == 0


def test_a_delivery_that_succeeds_on_retry_arrives_once(api: APIClient, smtp: Mailbox) -> None:
    user = make_user()
    smtp.refusing = True
    start = timezone.now()
    api.post("/api/v1/auth/password/reset", {"email": user.email}, format="json")
    with time_machine.travel(start, tick=False) as clock:
        run_worker()
        smtp.refusing = False
        clock.move_to(start + timedelta(seconds=RETRY_DELAYS[0]))
        run_worker()
    (message,) = smtp.messages
    assert OneTimeCode.objects.count() == 1
    response = api.post(
        "/api/v1/auth/password/reset/confirm",
        {"token": code_in(message), "new_password": "a new passphrase"},
        format="json",
    )
    assert response.status_code == 200


def test_a_committed_task_waits_for_a_worker(api: APIClient, smtp: Mailbox, settings: Any) -> None:
    user = make_user()
    api.post("/api/v1/auth/password/reset", {"email": user.email}, format="json")
    assert smtp.messages == []
    assert DBTaskResult.objects.ready().count() == 1
    run_worker()
    assert len(smtp.messages) == 1
    assert DBTaskResult.objects.get().status == "SUCCESSFUL"
