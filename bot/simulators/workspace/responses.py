"""`response_url`s: where the bot answers a slash command or an interaction.

An interaction's URL remembers its "original" message, the clicked one, which
`replace_original` / `delete_original` change. A slash command has no original message:
neither its ack nor anything posted through its URL can be replaced or deleted later, so
`replace_original` posts a new message, as in Slack (slackapi/bolt-js#2287,
slackapi/bolt-python#1268, slackapi/java-slack-sdk#951: "the ones posted by ack() cannot
be updated")."""

from __future__ import annotations

import asyncio
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from bot.simulators.workspace.conversations import Conversations
from bot.simulators.workspace.delivery import ACK_TIMEOUT
from bot.simulators.workspace.limits import blocks_too_long, check_blocks
from bot.simulators.workspace.state import ApiError

URL_TTL = 30 * 60  # seconds; Slack's response_url lives 30 minutes
URL_USES = 5  # and answers at most five times


@dataclass
class ResponseTarget:
    user: str
    channel: str
    original_ts: str | None
    issued: float
    uses: int = 0
    echo_ts: str | None = None  # the typed command, shown to all on an in_channel answer
    command: bool = False  # a slash command's URL: no message of it is ever "original"
    # Set once the ack is applied. Bolt answers through the URL while the ack is still on
    # its way back to us; holding those answers keeps "working on it…" before the outcome.
    acked: asyncio.Event = field(default_factory=asyncio.Event)


class ResponseUrls:
    def __init__(self, conversations: Conversations) -> None:
        self._conversations = conversations
        self._targets: dict[str, ResponseTarget] = {}

    def issue(
        self,
        user: str,
        channel: str,
        original_ts: str | None = None,
        *,
        awaiting_ack: bool = False,
        echo_ts: str | None = None,
    ) -> str:
        """A new URL; with `awaiting_ack`, answers wait for `settle` (or a timeout)."""
        token = secrets.token_urlsafe(18)
        now = time.monotonic()
        self._targets = {k: t for k, t in self._targets.items() if now - t.issued <= URL_TTL}
        target = ResponseTarget(
            user, channel, original_ts, now, echo_ts=echo_ts, command=echo_ts is not None
        )  # only a slash command echoes what was typed
        if not awaiting_ack:
            target.acked.set()
        self._targets[token] = target
        return token

    def settle(self, token: str) -> None:
        """The ack for this URL's request has been applied (or will never come)."""
        self._targets[token].acked.set()

    async def answer(self, token: str, body: dict[str, Any]) -> None:
        """Apply a body POSTed to `/response/{token}`."""
        target = self._targets.get(token)
        if target is None:
            raise ApiError("invalid_url")
        try:
            await asyncio.wait_for(target.acked.wait(), ACK_TIMEOUT + 1)
        except TimeoutError:
            pass  # the delivery gave up; answer anyway, as Slack would
        if time.monotonic() - target.issued > URL_TTL:
            raise ApiError("expired_url")
        if target.uses >= URL_USES:
            raise ApiError("used_url")
        problems = check_blocks(body.get("blocks"), "message")
        if problems:
            raise ApiError("invalid_blocks", problems)
        if blocks_too_long(body.get("blocks")):
            raise ApiError("msg_blocks_too_long")
        target.uses += 1
        self.apply(target, body)

    def apply_ack(self, token: str, body: dict[str, Any]) -> None:
        """A slash command's ack body answers like its response_url, without using it up."""
        self.apply(self._targets[token], body)

    def apply(self, target: ResponseTarget, body: dict[str, Any]) -> None:
        convs, original = self._conversations, target.original_ts
        if body.get("delete_original"):
            if original is not None:
                convs.delete(target.channel, original)
            target.original_ts = None
            return
        text, blocks = str(body.get("text") or ""), body.get("blocks")
        if not text and not blocks:
            return
        if _truthy(body.get("replace_original")) and original is not None:
            if convs.update(target.channel, original, text, blocks) is not None:
                return
        in_channel = body.get("response_type") == "in_channel"
        if in_channel and target.echo_ts is not None:
            convs.reveal(target.channel, target.echo_ts)
            target.echo_ts = None
        message = convs.post(
            target.channel,
            convs.seed.bot_user_id,
            text,
            blocks,
            ephemeral_for=None if in_channel else target.user,
        )
        if target.original_ts is None and not target.command:
            target.original_ts = message.ts


def _truthy(value: Any) -> bool:
    return value is True or str(value).lower() == "true"
