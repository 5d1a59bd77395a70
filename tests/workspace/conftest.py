"""A workspace and the tiny Bolt app, each on its own real HTTP port."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bot.simulators.workspace import WORKSPACE_BOT_TOKEN, create_workspace_app
from tests.support.live import LiveServer
from tests.support.workspace import Rig
from tests.workspace.tiny_bolt import bolt_asgi, build_tiny_bolt_app

SECRET = "test-signing-secret"


def _rig(bolt_secret: str | None) -> Iterator[Rig]:
    ws_server, bot_server = LiveServer(), LiveServer()
    forwarded: list[float] = []
    app = create_workspace_app(
        bot_events_url=f"{bot_server.url}/slack/events",
        signing_secret=SECRET,
        bot_token=WORKSPACE_BOT_TOKEN,
        on_fast_forward=forwarded.append,
    )
    rig = Rig(ws_server.url, app.state.workspace, forwarded=forwarded)
    ws_server.start(app)
    if bolt_secret is not None:
        rig.bolt = build_tiny_bolt_app(ws_server.url, bolt_secret, WORKSPACE_BOT_TOKEN, rig.seen)
        bot_server.start(bolt_asgi(rig.bolt))
    try:
        yield rig
    finally:
        bot_server.stop()
        ws_server.stop()


@pytest.fixture
def workspace() -> Iterator[Rig]:
    """The workspace alone; its bot events URL answers nothing."""
    yield from _rig(None)


@pytest.fixture
def with_bolt() -> Iterator[Rig]:
    """The workspace driving the tiny Bolt app (same signing secret)."""
    yield from _rig(SECRET)


@pytest.fixture
def with_forger() -> Iterator[Rig]:
    """A Bolt app that expects another signing secret than the workspace signs with."""
    yield from _rig("some-other-secret")
