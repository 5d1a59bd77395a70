"""`PIM_SANDBOX=1` with real Slack: every reply says, visibly, that it comes from the
embedded sandbox tenant, so nobody mistakes a demo activation for a real one. The mark is
added where messages leave the bot: the ack, `respond`, and the outbox's posts and DMs."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from slack_bolt.async_app import AsyncApp, AsyncBoltRequest
from slack_bolt.response import BoltResponse

from handlers.blocks.base import Message
from handlers.early_ack import EarlyAck, on_response_of

PREFIX = "[sandbox tenant] "
BLOCK_ID = "sandbox_mark"
NOTE = (
    ":test_tube: *Sandbox tenant* — pimbot runs on its built-in demo tenant "
    "(`PIM_SANDBOX=1`), not your Microsoft Entra tenant: nothing here is real."
)


def mark(msg: Message) -> Message:
    """The message with the note as its last block and the prefix on its text."""
    text = str(msg.get("text") or "")
    out = {**msg, "text": text if text.startswith(PREFIX) else PREFIX + text}
    blocks = list(msg.get("blocks") or [])
    if blocks and blocks[-1].get("block_id") != BLOCK_ID:
        note = {
            "type": "context",
            "block_id": BLOCK_ID,
            "elements": [{"type": "mrkdwn", "text": NOTE}],
        }
        out["blocks"] = [*blocks[:49], note]
    return out


class _MarkedAck(EarlyAck):
    """An `EarlyAck`, so HTTP mode still answers at the ack (handlers/early_ack.py)."""

    async def __call__(  # type: ignore[override]
        self,
        text: str | dict[str, Any] = "",
        blocks: Sequence[dict[str, Any]] | None = None,
        **kwargs: Any,
    ) -> BoltResponse:
        if isinstance(text, str) and (text or blocks):
            marked = mark({"text": text, "blocks": list(blocks or [])})
            text, blocks = marked["text"], marked.get("blocks") or None
        return await super().__call__(text, blocks, **kwargs)


class _MarkedRespond:
    def __init__(self, respond: Callable[..., Awaitable[Any]]) -> None:
        self._respond = respond

    async def __call__(self, text: str = "", blocks: Any = None, **kwargs: Any) -> Any:
        marked = mark({"text": text, "blocks": list(blocks or [])})
        return await self._respond(marked["text"], marked.get("blocks") or None, **kwargs)


def install(app: AsyncApp) -> None:
    """Mark every ack and `respond` of `app`'s listeners."""

    @app.middleware
    async def marked_replies(
        req: AsyncBoltRequest, resp: BoltResponse, next: Callable[[], Awaitable[Any]]
    ) -> Any:
        req.context["ack"] = _MarkedAck(on_response_of(req.context.ack))
        if req.context.respond is not None:
            req.context["respond"] = _MarkedRespond(req.context.respond)
        return await next()
