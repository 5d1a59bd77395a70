"""PIM reads GraphPim needs: eligibilities (own and via groups), active roles, policy,
and schedule requests."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from typing import Literal

from bot.clock import Clock
from bot.domain.models import ActiveAssignment, Eligibility, RolePolicy, ScheduleRequest
from bot.domain.targets import Scope, Target, TargetKind
from bot.errors import GraphError, PolicyViolation
from bot.graph.client import Json
from bot.graph.directory import DirectoryReads
from bot.graph.models import DirectoryObject, InstanceOut, ScheduleRequestOut
from bot.graph.odata import eq
from bot.graph.policy import policy_from_assignments
from bot.graph.remembered import Remembered

RM = "/v1.0/roleManagement/directory"
REQUESTS = f"{RM}/roleAssignmentScheduleRequests"
ELIGIBLE = f"{RM}/roleEligibilityScheduleInstances"
ACTIVE = f"{RM}/roleAssignmentScheduleInstances"
POLICIES = "/v1.0/policies/roleManagementPolicyAssignments"
MINE = "filterByCurrentUser(on='principal')"
log = logging.getLogger(__name__)


def directory_role(target: Target) -> tuple[str, str]:
    """(roleDefinitionId, directoryScopeId) of a target this adapter can act on."""
    if target.kind is not TargetKind.DIRECTORY_ROLE:
        raise PolicyViolation(f"pimbot cannot act on {target.kind.value} targets yet.")
    return target.role.id, target.scope.id


class TenantEligibility:
    """The tenant's eligibility instances as one paged read returned them, indexed by
    principal once per read: each activation looks up its requester and their groups
    rather than scanning every instance in the tenant (4,000 in the throughput bench)."""

    def __init__(self, instances: list[InstanceOut]) -> None:
        self._by_principal: dict[str, list[tuple[int, InstanceOut]]] = {}
        for n, instance in enumerate(instances):
            self._by_principal.setdefault(instance.principal_id, []).append((n, instance))

    def held_by(self, principals: Iterable[str]) -> list[InstanceOut]:
        """The instances any of `principals` holds, in the order Graph listed them."""
        held = [pair for p in set(principals) for pair in self._by_principal.get(p, ())]
        return [instance for _, instance in sorted(held, key=lambda pair: pair[0])]


class PimReads(DirectoryReads):
    """The read half of `PimGraph` (directory reads come from `DirectoryReads`)."""

    identity: Literal["application", "user"]
    _clock: Clock
    _tenant_seen: Remembered[TenantEligibility]  # the tenant's eligibility instances
    _groups_seen: Remembered[list[DirectoryObject]]  # by user id
    _eligible_seen: Remembered[list[Eligibility]]  # user mode: by user id

    async def list_eligibilities(self, user_id: str, *, fresh: bool = False) -> list[Eligibility]:
        """The user's eligibilities, their own and their groups', none past its end.
        Application mode reads the tenant's eligibilities once (paged) and the user's
        groups once, each kept for the bounded lifetime (adminAssign does not check
        eligibility, so this read is the check: README "Eligibility cache"). User mode
        keeps the user's own list as long: selfActivate refuses an ineligible principal
        (EligibilityRule), and that refusal forgets it (`GraphPim.activate`). `fresh`:
        forget what is kept for the user first."""
        if fresh:
            self.forget_principal(user_id)
        if self.identity == "user":
            key = f"eligible:{user_id}"
            held = await self._eligible_seen.get(key, lambda: self._own_and_groups(user_id))
        else:
            held = await self._tenant_eligible_for(user_id)
        now = self._clock.now()
        # A kept eligibility is never honoured past its own endDateTime.
        return [e for e in held if e.end is None or now < e.end]

    async def _tenant_eligible_for(self, user_id: str) -> list[Eligibility]:
        tenant, groups = await asyncio.gather(
            self._tenant_seen.get("tenant", self._tenant_eligibility),
            self._groups_kept(user_id),
        )
        by_id = {g.id: g for g in groups}
        found = [(i, by_id.get(i.principal_id)) for i in tenant.held_by([user_id, *by_id])]
        scopes = await self._scopes(i for i, _ in found)
        return [i.to_eligibility(scopes[i.id], group) for i, group in found if i.id in scopes]

    async def _own_and_groups(self, user_id: str) -> list[Eligibility]:
        own, groups = await asyncio.gather(
            self._instances(ELIGIBLE, user_id), self._groups_kept(user_id)
        )
        via = await asyncio.gather(*(self._held_by_group(ELIGIBLE, g.id) for g in groups))
        found: list[tuple[InstanceOut, DirectoryObject | None]] = [(i, None) for i in own]
        found += [(i, g) for g, items in zip(groups, via, strict=True) for i in items]
        scopes = await self._scopes(i for i, _ in found)
        return [i.to_eligibility(scopes[i.id], group) for i, group in found if i.id in scopes]

    async def _tenant_eligibility(self) -> TenantEligibility:
        return TenantEligibility(await self._all_instances(ELIGIBLE))

    async def _all_instances(self, collection: str) -> list[InstanceOut]:
        """Every instance in the tenant: one paged read, whoever holds them."""
        return [InstanceOut.model_validate(i) for i in await self._client.get_all(collection)]

    async def _groups_kept(self, user_id: str) -> list[DirectoryObject]:
        return await self._groups_seen.get(user_id, lambda: self._groups(user_id))

    def forget_principal(self, user_id: str) -> None:
        """Graph refused an activation for `user_id`: what was kept for them (and the
        tenant's eligibilities, which hold theirs) is read afresh next time."""
        self._eligible_seen.forget(f"eligible:{user_id}")
        self._groups_seen.forget(user_id)
        self._tenant_seen.forget()

    async def list_active(self, user_id: str, *, via_groups: bool = True) -> list[ActiveAssignment]:
        # A role held by a group the user belongs to is active for the user too; their own
        # alone (`via_groups` False) is one read, not one more per group.
        if not via_groups:
            own = await self._instances(ACTIVE, user_id)
            scopes = await self._scopes(own)
            return [i.to_active(scopes[i.id]) for i in own if i.id in scopes]
        own, groups = await asyncio.gather(
            self._instances(ACTIVE, user_id), self._groups_kept(user_id)
        )
        via = await asyncio.gather(*(self._held_by_group(ACTIVE, g.id) for g in groups))
        found = [i for items in (own, *via) for i in items]
        scopes = await self._scopes(found)
        return [i.to_active(scopes[i.id]) for i in found if i.id in scopes]

    async def get_policy(self, role_id: str) -> RolePolicy:
        # A directory role's PIM settings are one policy per role, assigned at the tenant
        # (`scopeId '/'`) whatever scope an eligibility has: this `/` names where Graph
        # keeps the policy, not where anything is activated.
        params = {
            "$filter": "scopeId eq '/' and scopeType eq 'DirectoryRole' and "
            + eq("roleDefinitionId", role_id),
            "$expand": "policy($expand=rules)",
        }
        return policy_from_assignments(await self._client.get_all(POLICIES, params))

    async def list_policies(self) -> dict[str, RolePolicy]:
        """Every directory role's PIM policy by role id, in one paged read (`pimbot check`)."""
        params = {
            "$filter": "scopeId eq '/' and scopeType eq 'DirectoryRole'",
            "$expand": "policy($expand=rules)",
        }
        items = await self._client.get_all(POLICIES, params)
        return {
            str(item["roleDefinitionId"]): policy_from_assignments([item])
            for item in items
            if item.get("roleDefinitionId")
        }

    async def list_requests(self, principal_id: str) -> list[ScheduleRequest]:
        return [r.to_domain() for r in await self._requests(principal_id)]

    async def _requests(self, principal_id: str) -> list[ScheduleRequestOut]:
        items = await self._records(REQUESTS, principal_id, own=True)
        return [ScheduleRequestOut.model_validate(item) for item in items]

    async def _live(self, principal_id: str, target: Target) -> ActiveAssignment | None:
        """The principal's own live assignment of the target's role at the target's scope
        (the same role at another scope is another assignment)."""
        role_id, scope_id = directory_role(target)
        where = {"roleDefinitionId": role_id, "directoryScopeId": scope_id}
        for instance in await self._instances(ACTIVE, principal_id, where=where):
            if (instance.role_definition_id, instance.directory_scope_id) == (role_id, scope_id):
                return instance.to_active(target.scope)
        return None

    async def _scopes(self, instances: Iterable[InstanceOut]) -> dict[str, Scope]:
        """Each instance's scope by instance id, administrative units named where Graph
        lets us read them. An instance with no directoryScopeId (an app scope) is left
        out: pimbot could only act on it at the wrong scope."""
        scopes: dict[str, Scope] = {}
        for instance in instances:
            if instance.scope is None:
                log.warning("instance %s has no directoryScopeId: not offered", instance.id)
            else:
                scopes[instance.id] = instance.scope
        units = {s.administrative_unit_id for s in scopes.values()} - {None}
        names = await self._unit_names(sorted(u for u in units if u))
        return {
            key: scope.named(names.get(scope.administrative_unit_id or ""))
            for key, scope in scopes.items()
        }

    async def _held_by_group(self, collection: str, group_id: str) -> list[InstanceOut]:
        """A group's eligibilities or assignments. A signed-in user may read them only
        with a reader role (filterByCurrentUser does not return what a group holds:
        https://learn.microsoft.com/en-us/entra/id-governance/privileged-identity-management/pim-how-to-activate-role);
        without one, what the user holds through groups is not listed, rather than
        failing everything they hold directly."""
        try:
            return await self._instances(collection, group_id, own=False)
        except GraphError as exc:
            if self.identity != "user" or exc.status != 403:
                raise
            log.info("group %s: its PIM records need a reader role; not listed", group_id)
            return []

    async def _instances(
        self,
        collection: str,
        principal_id: str,
        *,
        own: bool = True,
        where: dict[str, str] | None = None,
    ) -> list[InstanceOut]:
        items = await self._records(collection, principal_id, own=own, where=where)
        return [InstanceOut.model_validate(item) for item in items]

    async def _records(
        self,
        collection: str,
        principal_id: str,
        *,
        own: bool,
        where: dict[str, str] | None = None,
    ) -> list[Json]:
        wanted = {"principalId": principal_id, **(where or {})}
        if own and self.identity == "user":
            # A signed-in user may list their own records with no directory reader role.
            items = await self._client.get_all(f"{collection}/{MINE}")
            return [i for i in items if all(i.get(k) == v for k, v in wanted.items())]
        # instances, schedules and requests support $filter (eq) on these properties:
        # https://learn.microsoft.com/en-us/graph/api/resources/unifiedroleassignmentscheduleinstance
        query = " and ".join(eq(k, v) for k, v in wanted.items())
        return await self._client.get_all(collection, {"$filter": query})
