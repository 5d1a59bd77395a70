"""Directory reads GraphPim needs: users, group memberships, role definitions, the names
of administrative units."""

from __future__ import annotations

import asyncio
import logging

from bot.domain.models import DirectoryUser, Role
from bot.errors import GraphError
from bot.graph.client import GraphClient
from bot.graph.models import AdministrativeUnitOut, DirectoryObject, RoleDefinitionOut
from bot.graph.odata import eq, segment

# `accountEnabled` is returned only on $select (Graph's user resource): asked for here, so
# the reads pimbot makes anyway say whether an approver's account is live.
USER_FIELDS = "id,displayName,userPrincipalName,mail,accountEnabled"
ROLE_DEFINITIONS = "/v1.0/roleManagement/directory/roleDefinitions"
ADMINISTRATIVE_UNITS = "/v1.0/directory/administrativeUnits"
log = logging.getLogger(__name__)


class DirectoryReads:
    """Users, groups and role definitions (the non-PIM half of `PimGraph`)."""

    _client: GraphClient
    _unit_names_seen: dict[str, str | None]  # administrative unit id -> display name

    async def get_user(self, id_or_upn: str) -> DirectoryUser:
        path = f"/v1.0/users/{segment(id_or_upn)}"
        data = await self._client.get(path, {"$select": USER_FIELDS})
        return DirectoryObject.model_validate(data).to_user()

    async def find_user_by_email(self, email: str) -> DirectoryUser | None:
        # `mail` is the address Slack verified; some users only have it as their UPN.
        for field in ("mail", "userPrincipalName"):
            found = await self._objects("/v1.0/users", {"$filter": eq(field, email)})
            if found:
                return found[0].to_user()
        return None

    async def list_group_members(self, group_id: str) -> list[DirectoryUser]:
        # Transitive: a nested group's members may approve too.
        path = f"/v1.0/groups/{segment(group_id)}/transitiveMembers"
        members = await self._objects(path, {})
        return [m.to_user() for m in members if m.odata_type in ("", "#microsoft.graph.user")]

    async def list_role_definitions(self) -> list[Role]:
        params = {"$select": "id,displayName,templateId"}
        items = await self._client.get_all(ROLE_DEFINITIONS, params)
        return [RoleDefinitionOut.model_validate(item).to_domain() for item in items]

    async def prime(self) -> None:
        """At start, the names of the tenant's administrative units in one paged List call
        (https://learn.microsoft.com/en-us/graph/api/directory-list-administrativeunits,
        AdministrativeUnit.Read.All like a Get), so no activation reads a unit's name.
        Best effort: refused, each unit is named when first shown, as before."""
        try:
            items = await self._client.get_all(ADMINISTRATIVE_UNITS, {"$select": "id,displayName"})
        except GraphError as exc:
            log.info("administrative units not listed at start (%s): named when shown", exc.code)
            return
        for item in items:
            unit = AdministrativeUnitOut.model_validate(item)
            self._unit_names_seen[unit.id] = unit.display_name

    async def _unit_names(self, unit_ids: list[str]) -> dict[str, str]:
        """Display names of administrative units, best effort and remembered: reading one
        needs AdministrativeUnit.Read.All (application) or a member user (delegated)
        (https://learn.microsoft.com/en-us/graph/api/administrativeunit-get). A unit that
        can't be read is shown by its id."""
        missing = [u for u in unit_ids if u not in self._unit_names_seen]
        await asyncio.gather(*(self._read_unit_name(u) for u in missing))
        return {u: name for u in unit_ids if (name := self._unit_names_seen.get(u))}

    async def _read_unit_name(self, unit_id: str) -> None:
        path = f"{ADMINISTRATIVE_UNITS}/{segment(unit_id)}"
        try:
            data = await self._client.get(path, {"$select": "id,displayName"})
        except GraphError as exc:
            log.info("administrative unit %s not readable (%s): shown by id", unit_id, exc.code)
            if exc.status in (403, 404):  # not allowed, or gone: asking again won't help
                self._unit_names_seen[unit_id] = None
            return
        self._unit_names_seen[unit_id] = AdministrativeUnitOut.model_validate(data).display_name

    async def _groups(self, user_id: str) -> list[DirectoryObject]:
        """The groups through which the user may hold a role: only role-assignable groups
        can be assigned roles, and no group can be nested into one
        (https://learn.microsoft.com/en-us/entra/identity/role-based-access-control/groups-concept),
        so the user's direct memberships of role-assignable groups are all there is. One
        filtered read (an advanced query: ConsistencyLevel and $count,
        https://learn.microsoft.com/en-us/graph/api/user-list-memberof), not a call per
        group of any kind."""
        path = f"/v1.0/users/{segment(user_id)}/memberOf/microsoft.graph.group"
        params = {
            "$filter": "isAssignableToRole eq true",
            "$count": "true",
            "$select": "id,displayName",
        }
        items = await self._client.get_all(path, params, {"ConsistencyLevel": "eventual"})
        return [DirectoryObject.model_validate(item) for item in items]

    async def _objects(self, path: str, params: dict[str, str]) -> list[DirectoryObject]:
        params = {"$select": USER_FIELDS, **params}
        items = await self._client.get_all(path, params)
        return [DirectoryObject.model_validate(item) for item in items]
