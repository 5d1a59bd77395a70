"""The typed commands `/pim` text parses into (see `bot.domain.commands`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import TypeAlias


@dataclass(frozen=True, slots=True)
class Activate:
    role: str
    duration: timedelta
    ticket: str | None
    justification: str


@dataclass(frozen=True, slots=True)
class OpenActivationForm:
    """`/pim`, or `activate` with pieces missing: the form opens with what was given."""

    role: str | None = None
    duration: timedelta | None = None
    ticket: str | None = None
    justification: str | None = None


@dataclass(frozen=True, slots=True)
class ListRoles:
    pass


@dataclass(frozen=True, slots=True)
class Status:
    role: str | None = None


@dataclass(frozen=True, slots=True)
class Deactivate:
    role: str


@dataclass(frozen=True, slots=True)
class Extend:
    role: str
    duration: timedelta


@dataclass(frozen=True, slots=True)
class Cancel:
    request_id: str


@dataclass(frozen=True, slots=True)
class Login:
    """`/pim login`: link the Slack user to their Entra account (signed-in-user mode)."""


@dataclass(frozen=True, slots=True)
class Logout:
    """`/pim logout`: forget the user's Entra tokens."""


@dataclass(frozen=True, slots=True)
class Help:
    """`reason` says why help is shown unasked (an unknown sub-command)."""

    topic: str | None = None
    reason: str | None = None


Command: TypeAlias = (
    Activate
    | OpenActivationForm
    | ListRoles
    | Status
    | Deactivate
    | Extend
    | Cancel
    | Login
    | Logout
    | Help
)
