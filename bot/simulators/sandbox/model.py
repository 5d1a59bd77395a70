"""The sandbox tenant's records: directory objects, role settings and PIM schedules."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

# directoryScopeId values (https://learn.microsoft.com/en-us/graph/api/rbacapplication-post-roleassignments):
# `/` the whole tenant, `/administrativeUnits/{id}` one administrative unit.
TENANT_SCOPE = "/"
AU_SCOPE_PREFIX = "/administrativeUnits/"


@dataclass(frozen=True, slots=True)
class User:
    id: str
    upn: str
    display_name: str
    mail: str | None = None
    given_name: str | None = None
    surname: str | None = None
    job_title: str | None = None
    account_enabled: bool = True


@dataclass(frozen=True, slots=True)
class Group:
    id: str
    display_name: str
    mail_nickname: str
    description: str | None
    is_assignable_to_role: bool
    members: tuple[str, ...]  # user or group ids (groups nest)


@dataclass(frozen=True, slots=True)
class AdministrativeUnit:
    """A directory container a role can be scoped to: `/administrativeUnits/{id}`."""

    id: str
    display_name: str
    description: str | None = None

    @property
    def scope(self) -> str:
        return f"{AU_SCOPE_PREFIX}{self.id}"


@dataclass(frozen=True, slots=True)
class RoleDefinition:
    id: str
    display_name: str
    description: str


@dataclass(frozen=True, slots=True)
class RoleSettings:
    """One role's PIM policy, in the terms of Entra's rule ids."""

    activation_max: timedelta  # Expiration_EndUser_Assignment
    activation_rules: tuple[str, ...]  # Enablement_EndUser_Assignment
    approval_required: bool  # Approval_EndUser_Assignment
    approvers: tuple[str, ...]  # user ids (primaryApprovers, singleUser)
    admin_max: timedelta  # Expiration_Admin_Assignment
    admin_expiration_required: bool
    admin_rules: tuple[str, ...]  # Enablement_Admin_Assignment
    eligibility_max: timedelta  # Expiration_Admin_Eligibility
    eligibility_expiration_required: bool
    auth_context: str | None = None  # AuthenticationContext_EndUser_Assignment claim value


@dataclass(slots=True)
class Eligibility:
    """A role eligibility schedule (and its single instance) at a directory scope."""

    id: str
    principal_id: str
    role_id: str
    scope: str  # directoryScopeId
    start: datetime
    end: datetime | None
    created: datetime


@dataclass(slots=True)
class Assignment:
    """A role assignment schedule and its instance: live while start <= now < end."""

    id: str  # the schedule id == the id of the request that created it
    principal_id: str
    role_id: str
    scope: str  # directoryScopeId
    start: datetime
    end: datetime | None
    assignment_type: str  # "Activated" (selfActivate) or "Assigned" (adminAssign)
    created: datetime
    member_type: str = "Direct"
    ended: bool = False  # removed or deactivated before its end

    def live(self, now: datetime) -> bool:
        return not self.ended and self.start <= now and (self.end is None or now < self.end)


@dataclass(slots=True)
class Ticket:
    number: str | None
    system: str | None


@dataclass(slots=True)
class ScheduleRequest:
    """A unifiedRoleAssignmentScheduleRequest and what became of it."""

    id: str
    action: str
    principal_id: str
    role_id: str
    scope: str  # directoryScopeId
    justification: str | None
    ticket: Ticket
    start: datetime
    expiration_type: str
    duration: timedelta | None
    end: datetime | None
    created: datetime
    created_by: tuple[str, str]  # ("user" | "application", object id)
    status: str
    completed: datetime | None = None
    target_schedule_id: str | None = None
    reviews: list[dict[str, str | None]] = field(default_factory=list)
    ready_at: datetime | None = None  # PendingProvisioning until then (provisioning delay)
