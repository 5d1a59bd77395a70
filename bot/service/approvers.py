"""Who may decide a request pimbot holds itself: the approvers of the effective policy
(Slack users and user groups, Entra users and groups), never the requester."""

from __future__ import annotations

import asyncio

from bot.domain.approvals import Asked
from bot.domain.models import ApproverKind, Role, RolePolicy
from bot.domain.people import PersonKey, slack
from bot.domain.requests import ActivationRecord
from bot.errors import GraphError, PimError
from bot.service.deps import Deps
from bot.service.identity import Requester
from bot.service.signins import SignInRequired, StepUpRequired

OWN_REQUEST = "it is your own request — someone else has to approve it"
DISABLED = "your Microsoft Entra account is disabled"
DELETED = "your Microsoft Entra account no longer exists"
_ENTRA_KINDS = (ApproverKind.ENTRA_USER, ApproverKind.ENTRA_GROUP, ApproverKind.ENTRA_ROLE)


class Approvers:
    """Answers "why may this person not decide this record?" (None: they may)."""

    def __init__(self, deps: Deps) -> None:
        self._svc = deps

    async def why_not(self, record: ActivationRecord, person: PersonKey) -> str | None:
        if person == record.requester:
            return OWN_REQUEST
        role = Role(record.role_id, record.role_name)
        policy = (await self._svc.policies.effective(role)).policy
        if not policy.approvers:
            return f"no approvers are configured for {record.role_name}"
        if not await self._is_approver(policy, person):
            return f"you are not an approver for {record.role_name}"
        return await self.not_live(person)

    async def asked(self, policy: RolePolicy) -> Asked:
        """Whom the card mentions: the policy's Slack approvers whose Entra account is
        live, and its Slack user groups. (Entra-side approvers have no Slack id to
        mention; they see the card in the approvals channel.)"""
        people = [slack(r.id) for r in policy.approvers if r.kind is ApproverKind.SLACK_USER]
        live = await asyncio.gather(*(self._may_be_asked(p) for p in people))
        groups = [r.id for r in policy.approvers if r.kind is ApproverKind.SLACK_USERGROUP]
        asked = tuple(p for p, ok in zip(people, live, strict=True) if ok)
        return Asked(asked, tuple(groups), policy.approvals_required)

    async def _may_be_asked(self, person: PersonKey) -> bool:
        try:
            return await self.not_live(person) is None
        except (SignInRequired, StepUpRequired):
            return True  # user mode: unknown until they sign in; ask them

    async def not_live(self, person: PersonKey) -> str | None:
        """Why `person`'s Entra account may not approve now (disabled, deleted), or None.

        Read fresh at each click, not from the stored link: one GET of the user with
        `$select=id,accountEnabled`, the cheapest read that says both (a deleted user is
        a 404; `accountEnabled` is returned only on $select —
        https://learn.microsoft.com/en-us/graph/api/resources/user, properties table).
        A chat user with no Entra account found is a chat-only approver: nothing to check."""
        who = await self._entra_of(person)
        if who is None:
            return None
        try:
            user = await self._svc.graph.get_user(who.user.id)
        except GraphError as exc:
            if exc.status == 404:
                return DELETED
            raise
        return None if user.account_enabled else DISABLED

    async def named(self, policy: RolePolicy, person: PersonKey) -> bool:
        """Whether `policy`'s approvers name `person`, however they are referenced (also
        used for pimbot.yml's `viewers:`, which take the same forms)."""
        return await self._is_approver(policy, person)

    async def _is_approver(self, policy: RolePolicy, person: PersonKey) -> bool:
        entra: Requester | None = None
        for ref in policy.approvers:
            slack_id = person.chat_user_id if person.chat == "slack" else None
            if ref.kind is ApproverKind.SLACK_USER and ref.id == slack_id:
                return True
            if ref.kind is ApproverKind.SLACK_USERGROUP:
                members = await self._svc.identity.directory.usergroup_members(ref.id)
                if slack_id in members:
                    return True
            if ref.kind in _ENTRA_KINDS:
                entra = entra or await self._entra_of(person)
                if entra is not None and await self._entra_matches(ref.kind, ref.id, entra):
                    return True
        return False

    async def _entra_of(self, person: PersonKey) -> Requester | None:
        try:
            return await self._svc.identity.resolve(person)
        except (SignInRequired, StepUpRequired):
            raise  # user mode: who they are is read as them, so they must sign in first
        except PimError:
            return None  # an unmapped clicker simply isn't an Entra approver

    async def _entra_matches(self, kind: ApproverKind, ref_id: str, who: Requester) -> bool:
        if kind is ApproverKind.ENTRA_USER:
            return ref_id in (who.user.id, who.user.user_principal_name)
        if kind is ApproverKind.ENTRA_ROLE:
            # An approver by role must hold it now, tenant-wide: an eligible Global
            # Administrator who has not activated is not one yet.
            held = await self._svc.graph.list_active(who.user.id)
            return any(a.role_id == ref_id and a.scope.id == "/" for a in held)
        members = await self._svc.graph.list_group_members(ref_id)
        return any(m.id == who.user.id for m in members)
