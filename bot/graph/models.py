"""Pydantic shapes of the Graph PIM payloads the bot sends and reads, and their mapping."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, PlainSerializer
from pydantic.alias_generators import to_camel

from bot.domain.durations import parse_duration
from bot.domain.models import (
    ActiveAssignment,
    DirectoryUser,
    Eligibility,
    RequestAction,
    Role,
    ScheduleRequest,
    Ticket,
)
from bot.domain.targets import Scope, TargetKind
from bot.errors import InputError


class _Graph(BaseModel):
    # Graph adds properties over time: read what we know, ignore the rest.
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")


def graph_time(value: datetime) -> str:
    """`2026-11-29T02:00:00Z`: UTC with a Z, as Graph writes it."""
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


GraphTime = Annotated[AwareDatetime, PlainSerializer(graph_time, return_type=str)]


class Expiration(_Graph):
    type: Literal["afterDuration", "afterDateTime", "noExpiration", "notSpecified"]
    duration: str | None = None
    end_date_time: GraphTime | None = None


class RequestScheduleInfo(_Graph):
    start_date_time: GraphTime | None = None
    expiration: Expiration | None = None


class TicketInfo(_Graph):
    ticket_number: str | None = None
    ticket_system: str | None = None


class ScheduleRequestBody(_Graph):
    """The body of POST roleAssignmentScheduleRequests. `directoryScopeId` is the target's
    scope, always sent: either it or appScopeId is required, and it decides where the role
    applies (https://learn.microsoft.com/en-us/graph/api/rbacapplication-post-roleassignmentschedulerequests)."""

    action: RequestAction
    principal_id: str
    role_definition_id: str
    directory_scope_id: str
    justification: str | None = None
    schedule_info: RequestScheduleInfo | None = None
    ticket_info: TicketInfo | None = None

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


class ScheduleRequestOut(ScheduleRequestBody):
    """A `unifiedRoleAssignmentScheduleRequest` as Graph returns it."""

    id: str
    action: RequestAction | str  # type: ignore[assignment]  # tolerate future actions
    directory_scope_id: str | None = None  # type: ignore[assignment]  # null: an app scope
    status: str = "Unknown"
    created_date_time: AwareDatetime | None = None

    def to_domain(self) -> ScheduleRequest:
        info = self.schedule_info or RequestScheduleInfo()
        start, expiration = info.start_date_time, info.expiration
        duration = iso_duration(expiration.duration) if expiration else None
        end = expiration.end_date_time if expiration else None
        if end is None and start is not None and duration is not None:
            end = start + duration
        return ScheduleRequest(
            id=self.id,
            action=str(self.action),
            status=self.status,
            principal_id=self.principal_id,
            role_id=self.role_definition_id,
            created=self.created_date_time,
            start=start,
            duration=duration,
            end=end,
            justification=self.justification,
            ticket=_ticket(self.ticket_info),
        )


class InstanceOut(_Graph):
    """An eligibility or assignment schedule instance. `directoryScopeId` is null only for
    an app-specific scope (`appScopeId`), which pimbot cannot act on: `scope` is None."""

    id: str
    principal_id: str
    role_definition_id: str
    directory_scope_id: str | None = None
    start_date_time: AwareDatetime | None = None
    end_date_time: AwareDatetime | None = None
    assignment_type: str | None = None
    member_type: str | None = None

    @property
    def scope(self) -> Scope | None:
        scope_id = self.directory_scope_id
        return Scope(scope_id) if scope_id and scope_id.startswith("/") else None

    def to_eligibility(self, scope: Scope, group: DirectoryObject | None = None) -> Eligibility:
        return Eligibility(
            kind=TargetKind.DIRECTORY_ROLE,
            role_id=self.role_definition_id,
            principal_id=self.principal_id,
            scope=scope,
            start=self.start_date_time,
            end=self.end_date_time,
            via_group_id=group.id if group else None,
            via_group_name=group.display_name if group else None,
        )

    def to_active(self, scope: Scope) -> ActiveAssignment:
        return ActiveAssignment(
            id=self.id,
            kind=TargetKind.DIRECTORY_ROLE,
            role_id=self.role_definition_id,
            principal_id=self.principal_id,
            scope=scope,
            start=self.start_date_time,
            end=self.end_date_time,
            assignment_type=self.assignment_type or "Assigned",
            member_type=self.member_type or "Direct",
        )


class DirectoryObject(_Graph):
    """A user or group (or anything else `memberOf` returns), told apart by `@odata.type`."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="allow")

    id: str
    display_name: str | None = None
    user_principal_name: str | None = None
    mail: str | None = None
    account_enabled: bool | None = None  # only when $select names it

    @property
    def odata_type(self) -> str:
        return str((self.model_extra or {}).get("@odata.type", ""))

    @property
    def is_group(self) -> bool:
        return self.odata_type == "#microsoft.graph.group"

    def to_user(self) -> DirectoryUser:
        upn = self.user_principal_name or self.mail or self.id
        enabled = self.account_enabled is not False
        return DirectoryUser(self.id, self.display_name or upn, upn, self.mail, enabled)


class RoleDefinitionOut(_Graph):
    id: str
    display_name: str
    template_id: str | None = None

    def to_domain(self) -> Role:
        # Built-in roles share their template id across tenants; PIM calls use it.
        return Role(id=self.template_id or self.id, display_name=self.display_name)


def iso_duration(text: str | None) -> timedelta | None:
    """An ISO 8601 duration from Graph, or None if absent or unreadable."""
    try:
        return parse_duration(text) if text else None
    except InputError:
        return None


def _ticket(info: TicketInfo | None) -> Ticket | None:
    if info is None or not info.ticket_number:
        return None
    return Ticket(info.ticket_number, info.ticket_system)


class AdministrativeUnitOut(_Graph):
    """GET /v1.0/directory/administrativeUnits/{id}: only its name is read."""

    id: str
    display_name: str | None = None
