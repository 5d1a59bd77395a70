"""Who may decide a request pimbot holds itself: the approvers of the effective policy
(Slack users and user groups, Entra users and groups), never the requester."""

from __future__ import annotations

from bot.domain.models import ApproverKind, Role, RolePolicy
from bot.domain.requests import ActivationRecord
from bot.errors import PimError, SignInRequired, StepUpRequired
from bot.service.deps import Deps
from bot.service.identity import Requester

OWN_REQUEST = "it is your own request — someone else has to approve it"


class Approvers:
    """Answers "why may this Slack user not decide this record?" (None: they may)."""

    def __init__(self, deps: Deps) -> None:
        self._svc = deps

    async def why_not(self, record: ActivationRecord, slack_user_id: str) -> str | None:
        if slack_user_id == record.slack_user_id:
            return OWN_REQUEST
        role = Role(record.role_id, record.role_name)
        policy = (await self._svc.policies.effective(role)).policy
        if not policy.approvers:
            return f"no approvers are configured for {record.role_name}"
        if await self._is_approver(policy, slack_user_id):
            return None
        return f"you are not an approver for {record.role_name}"

    async def _is_approver(self, policy: RolePolicy, slack_user_id: str) -> bool:
        entra: Requester | None = None
        for ref in policy.approvers:
            if ref.kind is ApproverKind.SLACK_USER and ref.id == slack_user_id:
                return True
            if ref.kind is ApproverKind.SLACK_USERGROUP:
                members = await self._svc.identity.directory.usergroup_members(ref.id)
                if slack_user_id in members:
                    return True
            if ref.kind in (ApproverKind.ENTRA_USER, ApproverKind.ENTRA_GROUP):
                entra = entra or await self._entra_of(slack_user_id)
                if entra is not None and await self._entra_matches(ref.kind, ref.id, entra):
                    return True
        return False

    async def _entra_of(self, slack_user_id: str) -> Requester | None:
        try:
            return await self._svc.identity.resolve(slack_user_id)
        except (SignInRequired, StepUpRequired):
            raise  # user mode: who they are is read as them, so they must sign in first
        except PimError:
            return None  # an unmapped clicker simply isn't an Entra approver

    async def _entra_matches(self, kind: ApproverKind, ref_id: str, who: Requester) -> bool:
        if kind is ApproverKind.ENTRA_USER:
            return ref_id in (who.user.id, who.user.user_principal_name)
        members = await self._svc.graph.list_group_members(ref_id)
        return any(m.id == who.user.id for m in members)
