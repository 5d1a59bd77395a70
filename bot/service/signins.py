"""Signed-in-user mode as the use cases see it: sign-ins, and the work kept for them.

The sign-in adapter (`bot.signin`) implements `SignIns`; the store implements `KeptStore`.
Nothing here knows MSAL, HTTP or SQL.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from bot.domain.people import PersonKey
from bot.errors import PimError


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

    person: PersonKey
    result: LoginResult
    message: str
    display_name: str | None = None
    user_principal_name: str | None = None
    step_up: bool = False  # a step-up login: the caller resumes the request it kept


@dataclass(frozen=True, slots=True)
class LinkState:
    """Whether a person is signed in, and as whom (for the App Home)."""

    person: PersonKey
    linked: bool
    display_name: str | None = None
    user_principal_name: str | None = None
    entra_user_id: str | None = None
    linked_at: datetime | None = None
    pending: bool = False  # a /pim login is waiting for the user to enter the code


@dataclass(frozen=True, slots=True)
class KeptItem:
    """A command kept until `person` is signed in; one per (user, kind, ref), so
    a second click on the same card replaces the first."""

    person: PersonKey
    kind: str  # "activation", "decision", "request" or "command"
    ref: str
    data: dict[str, Any] = field(default_factory=dict)  # the encoded command
    created_at: datetime | None = None


class SignIns(Protocol):
    """Device-code sign-ins per chat user; finished ones come out of `next_finished`."""

    async def start(self, person: PersonKey, *, claims: str | None = None) -> DeviceCodePrompt:
        """Begin a sign-in (asking for `claims` after a step-up challenge); UserNotMapped
        if there is nothing to map the user by."""
        ...

    def state(self, person: PersonKey) -> LinkState: ...

    def logout(self, person: PersonKey) -> bool:
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

    def waiting(self, person: PersonKey) -> list[KeptItem]: ...

    def kept_before(self, cutoff: datetime) -> list[KeptItem]: ...

    def drop(self, person: PersonKey, kind: str, ref: str) -> None: ...


EXPIRED_MESSAGE = (
    "Your Microsoft Entra sign-in has expired or was revoked. Run `/pim login` to sign in "
    "again; your request is kept and goes ahead once you have."
)


class SignInRequired(PimError):
    """The user has no tokens, or their refresh token expired or was revoked."""

    def __init__(self, person: PersonKey, user_message: str | None = None) -> None:
        super().__init__(
            user_message or "You need to sign in to Microsoft Entra first: run `/pim login`."
        )
        self.person = person
        self.request_id: str | None = None  # set when a stored request waits on this


class StepUpRequired(PimError):
    """Graph answered a claims challenge; `claims` is the JSON claims request to sign in
    with (e.g. `{"access_token":{"acrs":{"essential":true,"value":"c1"}}}`)."""

    def __init__(self, claims: str, person: PersonKey | None = None) -> None:
        super().__init__(
            "This role needs a stronger sign-in (for example multi-factor authentication). "
            "I'll send you a sign-in code; your request goes ahead once you have used it."
        )
        self.claims = claims
        self.person = person
        self.request_id: str | None = None  # set when a stored request waits on this
