"""Read-side queries: what a user is eligible for and has active, with effective policy."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable

from bot.clock import Clock
from bot.domain.models import ActiveAssignment, Eligibility, Role
from bot.domain.people import PersonKey
from bot.domain.requests import ActivationRecord
from bot.domain.roles import RoleCatalog
from bot.domain.targets import Scope, Target, pick_scope, scope_shorthand
from bot.errors import AlreadyActive, GraphError, InputError, NotActive, NotEligible
from bot.service.identity import Requester
from bot.service.outcomes import ActiveRole, EligibleRole
from bot.service.policies import PolicyCache
from bot.service.ports import PimGraph


class RoleQueries:
    """Eligibility and active-assignment reads from Graph, named by the role catalog."""

    def __init__(
        self,
        graph: PimGraph,
        catalog: RoleCatalog,
        policies: PolicyCache,
        clock: Clock,
        *,
        signed_in: bool = False,
    ) -> None:
        self.graph, self.catalog, self.policies, self.clock = graph, catalog, policies, clock
        # User mode: what a user holds through a group is visible only with a reader role.
        self._signed_in = signed_in

    async def eligible_for(
        self, requester: Requester, role: Role, hint: str | None = None, *, fresh: bool = False
    ) -> EligibleRole:
        """The user's eligibility for `role`, whose target carries the eligibility's own
        scope. NotEligible names what they can activate. Eligible at several scopes, the
        user picks one (`role@paris`); pimbot never picks a scope for them. `fresh`: read
        Graph now rather than what is kept (an approval, which may have waited long)."""
        held = await self.graph.list_eligibilities(requester.user.id, fresh=fresh)
        # Only the asked role's policy is read: the others' are needed only to list them.
        matches = await self._entries([e for e in held if e.role_id == role.id])
        if not matches and not fresh:
            # Kept reads never refuse: an eligibility granted a moment ago counts at once.
            held = await self.graph.list_eligibilities(requester.user.id, fresh=True)
            matches = await self._entries([e for e in held if e.role_id == role.id])
        if not matches:
            message = _not_eligible_message(role, await self._entries(held))
            if self._signed_in:
                message += (
                    " (If you hold it through a group, pimbot can see that only while you "
                    "hold a reader role such as Global Reader; activate it in Microsoft "
                    "Entra PIM instead.)"
                )
            raise NotEligible(message)
        if hint is not None:
            chosen = pick_scope([m.scope for m in matches], hint, role.display_name)
            return next(m for m in matches if m.scope == chosen)
        if len(matches) > 1:
            raise InputError(
                f"You are eligible for {role.display_name} at {len(matches)} scopes: "
                f"{_scope_list(m.scope for m in matches)}. Say which after `@`, e.g. "
                f"`{_example(role, matches[-1].scope)}`, or pick it in the form (`/pim`)."
            )
        return matches[0]

    async def eligible(self, requester: Requester) -> list[EligibleRole]:
        """One entry per role and scope; a direct eligibility wins over one via a group."""
        return await self._entries(await self.graph.list_eligibilities(requester.user.id))

    async def _entries(self, held: list[Eligibility]) -> list[EligibleRole]:
        out: dict[tuple[str, str, str], EligibleRole] = {}
        for item in held:
            role = self.catalog.by_id(item.role_id)
            target = Target(item.kind, role, item.scope)
            effective = await self.policies.effective(role)
            entry = EligibleRole(
                target, effective.policy, effective.approval_reasons, item.via_group_name, item.end
            )
            if target.key not in out or item.via_group_name is None:
                out[target.key] = entry
        return sorted(out.values(), key=lambda e: (e.role.display_name, _scope_order(e.scope)))

    async def active(self, requester: Requester, *, via_groups: bool = True) -> list[ActiveRole]:
        now = self.clock.now()
        live = await self.graph.list_active(requester.user.id, via_groups=via_groups)
        return sorted(
            (
                ActiveRole(self.catalog.by_id(a.role_id), a)
                for a in live
                if a.end is None or a.end > now
            ),
            key=lambda a: (a.role.display_name, _scope_order(a.assignment.scope)),
        )

    async def find_active(
        self, requester: Requester, role: Role, scope: Scope | None = None, hint: str | None = None
    ) -> ActiveRole:
        """The user's own live assignment of `role` (at `scope`, or at the one `hint`
        names). Active at several scopes and neither given: an InputError listing them."""
        # Only the user's own assignments: their groups' are not read (one call, not one
        # per group).
        own = await self.active(requester, via_groups=False)
        if hint is not None and scope is None:
            held = [a.assignment.scope for a in own if a.role.id == role.id]
            scope = pick_scope(held, hint, role.display_name) if held else None
        mine = [
            item
            for item in own
            # Only the user's own assignment can be ended or extended for them; one held
            # through a group belongs to the group.
            if item.role.id == role.id
            and item.assignment.principal_id == requester.user.id
            and (scope is None or item.assignment.scope == scope)
        ]
        if not mine:
            where = f" at {scope.label}" if scope is not None else ""
            raise NotActive(f"{role.display_name} is not active for you{where} right now.")
        if len(mine) > 1:
            raise InputError(
                f"{role.display_name} is active for you at {len(mine)} scopes: "
                f"{_scope_list(m.assignment.scope for m in mine)}. Say which after `@`, e.g. "
                f"`{_example(role, mine[-1].assignment.scope)}`."
            )
        return mine[0]

    async def refuse_if_active(self, requester: Requester, target: Target) -> None:
        """AlreadyActive if the target's role is live for the user at the target's scope.
        One read of the user's own instances at that role and scope: what a group holds
        is the group's (find_active leaves it out too), so their groups are not read."""
        active = await self.graph.live_assignment(requester.user.id, target)
        if active is None or (active.end is not None and active.end <= self.clock.now()):
            return
        raise _already_active(target, active)

    async def already_active(self, requester: Requester, target: Target) -> AlreadyActive:
        """Graph said the role is already active (RoleAssignmentExists): the error, saying
        until when if one read of the user's own instance tells (a failed read only costs
        the "until")."""
        try:
            active = await self.graph.live_assignment(requester.user.id, target)
        except GraphError:
            active = None
        return _already_active(target, active)


def _already_active(target: Target, active: ActiveAssignment | None) -> AlreadyActive:
    role = target.role
    end = active.end if active else None
    until = f" until {end:%Y-%m-%d %H:%M} UTC" if end else ""
    return AlreadyActive(
        f"{role.display_name} ({target.scope.label}) is already active for you{until}. "
        f"Use `/pim extend {role.alias or role.id} 1h` to extend it."
    )


def _scope_order(scope: Scope) -> tuple[bool, str]:
    return not scope.is_tenant_wide, scope.label.casefold()


def _example(role: Role, scope: Scope) -> str:
    name = role.alias or role.display_name
    return f"{name}@{scope_shorthand(scope)}"


def _scope_list(scopes: Iterable[Scope]) -> str:
    """`Whole directory (`/`)`, `Paris Office (`/administrativeUnits/…`)`: name and id."""
    return "; ".join(f"{s.label} (`{s.id}`)" for s in scopes)


def _not_eligible_message(role: Role, eligible: list[EligibleRole]) -> str:
    if not eligible:
        return f"You aren't eligible for {role.display_name}, or for any role. Ask your PIM admin."
    names = dict.fromkeys(f"`{e.role.alias or e.role.display_name}`" for e in eligible)
    return f"You aren't eligible for {role.display_name}. You can activate: {', '.join(names)}."


MayDecide = Callable[[ActivationRecord, PersonKey], Awaitable[bool]]


async def waiting_for(
    person: PersonKey, pending: Iterable[ActivationRecord], may_decide: MayDecide
) -> tuple[ActivationRecord, ...]:
    """The pending requests `person` may decide, oldest first. `may_decide` is the approval
    service's own check, so what is offered is exactly what a click would be allowed."""
    mine = [r for r in pending if await may_decide(r, person)]
    return tuple(sorted(mine, key=lambda r: r.created_at))
