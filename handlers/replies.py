"""Run the work that follows an ack and always tell the user something: the result, the
`PimError`'s own message, or a generic line with a reference that is logged with the trace."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Awaitable, Callable
from typing import Any, Protocol, TypeVar

from bot.domain.people import PersonKey
from bot.errors import PimError
from bot.service.approvals import AlreadyDecided
from handlers import blocks
from handlers.blocks.base import mention, when
from handlers.blocks.literal import escape

log = logging.getLogger("handlers")

Reply = Callable[[blocks.Message], Awaitable[Any]]
T = TypeVar("T")


class DirectMessages(Protocol):
    """Sends a DM (`handlers.notify.SlackNotifier`)."""

    async def send_dm(
        self, person: PersonKey, text: str, blocks: list[dict[str, Any]] | None = None
    ) -> None: ...


def new_ref() -> str:
    """A short reference the user can quote and we can grep for in the logs."""
    return secrets.token_hex(4).upper()


async def guarded(reply: Reply, work: Callable[[], Awaitable[blocks.Message]]) -> bool:
    """`reply(await work())`; on failure reply with a safe message. True if it succeeded."""
    try:
        msg = await work()
    except PimError as exc:
        await _safely(reply, _refusal(exc))
        return False
    except Exception:  # noqa: BLE001 - the user gets a ref; the trace goes to the log
        ref = new_ref()
        log.exception("request failed (ref %s)", ref)
        await _safely(reply, blocks.internal_error(ref))
        return False
    await _safely(reply, msg)
    return True


def _refusal(exc: PimError) -> blocks.Message:
    if isinstance(exc, AlreadyDecided) and exc.decided_by:
        at = f" at {when(exc.decided_at)}" if exc.decided_at else ""
        who = mention(exc.decided_by)
        return blocks.error(f"Request `{exc.request_id}` was already {exc.state} by {who}{at}.")
    # The core's words may quote what the user typed (a role, a request id): no tags.
    return blocks.error(escape(exc.user_message))


async def _safely(reply: Reply, msg: blocks.Message) -> None:
    try:
        await reply(msg)
    except Exception:  # noqa: BLE001 - Slack itself failed: nowhere left to tell the user
        log.exception("could not deliver a reply to Slack")


def ephemeral(respond: Callable[..., Awaitable[Any]], fallback: Reply | None = None) -> Reply:
    """Replace the "Working on it…" line through the command's response_url; if Slack
    refuses it (expired after 30 min or 5 uses: 404 `expired_url`/`used_url`), use
    `fallback` (a DM) so the user still hears the outcome."""

    async def reply(msg: blocks.Message) -> None:
        sent = await respond(response_type="ephemeral", replace_original=True, **msg)
        status = getattr(sent, "status_code", 200)
        if status != 200 and fallback is not None:
            log.warning("response_url refused (%s); replying by DM", status)
            await fallback(msg)

    return reply


def to_dm(notifier: DirectMessages, person: PersonKey) -> Reply:
    """Reply by DM: for modal submissions and buttons, which have no ephemeral line to replace."""

    async def reply(msg: blocks.Message) -> None:
        await notifier.send_dm(person, msg["text"], msg["blocks"])

    return reply


async def dm(notifier: DirectMessages, person: PersonKey, msg: blocks.Message) -> None:
    """Also send the outcome as a DM; a failed DM must not hide the outcome already shown."""
    try:
        await notifier.send_dm(person, msg["text"], msg["blocks"])
    except Exception:  # noqa: BLE001 - the ephemeral reply carried the outcome already
        log.warning("could not DM %s the outcome", person, exc_info=True)


def expect(kind: type[T], result: object) -> T:
    """The result a command is known to give (anything else is a bug, shown with a ref)."""
    if not isinstance(result, kind):
        raise TypeError(f"expected {kind.__name__}, got {type(result).__name__}")
    return result
