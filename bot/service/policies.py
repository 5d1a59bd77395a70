"""Effective policy per role: Graph's PIM policy merged with pimbot.yml, cached briefly."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.clock import Clock
from bot.domain.durations import MAX_DURATION
from bot.domain.models import Role, RolePolicy
from bot.domain.policy import Acting, EffectivePolicy, effective_policy
from bot.domain.roles import RoleCatalog
from bot.errors import GraphError, PimError
from bot.service.ports import PimGraph
from bot.settings import PolicyFile, RoleConfig

# PIM policies change rarely; five minutes keeps Graph calls per activation low while an
# admin's policy edit still takes effect quickly.
POLICY_TTL = timedelta(minutes=5)
# In user mode an ordinary user may not read PIM policies (Graph wants a reader role):
# pimbot.yml's rules are then checked up front and Entra applies its own to the self
# action itself (refusing, or holding the request for approval).
LEFT_TO_ENTRA = RolePolicy(max_duration=MAX_DURATION, justification_required=False)


@dataclass(frozen=True, slots=True)
class _Cached:
    value: EffectivePolicy
    fetched_at: datetime


class PolicyCache:
    """Reads each role's Graph policy at most once per TTL and merges the config rules."""

    def __init__(
        self,
        graph: PimGraph,
        catalog: RoleCatalog,
        config: PolicyFile,
        clock: Clock,
        *,
        entra_enforces: bool = False,
    ) -> None:
        self._graph, self._catalog, self._config, self._clock = graph, catalog, config, clock
        self._cache: dict[str, _Cached] = {}
        # Graph's policies for the whole tenant, read in one call when one is missing:
        # a user's second role then costs no policy read (issue 17: Graph-frugal). The
        # List call returns every assignment with its policy and rules
        # (https://learn.microsoft.com/graph/api/resources/unifiedrolemanagementpolicyassignment).
        # None inside: the read was refused (user mode, no reader role); Entra applies
        # its own policy then, and asking again for each role would only be refused again.
        self._tenant: tuple[datetime, dict[str, RolePolicy] | None] | None = None
        # User mode: Entra applies its own policy to the self action, so a 403 on the
        # read (an ordinary user may not read PIM policies) is not fatal.
        self._entra_enforces = entra_enforces

    async def effective(self, role: Role) -> EffectivePolicy:
        now = self._clock.now()
        hit = self._cache.get(role.id)
        if hit is not None and now - hit.fetched_at < POLICY_TTL:
            return hit.value
        try:
            graph_policy = await self._graph_policy(role.id, now)
        except GraphError as exc:
            if not (self._entra_enforces and exc.status == 403):
                raise
            graph_policy = LEFT_TO_ENTRA
        config = self._role_config(role)
        acting = Acting(not self._entra_enforces, self._mfa_waived(config))
        value = effective_policy(graph_policy, config, self._config, acting, role.display_name)
        self._cache[role.id] = _Cached(value, now)
        return value

    async def prime(self) -> None:
        """Read the tenant's policies now (at start), so the first activation need not."""
        self._tenant = (self._clock.now(), await self._tenant_policies())

    def clear(self) -> None:
        """Forget every cached policy: the next request reads Graph again."""
        self._cache.clear()
        self._tenant = None

    async def _graph_policy(self, role_id: str, now: datetime) -> RolePolicy:
        if self._tenant is None or now - self._tenant[0] >= POLICY_TTL:
            self._tenant = (now, await self._tenant_policies())
        known = self._tenant[1]
        if known is None:
            return LEFT_TO_ENTRA
        found = known.get(role_id)
        # Not in the tenant-wide answer: the role's own read decides (and raises if Graph
        # has no policy for it), never a default.
        return found if found is not None else await self._graph.get_policy(role_id)

    async def _tenant_policies(self) -> dict[str, RolePolicy] | None:
        try:
            return await self._graph.list_policies()
        except GraphError as exc:
            if not (self._entra_enforces and exc.status == 403):
                raise
            return None

    def _mfa_waived(self, config: RoleConfig | None) -> bool:
        waiver = "allow_without_mfa"
        return self._config.graph.application_mode == waiver or bool(
            config and config.application_mode == waiver
        )

    def _role_config(self, role: Role) -> RoleConfig | None:
        return role_config(self._config, self._catalog, role.id)


def role_config(config: PolicyFile, catalog: RoleCatalog, role_id: str) -> RoleConfig | None:
    """`role_id`'s entry in pimbot.yml, matched by id: an entry may name its role by any
    spelling the catalog resolves (alias, display name in any case, template id)."""
    key = role_id.lower()
    for cfg in config.roles.values():
        try:
            if catalog.resolve(cfg.role).id == key:
                return cfg
        except PimError:
            continue  # a role pimbot.yml names that the tenant lacks: not this one
    return None


def approvals_channel(config: PolicyFile, catalog: RoleCatalog, role: Role) -> str | None:
    """Where `role`'s cards and break-glass alerts go: `roles.<alias>.approvals_channel`,
    else `channels.approvals`."""
    for cfg in config.roles.values():
        if cfg.approvals_channel and catalog.resolve(cfg.role).id == role.id:
            return cfg.approvals_channel
    return config.channels.approvals
