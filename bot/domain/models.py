"""Domain records shared by the service, the Graph adapter and the store."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from bot.domain.targets import Role as Role  # re-exported: Role lives with Target
from bot.domain.targets import Scope, Target, TargetKind


@dataclass(frozen=True, slots=True)
class DirectoryUser:
    """An Entra user as Graph returns it."""

    id: str
    display_name: str
    user_principal_name: str
    mail: str | None = None
    account_enabled: bool = True  # `accountEnabled`: False for a disabled account


@dataclass(frozen=True, slots=True)
class Eligibility:
    """A role the user may activate at `scope` (the eligibility's `directoryScopeId`);
    `via_group` names the group when it is indirect."""

    kind: TargetKind
    role_id: str
    principal_id: str
    scope: Scope
    start: datetime | None
    end: datetime | None
    via_group_id: str | None = None
    via_group_name: str | None = None


@dataclass(frozen=True, slots=True)
class ActiveAssignment:
    """A live role assignment instance (`roleAssignmentScheduleInstances`) at `scope`."""

    id: str
    kind: TargetKind
    role_id: str
    principal_id: str
    scope: Scope
    start: datetime | None
    end: datetime | None
    assignment_type: str  # "Activated" (PIM activation) or "Assigned"
    member_type: str = "Direct"

    def remaining(self, now: datetime) -> timedelta | None:
        return None if self.end is None else max(self.end - now, timedelta(0))


class ApproverKind(StrEnum):
    """Where an approver reference points."""

    ENTRA_USER = "entra_user"
    ENTRA_GROUP = "entra_group"
    ENTRA_ROLE = "entra_role"  # whoever holds this directory role, active, tenant-wide
    SLACK_USER = "slack_user"
    SLACK_USERGROUP = "slack_usergroup"


@dataclass(frozen=True, slots=True)
class ApproverRef:
    """One approver source: an Entra user/group id, or a Slack user/user-group id."""

    kind: ApproverKind
    id: str
    description: str | None = None


@dataclass(frozen=True, slots=True)
class RolePolicy:
    """PIM activation rules for a role, from Graph, from pimbot.yml, or their merge."""

    max_duration: timedelta
    justification_required: bool = True
    ticket_required: bool = False
    mfa_required: bool = False
    approval_required: bool = False
    approvers: tuple[ApproverRef, ...] = field(default_factory=tuple)
    # Conditional Access authentication context required on activation (its claim value).
    auth_context: str | None = None
    # The *_Admin_Assignment rules: what Entra checks an adminAssign against (application
    # mode). None: active assignments may be permanent.
    admin_max_duration: timedelta | None = None
    admin_rules: frozenset[str] = frozenset()  # Enablement_Admin_Assignment.enabledRules
    # Why pimbot refuses the role outright as it acts (None: it doesn't).
    refusal: str | None = None
    # pimbot.yml's `max_extensions`: extensions per activation chain (Graph has no such rule).
    max_extensions: int = 1
    approvals_required: int = 1  # distinct approvers needed (pimbot.yml; four eyes)


class RequestAction(StrEnum):
    """Graph's `unifiedRoleScheduleRequestActions`, spelled as its metadata does."""

    ADMIN_ASSIGN = "adminAssign"
    ADMIN_UPDATE = "adminUpdate"
    ADMIN_REMOVE = "adminRemove"
    ADMIN_EXTEND = "adminExtend"
    ADMIN_RENEW = "adminRenew"
    SELF_ACTIVATE = "selfActivate"
    SELF_DEACTIVATE = "selfDeactivate"
    SELF_EXTEND = "selfExtend"
    SELF_RENEW = "selfRenew"


@dataclass(frozen=True, slots=True)
class Ticket:
    """`ticketInfo`: the ticket number and the ticket system it belongs to."""

    number: str
    system: str | None = None


@dataclass(frozen=True, slots=True)
class ActivationSpec:
    """What the bot asks Graph for: a target (role and scope) for a principal, for a
    duration, with reasons."""

    principal_id: str
    target: Target
    duration: timedelta
    justification: str
    ticket: Ticket | None = None
    start: datetime | None = None


@dataclass(frozen=True, slots=True)
class ScheduleRequest:
    """A `unifiedRoleAssignmentScheduleRequest` as Graph answered it."""

    id: str
    action: str
    status: str  # Provisioned, Granted, PendingApproval, Denied, Failed, Revoked, Canceled, ...
    principal_id: str
    role_id: str
    created: datetime | None
    start: datetime | None
    duration: timedelta | None
    end: datetime | None
    justification: str | None
    ticket: Ticket | None
