"""Run the work that follows an ack and always tell the user something: the result, the
`PimError`'s own message, or a generic line with a reference that is logged with the trace."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Awaitable, Callable
from typing import Any

from bot.errors import PimError
from bot.service.ports import Notifier
from handlers import blocks

log = logging.getLogger("handlers")

Reply = Callable[[blocks.Message], Awaitable[Any]]


def new_ref() -> str:
    """A short reference the user can quote and we can grep for in the logs."""
    return secrets.token_hex(4).upper()


async def guarded(reply: Reply, work: Callable[[], Awaitable[blocks.Message]]) -> bool:
    """`reply(await work())`; on failure reply with a safe message. True if it succeeded."""
    try:
        msg = await work()
    except PimError as exc:
        await _safely(reply, blocks.error(exc.user_message))
        return False
    except Exception:  # noqa: BLE001 - the user gets a ref; the trace goes to the log
        ref = new_ref()
        log.exception("request failed (ref %s)", ref)
        await _safely(reply, blocks.internal_error(ref))
        return False
    await _safely(reply, msg)
    return True


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


def to_dm(notifier: Notifier, slack_user_id: str) -> Reply:
    """Reply by DM: for modal submissions and buttons, which have no ephemeral line to replace."""

    async def reply(msg: blocks.Message) -> None:
        await notifier.send_dm(slack_user_id, msg["text"], msg["blocks"])

    return reply


async def dm(notifier: Notifier, slack_user_id: str, msg: blocks.Message) -> None:
    """Also send the outcome as a DM; a failed DM must not hide the outcome already shown."""
    try:
        await notifier.send_dm(slack_user_id, msg["text"], msg["blocks"])
    except Exception:  # noqa: BLE001 - the ephemeral reply carried the outcome already
        log.warning("could not DM %s the outcome", slack_user_id, exc_info=True)
