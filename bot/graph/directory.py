"""Directory reads GraphPim needs: users, group memberships, role definitions."""

from __future__ import annotations

from bot.domain.models import DirectoryUser, Role
from bot.graph.client import GraphClient
from bot.graph.models import DirectoryObject, RoleDefinitionOut
from bot.graph.odata import eq, segment

USER_FIELDS = "id,displayName,userPrincipalName,mail"
ROLE_DEFINITIONS = "/v1.0/roleManagement/directory/roleDefinitions"


class DirectoryReads:
    """Users, groups and role definitions (the non-PIM half of `PimGraph`)."""

    _client: GraphClient

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

    async def _groups(self, user_id: str) -> list[DirectoryObject]:
        path = f"/v1.0/users/{segment(user_id)}/transitiveMemberOf"
        found = await self._objects(path, {"$select": "id,displayName"})
        return [g for g in found if g.is_group]

    async def _objects(self, path: str, params: dict[str, str]) -> list[DirectoryObject]:
        params = {"$select": USER_FIELDS, **params}
        items = await self._client.get_all(path, params)
        return [DirectoryObject.model_validate(item) for item in items]
