"""Nobody waiting in silence: the sweep re-pings the approvers of undecided requests in
their card's thread (15 min after the request, then each interval doubling) and, once,
escalates to `escalate_to` after `escalate_after`, all on the bot's clock.

Each ping goes out once, crash or not: the notifier queues it in the outbox under a key
of its own (the same ping queued again is ignored), and only then is it claimed in the
store (a row whose primary key is the ping), which counts it and audits it once. A crash
between the two leaves it queued and unclaimed: the next sweep queues it again (ignored)
and claims it. Overlapping sweeps, or two processes, do the same.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.domain.audit import AuditKind, event_for
from bot.domain.models import ApproverKind, ApproverRef, Role
from bot.domain.nudges import Audience, Ping, Pinged, PingKind, approver_refs, pings_due
from bot.domain.people import PersonKey, slack
from bot.domain.requests import ActivationRecord, RequestState
from bot.errors import PimError
from bot.service.approvals import ApprovalService
from bot.service.deps import Deps
from bot.service.policies import role_config
from bot.service.ports import Nudge
from bot.settings import RoleConfig

log = logging.getLogger(__name__)
PENDING = frozenset({RequestState.PENDING_APPROVAL})
# For roles pimbot.yml does not name (approval required by Entra's policy): its default.
FIRST_REMINDER: timedelta = RoleConfig.model_fields["remind_approvers_after"].default
AUDITED = {PingKind.REMIND: AuditKind.APPROVERS_REMINDED, PingKind.ESCALATE: AuditKind.ESCALATED}


@dataclass(frozen=True, slots=True)
class _Rules:
    first: timedelta
    escalate_after: timedelta | None
    escalate_to: tuple[ApproverRef, ...]


class ApproverNudges:
    """Sends the pings that fell due; tells what was sent so far."""

    def __init__(self, deps: Deps, approvals: ApprovalService) -> None:
        self._svc, self._approvals = deps, approvals

    async def run_due(self) -> int:
        """Every undecided request with a card: send what fell due; how many pings went."""
        now = self._svc.clock.now()
        waiting = [
            r
            for r in self._svc.store.list_requests(states=PENDING)
            if r.card and self._approvals.expires_at(r) > now
        ]
        pinged = self._svc.store.pinged([r.id for r in waiting])
        sent = 0
        for record in waiting:
            sent += await self._nudge(record, pinged.get(record.id, Pinged()), now)
        return sent

    async def _nudge(self, record: ActivationRecord, pinged: Pinged, now: datetime) -> int:
        rules = self._rules(record)
        due = pings_due(record.created_at, now, pinged, rules.first, rules.escalate_after)
        reminded, sent = pinged.reminded, 0
        for ping in due:
            audience = await self._audience(record, ping, rules)
            reminded += ping.kind is PingKind.REMIND
            nudge = Nudge(ping.kind, ping.seq, now - record.created_at, reminded)
            await self._svc.notifier.ping_approvers(record, audience, nudge)  # once per ping
            if not self._svc.store.claim_ping(record.id, ping.kind, ping.seq, now):
                continue  # another sweep (or process) queued and counted it
            nobody = "" if audience else ": nobody to mention"
            detail = f"{ping.kind.value} #{ping.seq + 1}{nobody}"
            event = event_for(AUDITED[ping.kind], record, at=now, actor=None, detail=detail)
            await self._svc.audit.record(event)
            sent += 1
        return sent

    def _rules(self, record: ActivationRecord) -> _Rules:
        config = role_config(self._svc.config, self._svc.catalog, record.role_id)
        if config is None:
            return _Rules(FIRST_REMINDER, None, ())
        refs = approver_refs(config.escalate_to)
        return _Rules(config.remind_approvers_after, config.escalate_after, refs)

    async def _audience(self, record: ActivationRecord, ping: Ping, rules: _Rules) -> Audience:
        escalation = ping.kind is PingKind.ESCALATE
        people: dict[PersonKey, None] = {}
        groups: dict[str, None] = {}
        # Graph is read as the requester, as when their request was checked (user mode).
        with self._svc.actors.acting_as(record.requester):
            refs = rules.escalate_to if escalation else await self._approvers(record)
            for ref in refs:
                if ref.kind is ApproverKind.SLACK_USERGROUP:
                    groups[ref.id] = None
                else:
                    people.update(dict.fromkeys(await self._people(ref)))
        people.pop(record.requester, None)  # never asked to approve their own request
        if not escalation:  # four eyes: who already approved is not asked again
            for approval in self._svc.store.tally(record.id, 1).approvals:
                people.pop(approval.approver, None)
        return Audience(tuple(people), tuple(groups))

    async def _approvers(self, record: ActivationRecord) -> tuple[ApproverRef, ...]:
        """The effective policy's approvers, as `check_approver` reads them; if the policy
        cannot be read now, pimbot.yml's own (the ping still goes out)."""
        try:
            role = Role(record.role_id, record.role_name)
            return (await self._svc.policies.effective(role)).policy.approvers
        except PimError as exc:  # a sign-in needed (user mode) included
            log.info("approver ping for %s: policy unread (%s)", record.id, type(exc).__name__)
            config = role_config(self._svc.config, self._svc.catalog, record.role_id)
            return approver_refs(config.approvers) if config else ()

    async def _people(self, ref: ApproverRef) -> list[PersonKey]:
        """The chat people a reference names: a chat user as is; an Entra user or group's
        members through pimbot.yml's `users:` map (nobody else can be mentioned)."""
        if ref.kind is ApproverKind.SLACK_USER:
            return [slack(ref.id)]
        try:  # `users:` may name someone by UPN or object id, and so may the reference
            if ref.kind is ApproverKind.ENTRA_USER:
                members = [await self._svc.graph.get_user(ref.id)]
            elif ref.kind is ApproverKind.ENTRA_GROUP:
                members = await self._svc.graph.list_group_members(ref.id)
            else:
                return []  # whoever holds a role right now: not worth a Graph read per ping
        except PimError:
            return self._mapped({ref.id})  # unreadable now: as named, if mapped as named
        return self._mapped({n for m in members for n in (m.id, m.user_principal_name)})

    def _mapped(self, entra: set[str]) -> list[PersonKey]:
        """`users:` is keyed `slack:U123` or by the bare Slack user id (as identity reads it)."""
        wanted = {name.casefold() for name in entra}
        users = self._svc.config.users.items()
        keys = (_key(chat_id) for chat_id, name in users if name.casefold() in wanted)
        return [key for key in keys if key is not None]


def _key(configured: str) -> PersonKey | None:
    try:
        return PersonKey.parse(configured) if ":" in configured else slack(configured)
    except ValueError:
        return None  # a malformed key (`slack:`): identity never matches it either
