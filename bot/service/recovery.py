"""Requests left `activating`, settled from what Graph holds: after a crash (the process
died between claiming a request and recording Graph's answer), once, on start; and
activations Entra accepted but had not applied yet (Granted, PendingProvisioning ...),
followed by every sweep until their request is in effect or ended."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass
from datetime import datetime

from bot.domain.audit import AuditKind, event_for
from bot.domain.models import ActiveAssignment
from bot.domain.requests import IN_EFFECT, NOT_YET, ActivationRecord, RequestState
from bot.errors import GraphError
from bot.service.deps import Deps
from bot.service.leases import DUPLICATE
from bot.service.reminders import ReminderService
from bot.service.signins import SignInRequired, StepUpRequired

log = logging.getLogger(__name__)
S = RequestState
AskAgain = Callable[[ActivationRecord], Awaitable[int]]  # 1 if it settled the request
INTERRUPTED = (
    "pimbot restarted while activating {role}; Entra shows it is not active. "
    "Nothing was activated: please ask again."
)
# An extension's activation record is left to the reconciliation (Graph's end wins).
EXTENSION_INTERRUPTED = (
    "pimbot restarted while extending {role}; `/pim status` shows what is active now. "
    "Ask again to extend it if you still need to."
)


async def recover_activating(
    service: Deps, reminders: ReminderService, *, skip: Collection[str] = ()
) -> int:
    """Move each `activating` request to `active` (Graph has the assignment: reminders are
    planned) or `failed` (it has not); tell the requester and audit. Returns how many
    were settled; a user whose Graph read fails is left for the next start. `skip`:
    requests another replica holds a live lease on (it is activating them now)."""
    settled = 0
    for record in service.store.list_requests(states=frozenset({S.ACTIVATING})):
        if record.id not in skip:
            settled += await recover_one(service, reminders, record)
    return settled


async def recover_one(
    service: Deps,
    reminders: ReminderService,
    record: ActivationRecord,
    again: AskAgain | None = None,
) -> int:
    """Settle one `activating` request from Graph. Not active there and never answered:
    failed, or with `again` (a survivor carrying on a dead replica's work,
    bot/service/leases.py) asked again, which Graph refuses if it is active after all."""
    if record.graph_request_id is not None:  # Graph answered: its request tells
        return await _follow(service, reminders, record)
    if record.extends is not None:  # an extension: its activation is reconciled
        return await _failed(service, record, EXTENSION_INTERRUPTED)
    live = await _live_in_graph(service, record)
    if live is None:  # unreadable now: left activating
        return 0
    detail = "settled from Graph after its replica stopped" if again else None
    if live:
        return await _activated(service, reminders, record, live[0].start, live[0].end, detail)
    if again is None:
        return await _failed(service, record)
    settled = await again(record)
    if settled != DUPLICATE:
        return settled
    # Graph refused it as a duplicate: the dead replica's request landed in between.
    live = await _live_in_graph(service, record)
    if live:
        return await _activated(service, reminders, record, live[0].start, live[0].end, detail)
    return 0


async def _live_in_graph(service: Deps, record: ActivationRecord) -> list[ActiveAssignment] | None:
    """The record's assignment live in Graph (at its scope: the same role elsewhere is not
    this one); None if Graph could not be read."""
    try:
        with service.actors.acting_as(record.requester):
            instances = await service.graph.list_active(record.principal_id)
    except GraphError as exc:
        log.warning("recovery: %s left activating (%s)", record.id, exc.code)
        return None
    except (SignInRequired, StepUpRequired):
        log.warning("recovery: %s left activating (its user must sign in)", record.id)
        return None
    return [
        i
        for i in instances
        if (i.kind, i.role_id, i.scope) == (record.target_kind, record.role_id, record.scope)
    ]


@dataclass(frozen=True, slots=True)
class CarryOn:
    """How a survivor carries on each leased state (bot/service/leases.py)."""

    requested: AskAgain  # checked, never sent to Graph: activate it
    approved: Callable[[ActivationRecord], Awaitable[object]]  # the approval's own path
    again: AskAgain  # activating, nothing in Graph: ask again


async def carry_on_request(
    service: Deps, reminders: ReminderService, how: CarryOn, request_id: str
) -> None:
    """A request taken over from a replica whose lease lapsed: a checked request is
    activated, an approved one goes the approval's way (its checks and announcement),
    one being activated is settled from Graph or asked again, as `recover_one` decides."""
    record = service.store.get_request(request_id)
    if record is None:
        return
    if record.state is S.REQUESTED:
        await how.requested(record)
    elif record.state is S.APPROVED:
        await how.approved(record)
    elif record.state is S.ACTIVATING:
        await recover_one(service, reminders, record, how.again)


async def settle_provisioning(service: Deps, reminders: ReminderService) -> int:
    """Each activation Entra accepted but had not applied: active once its request is in
    effect, failed if Entra ended it; still pending, left for the next sweep. (A request
    claimed but not yet answered has no Graph request id and is not touched.)"""
    settled = 0
    for record in service.store.list_requests(states=frozenset({S.ACTIVATING})):
        if record.graph_request_id is not None:
            settled += await _follow(service, reminders, record)
    return settled


async def _follow(service: Deps, reminders: ReminderService, record: ActivationRecord) -> int:
    try:
        with service.actors.acting_as(record.requester):
            requests = await service.graph.list_requests(record.principal_id)
    except (GraphError, SignInRequired, StepUpRequired) as exc:
        log.warning("request %s left activating (%s)", record.id, type(exc).__name__)
        return 0
    seen = next((r for r in requests if r.id == record.graph_request_id), None)
    if seen is None or seen.status in NOT_YET:
        return 0
    if seen.status in IN_EFFECT:
        return await _activated(
            service, reminders, record, seen.start, seen.end, "in effect in Microsoft Entra"
        )
    text = f"Microsoft Entra ended request {record.id} as {seen.status}: nothing was activated."
    done = service.store.transition(record.id, frozenset({S.ACTIVATING}), S.FAILED, error=text)
    if done is None:
        return 0
    await _audit(service, AuditKind.ACTIVATION_FAILED, done, f"Entra: {seen.status}")
    await service.notifier.activation_settled(done)
    return 1


async def _activated(
    service: Deps,
    reminders: ReminderService,
    record: ActivationRecord,
    start: datetime | None,
    end: datetime | None,
    detail: str | None = None,
) -> int:
    start_at = start or service.clock.now()
    end_at = end or start_at + record.duration
    done = service.store.transition(
        record.id, frozenset({S.ACTIVATING}), S.ACTIVE, start=start_at, end=end_at
    )
    if done is None:
        return 0
    reminders.plan(done)
    await _audit(service, AuditKind.ACTIVATED, done, detail or "settled from Graph after a restart")
    await service.notifier.activation_settled(done)
    return 1


async def _failed(service: Deps, record: ActivationRecord, why: str = INTERRUPTED) -> int:
    text = why.format(role=record.role_name)
    done = service.store.transition(record.id, frozenset({S.ACTIVATING}), S.FAILED, error=text)
    if done is None:
        return 0
    await _audit(service, AuditKind.ACTIVATION_FAILED, done, "interrupted by a restart")
    await service.notifier.activation_settled(done)
    return 1


async def _audit(service: Deps, kind: AuditKind, record: ActivationRecord, detail: str) -> None:
    event = event_for(kind, record, at=service.clock.now(), actor=record.requester, detail=detail)
    await service.audit.record(event)
