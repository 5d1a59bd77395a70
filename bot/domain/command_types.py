"""The typed commands `/pim` text parses into (see `bot.domain.commands`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
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
    """`/pim extend <role> <duration> [ticket] [justification…]`: with neither, the
    activation's own justification and ticket are kept."""

    role: str
    duration: timedelta
    ticket: str | None = None
    justification: str = ""


@dataclass(frozen=True, slots=True)
class Cancel:
    request_id: str


@dataclass(frozen=True, slots=True)
class ExtendRequest:
    """The reminder's Extend: lengthen the activation of one of the user's requests.
    `from_end` is the end the reminder showed: the extension applies once from there."""

    request_id: str
    duration: timedelta
    from_end: datetime | None = None


@dataclass(frozen=True, slots=True)
class DeactivateRequest:
    """The reminder's Deactivate now: end the activation of one of the user's requests."""

    request_id: str


@dataclass(frozen=True, slots=True)
class Approve:
    """An approver's Approve on a request card; `duration`: "Approve for…" a shorter
    one than asked (None: as asked). The service re-checks it against the request."""

    request_id: str
    duration: timedelta | None = None


@dataclass(frozen=True, slots=True)
class Deny:
    """An approver's Deny on a request card, with the reason the requester is shown."""

    request_id: str
    reason: str


@dataclass(frozen=True, slots=True)
class BreakGlass:
    """`/pim breakglass <role> <duration> [ticket] <reason>`: activate an emergency role at
    once; its approvers ratify or revoke it afterwards."""

    role: str
    duration: timedelta
    ticket: str | None
    justification: str


@dataclass(frozen=True, slots=True)
class Ratify:
    """An approver's Ratify on a break-glass alert."""

    request_id: str


@dataclass(frozen=True, slots=True)
class Revoke:
    """An approver's Revoke on a break-glass alert: the activation ends."""

    request_id: str


@dataclass(frozen=True, slots=True)
class ResumeRequest:
    """Go on with a stored request that waited for its requester to sign in again."""

    request_id: str


@dataclass(frozen=True, slots=True)
class Login:
    """`/pim login`: link the Slack user to their Entra account (signed-in-user mode)."""


@dataclass(frozen=True, slots=True)
class Logout:
    """`/pim logout`: forget the user's Entra tokens."""


@dataclass(frozen=True, slots=True)
class Approvals:
    """`/pim approvals`: the requests waiting for the caller's decision."""


@dataclass(frozen=True, slots=True)
class Who:
    """`/pim who`: every active elevation (approvers and viewers), else one's own."""


@dataclass(frozen=True, slots=True)
class History:
    """`/pim history [@user] [role]`: the last activations; `user` is the chat's user id
    of someone else (approvers and viewers only)."""

    user: str | None = None
    role: str | None = None


@dataclass(frozen=True, slots=True)
class Help:
    """`/pim help [topic]`, or help shown unasked: `unknown` is a sub-command nobody knows
    (as typed), `suggestion` the known one it most resembles, if any."""

    topic: str | None = None
    unknown: str | None = None
    suggestion: str | None = None


Command: TypeAlias = (
    Activate
    | OpenActivationForm
    | ListRoles
    | Status
    | Deactivate
    | Extend
    | Cancel
    | ExtendRequest
    | DeactivateRequest
    | Approve
    | Deny
    | BreakGlass
    | Ratify
    | Revoke
    | ResumeRequest
    | Login
    | Logout
    | Who
    | History
    | Help
    | Approvals
)
