"""What an activation is for: a `Target` — a kind, a role and the `Scope` it applies at.

A scope is Graph's `directoryScopeId` as read from the eligibility: `/` is the whole
tenant, `/administrativeUnits/{id}` one administrative unit. It is never assumed: an
activation is made at the scope of the eligibility it comes from, never wider.
(https://learn.microsoft.com/en-us/graph/api/resources/unifiedroleeligibilityscheduleinstance,
https://learn.microsoft.com/en-us/graph/api/rbacapplication-post-roleassignments lists the
formats.)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

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
