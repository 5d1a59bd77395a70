"""The tenant's eligibility instances, kept indexed by principal (bot/graph/reads.py
`TenantEligibility`): a requester's lookup returns exactly what a scan of every instance
would, in Graph's order, without the scan."""

from __future__ import annotations

from bot.graph.models import InstanceOut
from bot.graph.reads import TenantEligibility


def instance(n: int, principal: str) -> InstanceOut:
    return InstanceOut.model_validate(
        {
            "id": f"i{n}",
            "principalId": principal,
            "roleDefinitionId": f"role-{n}",
            "directoryScopeId": "/",
        }
    )


def test_held_by_matches_a_scan_in_graphs_order() -> None:
    listed = [
        instance(0, "group-b"),
        instance(1, "user-a"),
        instance(2, "someone-else"),
        instance(3, "group-b"),
        instance(4, "user-a"),
        instance(5, "group-c"),
    ]
    tenant = TenantEligibility(listed)
    asked = {"user-a", "group-b"}
    scanned = [i for i in listed if i.principal_id in asked]
    assert tenant.held_by(["user-a", "group-b", "user-a"]) == scanned
    assert [i.id for i in scanned] == ["i0", "i1", "i3", "i4"]


def test_nobody_holds_nothing() -> None:
    tenant = TenantEligibility([instance(0, "user-a")])
    assert tenant.held_by(["user-z"]) == []
    assert TenantEligibility([]).held_by(["user-a"]) == []
