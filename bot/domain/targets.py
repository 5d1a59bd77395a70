"""What an activation is for: a `Target` — a kind, a role and the `Scope` it applies at.

A scope is Graph's `directoryScopeId` as read from the eligibility: `/` is the whole
tenant, `/administrativeUnits/{id}` one administrative unit. It is never assumed: an
activation is made at the scope of the eligibility it comes from, never wider.
(https://learn.microsoft.com/en-us/graph/api/resources/unifiedroleeligibilityscheduleinstance,
https://learn.microsoft.com/en-us/graph/api/rbacapplication-post-roleassignments lists the
formats.)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from bot.errors import InputError

TENANT_WIDE_ID = "/"  # only ever compared with; the scope itself always comes from Graph
AU_PREFIX = "/administrativeUnits/"


class TargetKind(StrEnum):
    """What is activated. Each kind has its own Graph surface; today pimbot activates Entra
    directory roles (`roleManagement/directory`). PIM for Groups membership and ownership
    and Azure resource roles are further members here, not new types."""

    DIRECTORY_ROLE = "directory_role"


@dataclass(frozen=True, slots=True)
class Role:
    """A directory role: `id` is the role definition (template) id Graph uses."""

    id: str
    display_name: str
    alias: str | None = None

    @property
    def label(self) -> str:
        return self.display_name


@dataclass(frozen=True, slots=True)
class Scope:
    """Where a target applies: `id` is the `directoryScopeId`; the display name (of an
    administrative unit) is a label only, so two scopes are equal when their ids are."""

    id: str
    display_name: str | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if not self.id.startswith("/"):
            raise ValueError(f"a directoryScopeId starts with '/', not {self.id!r}")

    @property
    def is_tenant_wide(self) -> bool:
        return self.id == TENANT_WIDE_ID

    @property
    def administrative_unit_id(self) -> str | None:
        """The unit's object id for `/administrativeUnits/{id}`; None for other scopes."""
        if not self.id.startswith(AU_PREFIX):
            return None
        return self.id.removeprefix(AU_PREFIX) or None

    @property
    def label(self) -> str:
        """What people read: `Whole directory`; `administrative unit Paris Office` (its
        object id when the name is unknown); any other scope by its name or raw id."""
        if self.is_tenant_wide:
            return "Whole directory"
        unit = self.administrative_unit_id
        if unit is not None:
            return f"administrative unit {self.display_name or unit}"
        return self.display_name or self.id

    def named(self, display_name: str | None) -> Scope:
        return Scope(self.id, display_name)


@dataclass(frozen=True, slots=True)
class Target:
    """One thing a user can activate: `role` (its id is what Graph's roleDefinitionId
    names) of `kind`, at `scope`."""

    kind: TargetKind
    role: Role
    scope: Scope

    @property
    def key(self) -> tuple[str, str, str]:
        """Identity for matching: kind, role id and scope id (names and aliases aside)."""
        return self.kind.value, self.role.id.lower(), self.scope.id

    @property
    def label(self) -> str:
        """`User Administrator (Paris Office)`: the role and where it applies."""
        return f"{self.role.display_name} ({self.scope.label})"


def split_scope(role_text: str) -> tuple[str, str | None]:
    """`helpdesk-admin@paris` -> (`helpdesk-admin`, `paris`): the role as typed, and what
    follows its last `@`, which picks a scope (None when there is none)."""
    role, at, hint = role_text.rpartition("@")
    if not at or not role.strip():
        return role_text, None
    return role.strip(), hint.strip() or None


def pick_scope(scopes: Sequence[Scope], hint: str, role_name: str) -> Scope:
    """The one scope `hint` names: an administrative unit by a case-insensitive prefix of its
    display name or by its id (object id or full directoryScopeId), the whole directory by
    `/` or a prefix of "Whole directory". None or several: an InputError listing them."""
    wanted = hint.casefold()
    exact = [
        s
        for s in scopes
        if wanted in (s.id.casefold(), (s.administrative_unit_id or "").casefold())
    ]
    named = [s for s in scopes if _name_of(s).casefold().startswith(wanted)]
    found = exact or named
    if len(found) == 1:
        return found[0]
    listed = "; ".join(f"`@{scope_shorthand(s)}` ({s.label})" for s in scopes)
    if not found:
        raise InputError(f"{role_name} has no scope `{hint}` for you. Yours: {listed}.")
    raise InputError(f"`@{hint}` names more than one scope of {role_name}: {listed}.")


def _name_of(scope: Scope) -> str:
    if scope.is_tenant_wide:
        return "Whole directory"
    return scope.display_name or scope.administrative_unit_id or scope.id


def scope_shorthand(scope: Scope) -> str:
    """What to type after `@` for this scope: its name's first word, lower-cased."""
    if scope.is_tenant_wide:
        return "/"
    name = scope.display_name
    return name.split()[0].lower() if name else (scope.administrative_unit_id or scope.id)
