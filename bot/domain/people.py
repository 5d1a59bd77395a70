"""Who asks, approves or is told, whatever chat they use: a `PersonKey`.

The chat front end names people by its own ids (a Slack user id, later a Teams one); the
core keys everything by `PersonKey(chat, chat_user_id)`, stored as `slack:U123`. Only a
front end looks inside it, to address the person in its own chat.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True, order=True)
class PersonKey:
    """`chat` names the front end ("slack"); `chat_user_id` is that front end's user id."""

    chat: str
    chat_user_id: str

    def __post_init__(self) -> None:
        if not self.chat or ":" in self.chat or not self.chat_user_id:
            raise ValueError(f"not a person key: {self.chat!r}, {self.chat_user_id!r}")

    def __str__(self) -> str:
        return f"{self.chat}:{self.chat_user_id}"

    @classmethod
    def parse(cls, text: str) -> PersonKey:
        """`slack:U123` -> PersonKey("slack", "U123"); ValueError for anything else."""
        chat, sep, user = text.partition(":")
        if not sep:
            raise ValueError(f"not a person key: {text!r} (expected chat:user, e.g. slack:U1)")
        return cls(chat, user)


def slack(user_id: str) -> PersonKey:
    """A Slack user, keyed as the core keys everyone."""
    return PersonKey("slack", user_id)
