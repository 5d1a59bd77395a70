"""Read-side queries: what a user is eligible for and has active, with effective policy."""

from __future__ import annotations

from bot.clock import Clock
from bot.domain.models import ActiveAssignment, Role
from bot.domain.roles import RoleCatalog
from bot.errors import AlreadyActive, NotActive, NotEligible
from bot.service.identity import Requester
from bot.service.outcomes import ActiveRole, EligibleRole
from bot.service.policies import PolicyCache
from bot.service.ports import PimGraph


class RoleQueries:
    """Eligibility and active-assignment reads from Graph, named by the role catalog."""

    def __init__(
        self, graph: PimGraph, catalog: RoleCatalog, policies: PolicyCache, clock: Clock
    ) -> None:
        self.graph, self.catalog, self.policies, self.clock = graph, catalog, policies, clock

    async def eligible_for(self, requester: Requester, role: Role) -> EligibleRole:
        """The user's eligibility for `role`, or NotEligible naming what they can activate."""
        eligible = await self.eligible(requester)
        match = next((e for e in eligible if e.role.id == role.id), None)
        if match is None:
            raise NotEligible(_not_eligible_message(role, eligible))
        return match

    async def eligible(self, requester: Requester) -> list[EligibleRole]:
        out: dict[str, EligibleRole] = {}
        for item in await self.graph.list_eligibilities(requester.user.id):
            role = self.catalog.by_id(item.role_id)
            effective = await self.policies.effective(role)
            entry = EligibleRole(
                role, effective.policy, effective.approval_reasons, item.via_group_name, item.end
            )
            if role.id not in out or item.via_group_name is None:
                out[role.id] = entry
        return sorted(out.values(), key=lambda e: e.role.display_name)

    async def active(self, requester: Requester) -> list[ActiveRole]:
        now = self.clock.now()
        live = await self.graph.list_active(requester.user.id)
        return sorted(
            (
                ActiveRole(self.catalog.by_id(a.role_id), a)
                for a in live
                if a.end is None or a.end > now
            ),
            key=lambda a: a.role.display_name,
        )

    async def find_active(self, requester: Requester, role: Role) -> ActiveAssignment:
        for item in await self.active(requester):
            # Only the user's own assignment can be ended or extended for them; one held
            # through a group belongs to the group.
            if item.role.id == role.id and item.assignment.principal_id == requester.user.id:
                return item.assignment
        raise NotActive(f"{role.display_name} is not active for you right now.")

    async def refuse_if_active(self, requester: Requester, role: Role) -> None:
        try:
            active = await self.find_active(requester, role)
        except NotActive:
            return
        until = f" until {active.end:%Y-%m-%d %H:%M} UTC" if active.end else ""
        raise AlreadyActive(
            f"{role.display_name} is already active for you{until}. "
            f"Use `/pim extend {role.alias or role.id} 1h` to extend it."
        )


def _not_eligible_message(role: Role, eligible: list[EligibleRole]) -> str:
    if not eligible:
        return f"You aren't eligible for {role.display_name}, or for any role. Ask your PIM admin."
    names = ", ".join(f"`{e.role.alias or e.role.display_name}`" for e in eligible)
    return f"You aren't eligible for {role.display_name}. You can activate: {names}."
