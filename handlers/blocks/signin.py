"""Messages of signed-in-user mode: the code, how a sign-in ended, what was kept and replayed."""

from __future__ import annotations

from bot.domain.command_types import Approve, Deny, ResumeRequest
from bot.service.outcomes import (
    Decision,
    Dropped,
    NotInUserMode,
    Outcome,
    Replayed,
    Result,
    SignedOut,
    SignInStarted,
)
from bot.service.signins import DeviceCodePrompt, LoginOutcome, LoginResult
from handlers.blocks.base import Message, inline, message, when
from handlers.blocks.replies import error, outcome

APP_MODE = (
    "This pimbot acts with its own application identity, so there is nothing to sign in "
    "to: just `/pim activate`."
)


def prompt_text(prompt: DeviceCodePrompt, tz: str | None = None) -> str:
    """The DM with the code; its expiry in the user's Slack time zone, like every other
    time the bot shows them."""
    why = (
        "Sign in to Microsoft Entra again with a stronger method (for example MFA)"
        if prompt.step_up
        else "Sign in to Microsoft Entra"
    )
    return (
        f":key: *{why}*: open <{prompt.verification_uri}> and enter the code "
        f"`{prompt.user_code}` (valid until {when(prompt.expires_at, tz)}). "
        "Only use a code you asked for: pimbot never asks for your password."
    )


def signed_in(done: LoginOutcome) -> Message:
    if done.result is LoginResult.LINKED and done.display_name:  # a name from Entra: inline
        name = inline(done.display_name)
        return message(f":white_check_mark: You're signed in to Microsoft Entra as *{name}*.")
    icon = ":white_check_mark:" if done.result is LoginResult.LINKED else ":warning:"
    return message(f"{icon} {done.message}")


def sign_in_reply(result: Result) -> Message:
    """`/pim login`, `/pim logout` and the Home's Sign in button."""
    if isinstance(result, NotInUserMode):
        return message(APP_MODE)
    if isinstance(result, SignInStarted):
        return message(
            "I've sent you a sign-in code by direct message. Sign in as your own "
            "Microsoft Entra account; I'll confirm here when you're done."
        )
    if isinstance(result, SignedOut) and result.had_tokens:
        return message("Signed out: I've forgotten your Microsoft Entra tokens.")
    return message("You weren't signed in. `/pim login` signs you in.")


def replayed(done: Replayed) -> Message:
    """What became of one command kept until the user signed in."""
    if isinstance(done.result, Outcome):
        return outcome(done.result)
    if isinstance(done.result, Decision):
        verb = "approved" if done.result.approved else "denied"
        return message(f"You {verb} `{done.result.record.id}` (kept until you signed in).")
    return error(done.error or "That could not be done.")


def dropped(gone: Dropped) -> Message:
    """Kept work given up on: the user had not signed in within the hour."""
    command = gone.command
    if isinstance(command, Approve | Deny):
        verb = "approval" if isinstance(command, Approve) else "denial"
        return message(
            f":hourglass: Your {verb} of `{command.request_id}` was not applied: you hadn't "
            "signed in to Microsoft Entra within an hour. Click again once you're signed in."
        )
    if isinstance(command, ResumeRequest):
        role = gone.record.role_name if gone.record else None
        what = f"`{command.request_id}`" + (f" for *{inline(role)}*" if role else "")
    else:
        role = getattr(command, "role", "")
        what = f"to activate *{inline(role)}*" if role else "you asked for"  # as typed
    return message(
        f":hourglass: I dropped your request {what}: you hadn't signed in to Microsoft "
        "Entra within an hour. Ask again once you're signed in (`/pim login`)."
    )
