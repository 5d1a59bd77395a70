"""Activations held in the sandbox tenant as if made through pimbot earlier: the records
stored and their reminders planned, for the reminder tests that need many people."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import timedelta

from bot.domain.people import PersonKey
from bot.domain.requests import ActivationRecord
from bot.simulators.sandbox import SandboxTenant
from bot.simulators.sandbox.model import Assignment
from bot.wiring import Services
from tests.support.cast import USER_ADMIN
from tests.support.records import activation_record

HOUR = timedelta(hours=1)


def held_elsewhere(
    services: Services,
    tenant: SandboxTenant,
    n: int,
    *,
    record_id: Callable[[int], str] = "R-B{:06d}".format,
    user_id: Callable[[int], str] = "U_B{:05d}".format,
) -> list[ActivationRecord]:
    """`n` people's User Administrator activations for an hour, live in the tenant, each
    with its reminders planned."""
    now = services.clock.now()
    records = []
    for i in range(n):
        principal = str(uuid.uuid4())
        record = activation_record(
            id=record_id(i),
            requester=PersonKey("slack", user_id(i)),
            principal_id=principal,
            duration=HOUR,
            created_at=now,
            updated_at=now,
            start=now,
            end=now + HOUR,
        )
        with tenant.lock:
            tenant.assignments.append(
                Assignment(record.id, principal, USER_ADMIN, "/", now, now + HOUR, "Activated", now)
            )
        services.store.add_request(record)
        services.reminders.plan(record)
        records.append(record)
    return records
