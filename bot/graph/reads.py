"""PIM reads GraphPim needs: eligibilities (own and via groups), active roles, policy,
and schedule requests."""

from __future__ import annotations

import asyncio
from typing import Literal

from bot.domain.models import ActiveAssignment, Eligibility, RolePolicy, ScheduleRequest
from bot.graph.client import Json
from bot.graph.directory import DirectoryReads
from bot.graph.models import InstanceOut, ScheduleRequestOut
from bot.graph.odata import eq
from bot.graph.policy import policy_from_assignments

RM = "/v1.0/roleManagement/directory"
REQUESTS = f"{RM}/roleAssignmentScheduleRequests"
ELIGIBLE = f"{RM}/roleEligibilityScheduleInstances"
ACTIVE = f"{RM}/roleAssignmentScheduleInstances"
POLICIES = "/v1.0/policies/roleManagementPolicyAssignments"
MINE = "filterByCurrentUser(on='principal')"


class PimReads(DirectoryReads):
    """The read half of `PimGraph` (directory reads come from `DirectoryReads`)."""

    identity: Literal["application", "user"]

    async def list_eligibilities(self, user_id: str) -> list[Eligibility]:
        own, groups = await asyncio.gather(
            self._instances(ELIGIBLE, user_id), self._groups(user_id)
        )
        via = await asyncio.gather(*(self._instances(ELIGIBLE, g.id, own=False) for g in groups))
        pairs = zip(groups, via, strict=True)
        return [i.to_eligibility() for i in own] + [
            i.to_eligibility(g) for g, items in pairs for i in items
        ]

    async def list_active(self, user_id: str) -> list[ActiveAssignment]:
        # A role held by a group the user belongs to is active for the user too.
        own, groups = await asyncio.gather(self._instances(ACTIVE, user_id), self._groups(user_id))
        via = await asyncio.gather(*(self._instances(ACTIVE, g.id, own=False) for g in groups))
        return [i.to_active() for items in (own, *via) for i in items]

    async def get_policy(self, role_id: str) -> RolePolicy:
        params = {
            "$filter": "scopeId eq '/' and scopeType eq 'DirectoryRole' and "
            + eq("roleDefinitionId", role_id),
            "$expand": "policy($expand=rules)",
        }
        return policy_from_assignments(await self._client.get_all(POLICIES, params))

    async def list_requests(self, principal_id: str) -> list[ScheduleRequest]:
        return [r.to_domain() for r in await self._requests(principal_id)]

    async def _requests(self, principal_id: str) -> list[ScheduleRequestOut]:
        items = await self._records(REQUESTS, principal_id, own=True)
        return [ScheduleRequestOut.model_validate(item) for item in items]

    async def _live(self, principal_id: str, role_id: str) -> ActiveAssignment | None:
        for instance in await self._instances(ACTIVE, principal_id):
            if instance.role_definition_id == role_id:
                return instance.to_active()
        return None

    async def _instances(
        self, collection: str, principal_id: str, *, own: bool = True
    ) -> list[InstanceOut]:
        items = await self._records(collection, principal_id, own=own)
        return [InstanceOut.model_validate(item) for item in items]

    async def _records(self, collection: str, principal_id: str, *, own: bool) -> list[Json]:
        if own and self.identity == "user":
            # A signed-in user may list their own records with no directory reader role.
            items = await self._client.get_all(f"{collection}/{MINE}")
            return [item for item in items if item.get("principalId") == principal_id]
        return await self._client.get_all(collection, {"$filter": eq("principalId", principal_id)})
