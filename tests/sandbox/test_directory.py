"""Users, groups and memberships, and paging over collections."""

from __future__ import annotations

import httpx

from tests.support.cast import (
    ADMIN,
    ALINE,
    ANALYSTS_GROUP,
    HELPDESK_GROUP,
    LEE,
    MEGAN,
    SECOPS_GROUP,
    USER_ADMIN,
)
from tests.support.graph_caller import PAGE_SIZE, RM, GraphCaller, assert_graph_error


async def test_user_by_id_and_by_upn(graph: GraphCaller) -> None:
    by_id = await graph.get(f"/v1.0/users/{ALINE.id}", "user")
    by_upn = await graph.get("/v1.0/users/alined@M365X435773.onmicrosoft.com", "user")
    assert by_id.json() == by_upn.json()
    assert by_id.json()["@odata.context"].endswith("$metadata#users/$entity")


async def test_unknown_user_is_not_found(graph: GraphCaller) -> None:
    assert_graph_error(
        await graph.get("/v1.0/users/nobody@contoso.test"), 404, "Request_ResourceNotFound"
    )


async def test_filter_users_by_mail_and_upn(graph: GraphCaller) -> None:
    by_mail = await graph.get("/v1.0/users", "user", **{"$filter": f"mail eq '{MEGAN.upn}'"})
    assert [u["displayName"] for u in by_mail.json()["value"]] == ["Megan Bowen"]
    by_upn = await graph.get(
        "/v1.0/users",
        "user",
        **{"$filter": f"userPrincipalName eq '{ADMIN.upn}'"},
    )
    assert [u["id"] for u in by_upn.json()["value"]] == [ADMIN.id]
    none = await graph.get("/v1.0/users", "user", **{"$filter": "mail eq 'x@y.z'"})
    assert none.json()["value"] == []


async def test_unsupported_filters_are_bad_requests(graph: GraphCaller) -> None:
    bad = await graph.get("/v1.0/users", **{"$filter": "startswith(mail,'a')"})
    assert_graph_error(bad, 400, "BadRequest")


async def test_member_of_and_transitive_member_of(graph: GraphCaller) -> None:
    # Lee is in Security Operations directly: a role-assignable group has no nested groups
    # (nesting, where Graph allows it, is tested in test_seed_rules.py).
    direct = await graph.get(f"/v1.0/users/{LEE.id}/memberOf", "group")
    assert {g["id"] for g in direct.json()["value"]} == {ANALYSTS_GROUP, SECOPS_GROUP}
    transitive = await graph.get(f"/v1.0/users/{LEE.id}/transitiveMemberOf", "group")
    assert {g["id"] for g in transitive.json()["value"]} == {ANALYSTS_GROUP, SECOPS_GROUP}
    assert all(g["@odata.type"] == "#microsoft.graph.group" for g in transitive.json()["value"])


async def test_role_assignable_groups_are_one_advanced_query(graph: GraphCaller) -> None:
    """`memberOf/microsoft.graph.group?$filter=isAssignableToRole eq true` lists the
    user's direct role-assignable groups; as in Graph, the filter needs
    `ConsistencyLevel: eventual` and `$count=true`
    (https://learn.microsoft.com/en-us/graph/api/user-list-memberof)."""
    path = f"/v1.0/users/{ALINE.id}/memberOf/microsoft.graph.group"
    query = {"$filter": "isAssignableToRole eq true", "$count": "true"}
    auth = {"Authorization": f"Bearer {graph.token}"}

    advanced = await graph.http.get(
        path, params=query, headers={**auth, "ConsistencyLevel": "eventual"}
    )
    plain = await graph.http.get(path, params=query, headers=auth)
    uncounted = await graph.http.get(
        path,
        params={"$filter": "isAssignableToRole eq true"},
        headers={**auth, "ConsistencyLevel": "eventual"},
    )

    assert advanced.status_code == 200, advanced.text
    assert {g["id"] for g in advanced.json()["value"]} == {HELPDESK_GROUP, SECOPS_GROUP}
    assert advanced.json()["@odata.count"] == 2
    assert_graph_error(plain, 400, "Request_UnsupportedQuery")
    assert_graph_error(uncounted, 400, "Request_UnsupportedQuery")


async def test_group_members_and_transitive_members(graph: GraphCaller) -> None:
    helpdesk = await graph.get(f"/v1.0/groups/{HELPDESK_GROUP}/members", "directoryObject.any")
    assert {m["id"] for m in helpdesk.json()["value"]} == {ADMIN.id, ALINE.id}
    direct = await graph.get(f"/v1.0/groups/{SECOPS_GROUP}/members", "directoryObject.any")
    assert LEE.id in {m["id"] for m in direct.json()["value"]}
    assert all(m["@odata.type"] == "#microsoft.graph.user" for m in direct.json()["value"])
    nested = await graph.get(
        f"/v1.0/groups/{SECOPS_GROUP}/transitiveMembers", "directoryObject.any"
    )
    assert {m["id"] for m in nested.json()["value"]} == {m["id"] for m in direct.json()["value"]}
    group = await graph.get(f"/v1.0/groups/{HELPDESK_GROUP}", "group")
    assert group.json()["isAssignableToRole"] is True


async def test_role_definitions_page_through_next_links(graph: GraphCaller) -> None:
    seen: list[str] = []
    path: str | None = f"{RM}/roleDefinitions"
    pages = 0
    while path:
        page = await graph.call("GET", path, "unifiedRoleDefinition")
        assert len(page.json()["value"]) <= PAGE_SIZE
        seen += [r["displayName"] for r in page.json()["value"]]
        path = page.json().get("@odata.nextLink")
        pages += 1
    assert len(seen) == len(set(seen)) == 22 and pages == 5
    assert {"User Administrator", "Global Administrator", "Password Administrator"} <= set(seen)


async def test_top_shrinks_the_page(graph: GraphCaller) -> None:
    page = await graph.get("/v1.0/users", "user", **{"$top": "2"})
    assert len(page.json()["value"]) == 2
    assert "%24top=2" in page.json()["@odata.nextLink"]
    follow = await graph.call("GET", page.json()["@odata.nextLink"], "user")
    assert len(follow.json()["value"]) == 2
    assert not set(u["id"] for u in follow.json()["value"]) & set(
        u["id"] for u in page.json()["value"]
    )


async def test_role_definition_by_id(graph: GraphCaller) -> None:
    role = await graph.get(f"{RM}/roleDefinitions/{USER_ADMIN}", "unifiedRoleDefinition")
    assert role.json()["displayName"] == "User Administrator"
    assert role.json()["templateId"] == role.json()["id"]


async def test_select_returns_only_the_named_properties(graph: GraphCaller) -> None:
    user = await graph.get(
        f"/v1.0/users/{ALINE.id}", "user", **{"$select": "id,displayName,userPrincipalName,mail"}
    )
    assert set(user.json()) == {"@odata.context", "id", "displayName", "userPrincipalName", "mail"}
    groups = await graph.get(
        f"/v1.0/users/{LEE.id}/transitiveMemberOf", "group", **{"$select": "id,displayName"}
    )
    assert all(set(g) == {"@odata.type", "id", "displayName"} for g in groups.json()["value"])
    roles = await graph.get(
        f"{RM}/roleDefinitions", "unifiedRoleDefinition", **{"$top": "1", "$select": "id"}
    )
    assert [set(r) for r in roles.json()["value"]] == [{"id"}]


async def test_account_enabled_only_on_select_and_disabled_or_deleted_users(
    graph: GraphCaller, http: httpx.AsyncClient
) -> None:
    """`accountEnabled` is "Returned only on $select" (Graph's user resource,
    https://learn.microsoft.com/en-us/graph/api/resources/user); a deleted user is a 404,
    gone from the groups it was in, as Entra deletes a user."""
    default = await graph.get(f"/v1.0/users/{MEGAN.id}", "user")
    assert "accountEnabled" not in default.json()
    selected = await graph.get(
        f"/v1.0/users/{MEGAN.id}", "user", **{"$select": "id,accountEnabled"}
    )
    assert selected.json()["accountEnabled"] is True

    disabled = await http.post(f"/sandbox/users/{MEGAN.id}", json={"accountEnabled": False})
    assert disabled.status_code == 204
    after = await graph.get(f"/v1.0/users/{MEGAN.id}", "user", **{"$select": "accountEnabled"})
    assert after.json()["accountEnabled"] is False

    assert (await http.delete(f"/sandbox/users/{LEE.id}")).status_code == 204
    assert_graph_error(await graph.get(f"/v1.0/users/{LEE.id}"), 404, "Request_ResourceNotFound")
    members = await graph.get(f"/v1.0/groups/{SECOPS_GROUP}/members")
    assert LEE.id not in {m["id"] for m in members.json()["value"]}
