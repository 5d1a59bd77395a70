"""response_url replies through one kept aiohttp session (handlers/replies.py
`kept_responses`): the same bodies reach Slack as through Bolt's own `respond`, over one
kept-alive connection instead of one per reply; outside it, or on another loop, or for a
wrapped `respond`, Bolt's own path is used."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from slack_bolt.context.respond.async_respond import AsyncRespond

from handlers import replies
from handlers.blocks import Message
from handlers.replies import ephemeral, kept_responses, redraw
from tests.support import slack as fake_slack
from tests.support.slack import FakeSlack

MSG: Message = {"text": "User Administrator is active until 14:00", "blocks": []}


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[FakeSlack, list[int]]]:
    """The fast fake Slack (HTTP/1.1 keep-alive), counting the connections it accepts."""
    accepted: list[int] = []
    original = fake_slack._LoopServer._connection

    async def connection(self: Any, reader: Any, writer: Any) -> None:
        accepted.append(1)
        await original(self, reader, writer)

    monkeypatch.setattr(fake_slack._LoopServer, "_connection", connection)
    with FakeSlack(fast=True) as fake:
        yield fake, accepted


async def _three_replies(fake: FakeSlack) -> list[str]:
    urls = [fake.response_url() for _ in range(3)]
    for url in urls:
        await ephemeral(AsyncRespond(response_url=url))(MSG)
    return urls


async def test_kept_session_sends_what_bolt_sends_over_one_connection(
    counted: tuple[FakeSlack, list[int]],
) -> None:
    fake, accepted = counted
    plain = await _three_replies(fake)
    assert len(accepted) == 3  # Bolt's respond: a session, and a connection, per reply
    async with kept_responses():
        kept = await _three_replies(fake)
    assert len(accepted) == 4  # the kept session: one connection for the three
    bodies = [fake.responses(url) for url in plain + kept]
    assert all(b == bodies[0] for b in bodies)  # byte for byte what Bolt's respond posts
    assert bodies[0] == [
        {"text": MSG["text"], "response_type": "ephemeral", "replace_original": False}
    ]


async def test_a_redraw_through_the_kept_session_replaces_the_original(
    counted: tuple[FakeSlack, list[int]],
) -> None:
    fake, _ = counted
    url = fake.response_url()
    async with kept_responses():
        await redraw(AsyncRespond(response_url=url))(MSG)
    assert fake.responses(url) == [{"text": MSG["text"], "replace_original": True}]


async def test_a_wrapped_respond_is_called_as_is() -> None:
    """The sandbox mark (and any wrapper) changes the message: it is never bypassed."""
    seen: list[dict[str, Any]] = []

    async def wrapped(**message: Any) -> None:
        seen.append(message)

    async with kept_responses():
        await ephemeral(wrapped)(MSG)
    assert seen == [{"response_type": "ephemeral", "replace_original": False, **MSG}]


async def test_another_loop_does_not_use_the_kept_session(
    counted: tuple[FakeSlack, list[int]],
) -> None:
    """An aiohttp session serves the loop it was made on only: a reply made on another
    loop (another thread) goes through Bolt's own respond."""
    fake, _ = counted
    url = fake.response_url()
    async with kept_responses() as session:

        def elsewhere() -> object:
            return asyncio.run(_kept_there())

        assert await asyncio.to_thread(elsewhere) is None
        assert replies._kept_session() is session
        await ephemeral(AsyncRespond(response_url=url))(MSG)
    assert replies._kept_session() is None
    assert len(fake.responses(url)) == 1


async def _kept_there() -> object:
    return replies._kept_session()


async def test_kept_responses_cannot_be_entered_twice() -> None:
    async with kept_responses():
        with pytest.raises(RuntimeError):
            async with kept_responses():
                pass
    async with kept_responses() as again:  # once left, it can be entered again
        assert not again.closed
    assert again.closed
