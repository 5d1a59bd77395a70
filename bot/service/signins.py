"""Signed-in-user mode as the use cases see it: sign-ins, and the work kept for them.

The sign-in adapter (`bot.signin`) implements `SignIns`; the store implements `KeptStore`.
Nothing here knows MSAL, HTTP or SQL.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class DeviceCodePrompt:
    """What to DM the user: the code, where to enter it, and until when it works."""

    user_code: str
    verification_uri: str
    message: str
    expires_at: datetime
    step_up: bool = False  # True when this sign-in answers a claims challenge


class LoginResult(StrEnum):
    LINKED = "linked"  # signed in as the right account; tokens stored
    MISMATCH = "mismatch"  # signed in as someone else: refused and audited
    EXPIRED = "expired"  # the code ran out (or was declined) before sign-in
    CANCELLED = "cancelled"  # superseded by a newer /pim login, or logout / shutdown
    FAILED = "failed"  # the login service failed


@dataclass(frozen=True, slots=True)
class LoginOutcome:
    """How a device-code login ended; `message` is fit to DM the user as-is."""

    slack_user_id: str
    result: LoginResult
    message: str
    display_name: str | None = None
    user_principal_name: str | None = None
    step_up: bool = False  # a step-up login: the caller resumes the request it kept


@dataclass(frozen=True, slots=True)
class LinkState:
    """Whether a Slack user is signed in, and as whom (for the App Home)."""

    slack_user_id: str
    linked: bool
    display_name: str | None = None
    user_principal_name: str | None = None
    entra_user_id: str | None = None
    linked_at: datetime | None = None
    pending: bool = False  # a /pim login is waiting for the user to enter the code


@dataclass(frozen=True, slots=True)
class KeptItem:
    """A command kept until `slack_user_id` is signed in; one per (user, kind, ref), so
    a second click on the same card replaces the first."""

    slack_user_id: str
    kind: str  # "activation", "decision", "request" or "command"
    ref: str
    data: dict[str, Any] = field(default_factory=dict)  # the encoded command
    created_at: datetime | None = None


class SignIns(Protocol):
    """Device-code sign-ins per chat user; finished ones come out of `next_finished`."""

    async def start(self, slack_user_id: str, *, claims: str | None = None) -> DeviceCodePrompt:
        """Begin a sign-in (asking for `claims` after a step-up challenge); UserNotMapped
        if there is nothing to map the user by."""
        ...

    def state(self, slack_user_id: str) -> LinkState: ...

    def logout(self, slack_user_id: str) -> bool:
        """Forget the user's tokens; True if they had any."""
        ...

    async def next_finished(self) -> LoginOutcome:
        """Wait for the next sign-in that ended (linked, refused, expired or failed)."""
        ...

    async def resume(self) -> int:
        """After a restart: poll again for each sign-in whose code still works."""
        ...

    async def check(self) -> None:
        """Is Entra's sign-in service answering? (GraphUnavailable if not.)"""
        ...

    async def aclose(self) -> None: ...


class KeptStore(Protocol):
    """Kept commands, persisted so a restart between the click and the sign-in loses none."""

    def keep(self, item: KeptItem, at: datetime) -> None: ...

    def waiting(self, slack_user_id: str) -> list[KeptItem]: ...

    def kept_before(self, cutoff: datetime) -> list[KeptItem]: ...

    def drop(self, slack_user_id: str, kind: str, ref: str) -> None: ...
