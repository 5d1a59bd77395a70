"""The sandbox tenant: seeded state plus Entra PIM's rules, driven by an injected clock."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from bot.clock import Clock
from bot.simulators.sandbox import pim
from bot.simulators.sandbox.delegated import RefreshTokens
from bot.simulators.sandbox.directory import Directory
from bot.simulators.sandbox.errors import bad_request, not_found
from bot.simulators.sandbox.model import (
    TENANT_SCOPE,
    AdministrativeUnit,
    Assignment,
    Eligibility,
    RoleDefinition,
    RoleSettings,
    ScheduleRequest,
)
from bot.simulators.sandbox.permissions import GLOBAL_ADMINISTRATOR, PRIVILEGED_ROLE_ADMINISTRATOR
from bot.simulators.sandbox.seed import SANDBOX_CLIENT_SECRET, SEED_FILE, Seed, load_seed
from bot.simulators.sandbox.tokens import Caller, DeviceCodes, TokenTable

PROPAGATION_DELAY = timedelta(seconds=5)  # "a few seconds" by default; tests change it
# Who approves when a policy names no approvers (see SandboxTenant.approvers).
DEFAULT_APPROVERS = frozenset({GLOBAL_ADMINISTRATOR, PRIVILEGED_ROLE_ADMINISTRATOR})


class SandboxTenant:
    """State and behaviour of the emulated tenant. Thread-safe: tests may drive it from
    their own thread while the server's loop serves requests."""

    def __init__(self, seed: Seed, clock: Clock) -> None:
        self.seed = seed
        self.clock = clock
        self.tenant_id = seed.tenant_id
        self.client_id = seed.client_id
        self.client_secret = SANDBOX_CLIENT_SECRET
        self.tokens = TokenTable(clock)
        self.device_codes = DeviceCodes(clock)
        self.refresh_tokens = RefreshTokens(clock)
        self.lock = threading.RLock()
        # A Conditional Access policy blocking the device code flow (tests switch it on).
        self.blocks_device_code = False
        # How long Entra takes to apply an accepted activation: meanwhile its request is
        # PendingProvisioning and no instance exists (real tenants: seconds to minutes).
        self.provisioning_delay = timedelta(0)
        # How long an assignment in effect in PIM takes to show in the directory's own
        # roleAssignments ("This request might have replication delays for role assignments
        # that were recently created", https://learn.microsoft.com/graph/api/
        # rbacapplication-list-transitiveroleassignments). On the tenant's clock.
        self.propagation_delay = PROPAGATION_DELAY
        self.reset()

    @classmethod
    def from_seed(cls, clock: Clock, path: Path = SEED_FILE) -> SandboxTenant:
        return cls(load_seed(path), clock)

    def caller_of(self, headers: Mapping[str, str], body: Any) -> str | None:
        """Who made a call, for the call log: the bearer token's object id (the app's
        service principal or the signed-in user); at the token endpoint, the app named by
        `client_id`. None when neither is known (a bad or missing token)."""
        scheme, _, token = headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and token:
            caller = self.tokens.lookup(token.strip())
            return caller.object_id if caller else None
        if isinstance(body, dict) and body.get("client_id") == self.client_id:
            return self.seed.service_principal_id
        return None

    def reset(self) -> None:
        """Back to the seed: schedules restart at the clock's current time; tokens survive
        (a running bot keeps its cached token)."""
        with self.lock:
            self.started = self.clock.now()
            self.directory = Directory(self.seed.users, self.seed.groups)
            self.roles: dict[str, RoleDefinition] = {r.id: r for r in self.seed.roles}
            self.administrative_units: dict[str, AdministrativeUnit] = {
                u.id: u for u in self.seed.administrative_units
            }
            # What the app registration may call (POST /sandbox/permissions changes it).
            self.granted: set[str] = set(self.seed.permissions)
            self.eligibilities = [
                Eligibility(
                    self.new_id(),
                    s.principal_id,
                    s.role_id,
                    s.scope,
                    self.started,
                    self.started + s.duration if s.duration else None,
                    self.started,
                )
                for s in self.seed.eligibilities
            ]
            self.assignments = [
                Assignment(
                    self.new_id(),
                    s.principal_id,
                    s.role_id,
                    s.scope,
                    self.started,
                    self.started + s.duration if s.duration else None,
                    "Assigned",
                    self.started,
                )
                for s in self.seed.assignments
            ]
            self.requests: dict[str, ScheduleRequest] = {}

    @staticmethod
    def new_id() -> str:
        return str(uuid.uuid4())

    def now(self) -> datetime:
        return self.clock.now()

    # ----- role settings and schedules ---------------------------------------------------

    def role(self, role_id: str) -> RoleDefinition:
        found = self.roles.get(role_id)
        if found is None:
            raise not_found("roleDefinition", role_id)
        return found

    def settings(self, role_id: str) -> RoleSettings:
        return self.seed.settings.get(role_id, self.seed.default_settings)

    def live_eligibilities(self) -> list[Eligibility]:
        now = self.now()
        return [e for e in self.eligibilities if e.start <= now and (e.end is None or now < e.end)]

    def live_assignments(self) -> list[Assignment]:
        now = self.now()
        return [a for a in self.assignments if a.live(now)]

    def directory_assignments(self) -> list[Assignment]:
        """What GET roleAssignments shows: live assignments once propagated."""
        now = self.now()
        return [a for a in self.live_assignments() if a.start + self.propagation_delay <= now]

    def principals_of(self, user_id: str) -> set[str]:
        """The user and the role-assignable groups they belong to: who can hold a role
        on their behalf (only role-assignable groups hold roles)."""
        return {user_id} | {
            g.id
            for g in self.directory.member_of(user_id, transitive=True)
            if g.is_assignable_to_role
        }

    def holds_role(self, user_id: str, role_ids: frozenset[str]) -> bool:
        """Whether the user holds one of these roles tenant-wide right now, themselves or
        through a group (a role over an administrative unit grants nothing tenant-wide)."""
        principals = self.principals_of(user_id)
        return any(
            a.role_id in role_ids and a.scope == TENANT_SCOPE and a.principal_id in principals
            for a in self.live_assignments()
        )

    def approvers(self, role_id: str) -> frozenset[str]:
        """Who may approve an activation of the role: the policy's approvers, or, when it
        names none, whoever holds Privileged Role Administrator or Global Administrator.
        Entra: "If no specific approvers are selected, Privileged Role Administrators and
        Global Administrators become the default approvers"
        (https://learn.microsoft.com/en-us/entra/id-governance/privileged-identity-management/
        pim-how-to-change-default-settings, "Require approval to activate")."""
        named = self.settings(role_id).approvers
        if named:
            return frozenset(named)
        return frozenset(u for u in self.directory.users if self.holds_role(u, DEFAULT_APPROVERS))

    def eligible_via(self, user_id: str, role_id: str, scope: str) -> Eligibility | None:
        """The user's eligibility for the role at exactly `scope`: their own, or a
        role-assignable group's. One at another scope doesn't count (PIM activates an
        eligibility at its own scope; not knowing whether `/` would cover a unit, the
        sandbox refuses)."""
        principals = self.principals_of(user_id)
        return next(
            (
                e
                for e in self.live_eligibilities()
                if e.role_id == role_id and e.scope == scope and e.principal_id in principals
            ),
            None,
        )

    def live_assignment(
        self, principal_id: str, role_id: str, scope: str | None = None
    ) -> Assignment | None:
        """The principal's live assignment of the role at `scope` (None: at any scope,
        for tests that don't care where)."""
        return next(
            (
                a
                for a in self.live_assignments()
                if a.principal_id == principal_id
                and a.role_id == role_id
                and (scope is None or a.scope == scope)
            ),
            None,
        )

    # ----- administrative units and scoped eligibilities (tests, /sandbox/ controls) -----

    def scope_exists(self, scope: str) -> bool:
        """`/`, or an administrative unit this tenant has."""
        if scope == TENANT_SCOPE:
            return True
        return any(u.scope == scope for u in self.administrative_units.values())

    def add_administrative_unit(
        self, display_name: str, unit_id: str | None = None, description: str | None = None
    ) -> AdministrativeUnit:
        with self.lock:
            unit = AdministrativeUnit(unit_id or self.new_id(), display_name, description)
            if unit.id in self.administrative_units:
                raise bad_request(f"Administrative unit {unit.id} already exists.")
            self.administrative_units[unit.id] = unit
            return unit

    def administrative_unit(self, unit_id: str) -> AdministrativeUnit:
        found = self.administrative_units.get(unit_id)
        if found is None:
            raise not_found("administrativeUnit", unit_id)
        return found

    def add_eligibility(
        self, principal_id: str, role_id: str, scope: str, duration: timedelta | None = None
    ) -> Eligibility:
        """An eligibility starting now at `scope` (which must exist), as an admin would
        create it in the portal."""
        with self.lock:
            self.role(role_id)
            if principal_id not in self.directory.users | self.directory.groups:
                raise not_found("principal", principal_id)
            group = self.directory.groups.get(principal_id)
            if group is not None and not group.is_assignable_to_role:
                # Only role-assignable groups can be assigned a role (groups-concept).
                raise bad_request(f"The group {group.display_name!r} is not role-assignable.")
            if not self.scope_exists(scope):
                raise bad_request(f"The directory scope {scope!r} does not exist.")
            now = self.now()
            end = now + duration if duration else None
            eligibility = Eligibility(self.new_id(), principal_id, role_id, scope, now, end, now)
            self.eligibilities.append(eligibility)
            return eligibility

    # ----- requests --------------------------------------------------------------------

    def submit(self, body: object, caller: Caller) -> ScheduleRequest:
        """POST roleAssignmentScheduleRequests: validate, apply, record."""
        if not isinstance(body, dict):
            raise bad_request("The request body must be a JSON object.")
        with self.lock:
            request = pim.submit(self, body, caller)
            self.requests[request.id] = request
            return request

    def provision_due(self) -> None:
        """Requests whose provisioning delay has passed are Provisioned."""
        now = self.now()
        for request in self.requests.values():
            if (
                request.status == "PendingProvisioning"
                and request.ready_at
                and request.ready_at <= now
            ):
                request.status, request.completed = "Provisioned", request.ready_at

    def request(self, request_id: str) -> ScheduleRequest:
        self.provision_due()
        found = self.requests.get(request_id)
        if found is None:
            raise not_found("roleAssignmentScheduleRequest", request_id)
        return found

    def approve(
        self, request_id: str, reviewer_id: str | None = None, justification: str | None = None
    ) -> ScheduleRequest:
        with self.lock:
            return pim.decide(self, self.request(request_id), True, reviewer_id, justification)

    def deny(
        self, request_id: str, reviewer_id: str | None = None, justification: str | None = None
    ) -> ScheduleRequest:
        with self.lock:
            return pim.decide(self, self.request(request_id), False, reviewer_id, justification)

    def cancel(self, request_id: str) -> None:
        """Cancel a request still waiting: for approval or an administrator's decision (an
        extension request: "Go to the Pending requests page to view the status of your
        request or to cancel it", pim-how-to-renew-extend), or (Granted) for its start."""
        with self.lock:
            request = self.request(request_id)
            if request.status not in ("PendingApproval", "PendingAdminDecision", "Granted"):
                # Graph documents a 400 here without naming the code.
                raise bad_request(
                    f"The request is in status {request.status} and cannot be canceled."
                )
            for scheduled in self.assignments:
                # (an extension's targetScheduleId is someone else's schedule: left alone)
                if scheduled.id == request.id:
                    scheduled.ended = True
            request.status = "Canceled"
            request.completed = self.now()
