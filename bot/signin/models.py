"""What the sign-in layer hands the Slack layer: prompts, outcomes, link state."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol


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


class LoginListener(Protocol):
    """Told when a background login finishes (the Slack layer DMs the outcome)."""

    async def login_finished(self, outcome: LoginOutcome) -> None: ...


class NoListener:
    async def login_finished(self, outcome: LoginOutcome) -> None:
        return None
