"""Load the Contoso seed (seed.yml): directory, roles, role settings, schedules."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml

from bot.simulators.sandbox.model import (
    AU_SCOPE_PREFIX,
    TENANT_SCOPE,
    AdministrativeUnit,
    Group,
    RoleDefinition,
    RoleSettings,
    User,
)
from bot.simulators.sandbox.timefmt import parse_duration

SANDBOX_TENANT_ID = "927c6607-8060-4f4a-a5f8-34964ac78d70"
SANDBOX_CLIENT_ID = "c0ffee00-0000-4000-8000-000000000001"
SANDBOX_CLIENT_SECRET = "sandbox-not-a-secret"  # noqa: S105 - a published sandbox credential

SEED_FILE = Path(__file__).with_name("seed.yml")


@dataclass(frozen=True, slots=True)
class SeedSchedule:
    """An eligibility or permanent assignment, relative to the tenant clock's start, at a
    directoryScopeId (`/`, or `/administrativeUnits/{id}` of a seeded unit)."""

    principal_id: str
    role_id: str
    duration: timedelta | None
    scope: str = TENANT_SCOPE


@dataclass(frozen=True, slots=True)
class Seed:
    tenant_id: str
    domain: str
    display_name: str
    client_id: str
    service_principal_id: str
    app_display_name: str
    permissions: frozenset[str]  # application permissions granted to the app (admin consent)
    administrative_units: tuple[AdministrativeUnit, ...]
    users: tuple[User, ...]
    groups: tuple[Group, ...]
    roles: tuple[RoleDefinition, ...]
    default_settings: RoleSettings
    settings: dict[str, RoleSettings]
    eligibilities: tuple[SeedSchedule, ...]
    assignments: tuple[SeedSchedule, ...]


def load_seed(path: Path = SEED_FILE) -> Seed:
    """Read and check the seed file; cross-references must resolve."""
    raw: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    default = _settings(raw["defaultPolicy"])
    seed = Seed(
        tenant_id=raw["tenant"]["id"],
        domain=raw["tenant"]["domain"],
        display_name=raw["tenant"]["displayName"],
        client_id=raw["application"]["clientId"],
        service_principal_id=raw["application"]["servicePrincipalId"],
        app_display_name=raw["application"]["displayName"],
        permissions=frozenset(raw["application"].get("permissions") or ()),
        administrative_units=tuple(
            AdministrativeUnit(u["id"], u["displayName"], u.get("description"))
            for u in raw.get("administrativeUnits") or ()
        ),
        users=tuple(_user(u) for u in raw["users"]),
        groups=tuple(_group(g) for g in raw["groups"]),
        roles=tuple(
            RoleDefinition(r["id"], r["displayName"], r["description"]) for r in raw["roles"]
        ),
        default_settings=default,
        settings={
            role_id: _settings(over, base=default)
            for role_id, over in (raw.get("policies") or {}).items()
        },
        eligibilities=tuple(_schedule(e) for e in raw.get("eligibilities") or ()),
        assignments=tuple(_schedule(a) for a in raw.get("assignments") or ()),
    )
    _check_references(seed)
    return seed


def _user(raw: dict[str, Any]) -> User:
    return User(
        id=raw["id"],
        upn=raw["upn"],
        display_name=raw["displayName"],
        mail=raw.get("mail"),
        given_name=raw.get("givenName"),
        surname=raw.get("surname"),
        job_title=raw.get("jobTitle"),
        account_enabled=bool(raw.get("accountEnabled", True)),
    )


def _group(raw: dict[str, Any]) -> Group:
    return Group(
        id=raw["id"],
        display_name=raw["displayName"],
        mail_nickname=raw["mailNickname"],
        description=raw.get("description"),
        is_assignable_to_role=bool(raw.get("isAssignableToRole", False)),
        members=tuple(raw.get("members") or ()),
    )


def _schedule(raw: dict[str, Any]) -> SeedSchedule:
    duration, unit = raw.get("duration"), raw.get("scope")
    return SeedSchedule(
        raw["principal"],
        raw["role"],
        parse_duration(duration) if duration else None,
        f"{AU_SCOPE_PREFIX}{unit}" if unit else TENANT_SCOPE,
    )


_SETTING_KEYS: dict[str, str] = {
    "activationMaxDuration": "activation_max",
    "activationRules": "activation_rules",
    "approvalRequired": "approval_required",
    "approvers": "approvers",
    "adminAssignmentMaxDuration": "admin_max",
    "adminAssignmentExpirationRequired": "admin_expiration_required",
    "adminAssignmentRules": "admin_rules",
    "eligibilityMaxDuration": "eligibility_max",
    "eligibilityExpirationRequired": "eligibility_expiration_required",
    "authenticationContext": "auth_context",
}


def _settings(raw: dict[str, Any], base: RoleSettings | None = None) -> RoleSettings:
    values: dict[str, Any] = {}
    for key, value in raw.items():
        name = _SETTING_KEYS[key]  # a typo in the seed fails loudly here
        if name.endswith("_max"):
            value = parse_duration(value)
        elif isinstance(value, list):
            value = tuple(value)
        values[name] = value
    return replace(base, **values) if base else RoleSettings(**values)


def _check_references(seed: Seed) -> None:
    """Cross-references resolve, and the seed obeys Entra's rules for role-assignable
    groups (https://learn.microsoft.com/en-us/entra/identity/role-based-access-control/
    groups-concept): "Only groups that have the isAssignableToRole property set to true
    at creation time can be assigned a role", and "Group nesting isn't supported. A group
    can't be added as a member of a role-assignable group"."""
    users = {u.id for u in seed.users}
    groups = {g.id for g in seed.groups}
    assignable = {g.id for g in seed.groups if g.is_assignable_to_role}
    roles = {r.id for r in seed.roles}
    scopes = {TENANT_SCOPE} | {u.scope for u in seed.administrative_units}
    for group in seed.groups:
        unknown = set(group.members) - users - groups
        if unknown:
            raise ValueError(f"group {group.display_name}: unknown members {sorted(unknown)}")
        if group.is_assignable_to_role and set(group.members) & groups:
            raise ValueError(
                f"group {group.display_name} is role-assignable: it cannot have groups as members"
            )
    for item in seed.eligibilities + seed.assignments:
        if item.principal_id not in users | groups or item.role_id not in roles:
            raise ValueError(f"seed schedule refers to unknown ids: {item}")
        if item.principal_id in groups - assignable:
            raise ValueError(f"only role-assignable groups can hold roles: {item}")
        if item.scope not in scopes:
            raise ValueError(f"seed schedule names an unknown administrative unit: {item}")
    for role_id, settings in seed.settings.items():
        if role_id not in roles or set(settings.approvers) - users:
            raise ValueError(f"policy for {role_id} refers to unknown ids")
