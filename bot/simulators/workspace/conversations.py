"""Channels, DMs with the bot, and their messages (ephemeral ones included)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from bot.simulators.workspace.blocks import Block, normalise
from bot.simulators.workspace.seed import WorkspaceSeed
from bot.simulators.workspace.state import Changes, WorkspaceClock

# "command" echoes a typed slash command to its author, "system" is Slackbot's word
# (e.g. the bot did not answer in time): both only for the page, never for the bot.
MessageKind = Literal["message", "command", "system"]
SLACKBOT = "USLACKBOT"  # the author of "system" messages


@dataclass
class Channel:
    id: str
    name: str
    is_im: bool = False
    user: str | None = None  # the person in a DM with the bot
    topic: str = ""
    bot_member: bool = True  # DMs with the bot always; channels once invited
    is_private: bool = False

    def api(self) -> dict[str, Any]:
        shape: dict[str, Any] = {"id": self.id, "created": 0, "is_archived": False}
        if self.is_im:
            return shape | {"is_im": True, "user": self.user, "is_open": True}
        return shape | {
            "name": self.name,
            "is_channel": not self.is_private,
            "is_group": self.is_private,
            "is_private": self.is_private,
            "is_member": self.bot_member,
            "topic": {"value": self.topic},
            "purpose": {"value": self.topic},
        }


@dataclass
class Message:
    ts: str
    channel: str
    user: str
    text: str
    blocks: list[Block] = field(default_factory=list)
    ephemeral_for: str | None = None
    bot_id: str | None = None
    kind: MessageKind = "message"
    thread_ts: str | None = None  # a reply: the ts of the message it is under

    def api(self) -> dict[str, Any]:
        shape: dict[str, Any] = {
            "type": "message",
            "ts": self.ts,
            "user": self.user,
            "text": self.text,
        }
        if self.blocks:
            shape["blocks"] = self.blocks
        if self.bot_id:
            shape |= {"bot_id": self.bot_id, "app_id": None}
        if self.thread_ts:
            shape["thread_ts"] = self.thread_ts
        return shape


class Conversations:
    def __init__(self, seed: WorkspaceSeed, changes: Changes, clock: WorkspaceClock) -> None:
        self.seed, self._changes, self._clock = seed, changes, clock
        self.channels: dict[str, Channel] = {
            c.id: Channel(
                c.id, c.name, topic=c.topic, bot_member=c.bot_member, is_private=c.is_private
            )
            for c in seed.channels
        }
        self.messages: dict[str, list[Message]] = {c: [] for c in self.channels}
        for user in seed.users:  # every person has a DM with the bot from the start
            self.dm_for(user.id)

    def dm_for(self, user_id: str) -> Channel:
        channel_id = f"D_{user_id.removeprefix('U_')}"
        with self._changes.lock:
            if channel_id not in self.channels:
                self.channels[channel_id] = Channel(channel_id, "pimbot", True, user_id)
                self.messages[channel_id] = []
            return self.channels[channel_id]

    def resolve(self, ref: str) -> Channel | None:
        """A channel by id or name (`#name` or `name`), or a person's DM by user id:
        the forms `chat.postMessage` accepts."""
        if ref in self.channels:
            return self.channels[ref]
        if self.seed.user(ref) is not None:
            return self.dm_for(ref)
        name = ref.removeprefix("#")
        return next((c for c in self.channels.values() if c.name == name and not c.is_im), None)

    def invite_bot(self, channel: Channel) -> bool:
        """Add the bot to `channel`; False if it was already a member."""
        with self._changes.mutate():
            joined, channel.bot_member = not channel.bot_member, True
        return joined

    def visible_to(self, user_id: str) -> list[Channel]:
        return [c for c in self.channels.values() if not c.is_im or c.user == user_id]

    def post(
        self,
        channel: str,
        user: str,
        text: str,
        blocks: Any = None,
        *,
        ephemeral_for: str | None = None,
        bot: bool = True,
        kind: MessageKind = "message",
        thread_ts: str | None = None,
    ) -> Message:
        message = Message(
            self._clock.next_ts(),
            channel,
            user,
            text,
            normalise(blocks),
            ephemeral_for,
            self.seed.bot_id if bot else None,
            kind,
            thread_ts,
        )
        with self._changes.mutate():
            self.messages[channel].append(message)
        return message

    def find(self, channel: str, ts: str) -> Message | None:
        return next((m for m in self.messages.get(channel, []) if m.ts == ts), None)

    def update(self, channel: str, ts: str, text: str, blocks: Any) -> Message | None:
        with self._changes.mutate():
            message = self.find(channel, ts)
            if message is not None:
                message.text, message.blocks = text, normalise(blocks)
            return message

    def reveal(self, channel: str, ts: str) -> None:
        """Make an ephemeral message visible to everyone in the channel."""
        with self._changes.mutate():
            message = self.find(channel, ts)
            if message is not None:
                message.ephemeral_for = None

    def delete(self, channel: str, ts: str) -> bool:
        with self._changes.mutate():
            message = self.find(channel, ts)
            if message is not None:
                self.messages[channel].remove(message)
            return message is not None

    def visible(self, channel: str, user_id: str) -> list[Message]:
        """What `user_id` sees in `channel`: everything but other people's ephemerals."""
        with self._changes.lock:
            return [
                m
                for m in self.messages.get(channel, [])
                if m.ephemeral_for is None or m.ephemeral_for == user_id
            ]
