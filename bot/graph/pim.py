"""GraphPim: the `bot.service.ports.PimGraph` operations over Microsoft Graph v1.0.

Identity and the Graph permissions each needs (least privileged; admin consent):

application (default; client credentials, admin actions adminAssign / adminRemove /
adminExtend — the bot checks eligibility and policy itself before acting):
    RoleAssignmentSchedule.ReadWrite.Directory  activation requests, active instances, cancel
    RoleEligibilitySchedule.Read.Directory      eligibility instances
    RoleManagementPolicy.Read.Directory         PIM policy rules per role
    RoleManagement.Read.Directory               role definitions
    User.Read.All                               users by id / UPN / mail, their groups (memberOf)
    GroupMember.Read.All                        members of approver groups
    AdministrativeUnit.Read.All                 (optional) names of administrative-unit scopes;
                                                without it a scope shows as its id
    (RoleManagement.ReadWrite.Directory alone covers the four Role* permissions above.)

user (delegated, self actions selfActivate / selfDeactivate / selfExtend as the
signed-in user; the token source must then supply a delegated token): the delegated
permissions of the same names — RoleAssignmentSchedule.ReadWrite.Directory,
RoleEligibilitySchedule.Read.Directory, RoleManagementPolicy.Read.Directory,
RoleManagement.Read.Directory, User.Read.All, GroupMember.Read.All. The user's own
instances and requests are read with filterByCurrentUser(on='principal'); reading the
eligibilities of the user's groups still needs a directory reader role (e.g. Global Reader).
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import timedelta
from typing import TYPE_CHECKING, Literal

from bot.clock import Clock, SystemClock
from bot.domain.durations import to_iso
from bot.domain.models import (
    ActivationSpec,
    ActiveAssignment,
    RequestAction,
    ScheduleRequest,
    Ticket,
)
from bot.domain.targets import Target
from bot.errors import GraphError
from bot.graph.client import GraphClient, Json
from bot.graph.directory import ROLE_DEFINITIONS
from bot.graph.models import (
    Expiration,
    InstanceOut,
    RequestScheduleInfo,
    ScheduleRequestBody,
    ScheduleRequestOut,
    TicketInfo,
)
from bot.graph.odata import eq, segment
from bot.graph.reads import ACTIVE, REQUESTS, RM, PimReads, directory_role
from bot.graph.recovery import newest_first, same_submission
from bot.graph.remembered import Remembered

if TYPE_CHECKING:
    from bot.service.ports import PimGraph

Identity = Literal["application", "user"]
ROLE_ASSIGNMENTS = f"{RM}/roleAssignments"

# No extend: Entra has no operation that lengthens a running activation (adminExtend and
# selfExtend are for admin-made assignments); the service ends it and activates again.
_ACTIONS: dict[Identity, tuple[RequestAction, RequestAction]] = {
    "application": (RequestAction.ADMIN_ASSIGN, RequestAction.ADMIN_REMOVE),
    "user": (RequestAction.SELF_ACTIVATE, RequestAction.SELF_DEACTIVATE),
}


class GraphPim(PimReads):
    """PIM over Graph: eligibilities, active roles, policy, and schedule requests."""

    def __init__(
        self,
        client: GraphClient,
        *,
        identity: Identity = "application",
        clock: Clock | None = None,
        kept_for: timedelta = timedelta(0),
    ) -> None:
        """`kept_for`: how long eligibilities and group memberships read from Graph are
        kept (PIM_ELIGIBILITY_CACHE_SECONDS; zero keeps nothing)."""
        self.identity: Identity = identity
        self._client = client
        self._clock = clock or SystemClock()
        self._unit_names_seen = {}
        self._tenant_seen = Remembered(self._clock, kept_for)
        self._groups_seen = Remembered(self._clock, kept_for)
        self._eligible_seen = Remembered(self._clock, kept_for)
        self._activate, self._remove = _ACTIONS[identity]

    # Schedule requests

    async def activate(self, spec: ActivationSpec) -> ScheduleRequest:
        # Whole seconds, as Graph echoes them; recovery compares starts (see recovery.py).
        start = (spec.start or self._clock.now()).replace(microsecond=0)
        expiration = Expiration(type="afterDuration", duration=to_iso(spec.duration))
        body = self._body(self._activate, spec.principal_id, spec.target, spec.justification)
        body.schedule_info = RequestScheduleInfo(start_date_time=start, expiration=expiration)
        body.ticket_info = _ticket_info(spec.ticket)
        try:
            return await self._submit(body)
        except GraphError:
            # A refusal may come from a changed eligibility (EligibilityRule, user mode)
            # or an assignment made elsewhere: the next try reads Graph afresh.
            self.forget_principal(spec.principal_id)
            raise

    async def deactivate(
        self, principal_id: str, target: Target, justification: str | None = None
    ) -> ScheduleRequest:
        body = self._body(self._remove, principal_id, target, justification)

        async def recover() -> Json | None:
            # A removal has no unique schedule: it applied if the role is gone at that scope.
            if await self._live(principal_id, target) is not None:
                return None
            return await self._find(body)

        data = await self._client.post(REQUESTS, body.to_json(), recover=recover)
        return ScheduleRequestOut.model_validate(data).to_domain()

    async def cancel_request(self, request_id: str) -> None:
        path = f"{REQUESTS}/{segment(request_id)}"

        async def recover() -> Json | None:
            status = (await self._client.get(path)).get("status")
            return {} if status in ("Canceled", "Revoked") else None

        await self._client.post(f"{path}/cancel", recover=recover)

    # Tenant-wide reads (reconciliation, readiness)

    async def list_active_all(self, role_ids: Collection[str]) -> list[ActiveAssignment]:
        """Every live assignment instance of these roles in the tenant: one paged read,
        whoever holds them. The instance reference documents `$filter` with `eq` on
        roleDefinitionId (https://learn.microsoft.com/en-us/graph/api/resources/
        unifiedroleassignmentscheduleinstance) but not `in`, so several roles are read
        unfiltered and picked here; one role is filtered by Graph."""
        wanted = set(role_ids)
        if not wanted:
            return []
        only = next(iter(wanted))
        params = {"$filter": eq("roleDefinitionId", only)} if len(wanted) == 1 else None
        items = [InstanceOut.model_validate(i) for i in await self._client.get_all(ACTIVE, params)]
        found = [i for i in items if i.role_definition_id in wanted]
        scopes = await self._scopes(found)
        return [i.to_active(scopes[i.id]) for i in found if i.id in scopes]

    async def assignment_in_effect(self, principal_id: str, target: Target) -> bool:
        """Whether the directory itself holds the principal's role at the target's scope:
        GET roleAssignments?$filter=principalId eq … and roleDefinitionId eq …
        (https://learn.microsoft.com/en-us/graph/api/rbacapplication-list-roleassignments),
        the record Entra authorises with, which trails PIM's schedule instance."""
        role_id, scope_id = directory_role(target)
        query = f"{eq('principalId', principal_id)} and {eq('roleDefinitionId', role_id)}"
        items = await self._client.get_all(ROLE_ASSIGNMENTS, {"$filter": query})
        return any(i.get("directoryScopeId") == scope_id for i in items)

    async def role_assignments(self, role_id: str) -> list[tuple[str, str]]:
        """(principalId, directoryScopeId) of every directory role assignment of one role,
        whoever holds it: one paged read for all the activations of that role followed at
        once. The list is queried "by filtering on roleDefinitionId or principalId"
        (https://learn.microsoft.com/en-us/graph/api/resources/rbacapplication)."""
        items = await self._client.get_all(
            ROLE_ASSIGNMENTS, {"$filter": eq("roleDefinitionId", role_id)}
        )
        return [
            (str(i["principalId"]), str(i["directoryScopeId"]))
            for i in items
            if i.get("principalId") and i.get("directoryScopeId")
        ]

    async def live_assignment(self, principal_id: str, target: Target) -> ActiveAssignment | None:
        return await self._live(principal_id, target)

    async def check_token(self) -> None:
        """Acquire a token and make one cheap read: proves credentials and permissions."""
        await self._client.get(ROLE_DEFINITIONS, {"$top": "1", "$select": "id"})

    async def aclose(self) -> None:
        await self._client.aclose()

    # Helpers

    def _body(
        self, action: RequestAction, principal_id: str, target: Target, justification: str | None
    ) -> ScheduleRequestBody:
        # The target's scope, as read from its eligibility or assignment: an activation at
        # `/` of an eligibility over an administrative unit would grant the role tenant-wide.
        role_id, scope_id = directory_role(target)
        return ScheduleRequestBody(
            action=action,
            principal_id=principal_id,
            role_definition_id=role_id,
            directory_scope_id=scope_id,
            justification=justification,
        )

    async def _submit(self, body: ScheduleRequestBody) -> ScheduleRequest:
        async def recover() -> Json | None:
            return await self._find(body)

        data = await self._client.post(REQUESTS, body.to_json(), recover=recover)
        return ScheduleRequestOut.model_validate(data).to_domain()

    async def _find(self, body: ScheduleRequestBody) -> Json | None:
        for seen in newest_first(await self._requests(body.principal_id)):
            if same_submission(body, seen):
                return seen.model_dump(mode="json", by_alias=True)
        return None


def _ticket_info(ticket: Ticket | None) -> TicketInfo | None:
    if ticket is None:
        return None
    return TicketInfo(ticket_number=ticket.number, ticket_system=ticket.system)


if TYPE_CHECKING:

    def _implements_the_port(pim: GraphPim) -> PimGraph:
        return pim  # mypy proves GraphPim satisfies bot.service.ports.PimGraph
