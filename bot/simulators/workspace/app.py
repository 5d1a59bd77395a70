"""`create_workspace_app`: the Web API, the response URLs and the page in one ASGI app."""

from __future__ import annotations

import secrets
from typing import Final

from starlette.applications import Starlette

from bot.simulators.workspace import ui, webapi
from bot.simulators.workspace.delivery import BotLink
from bot.simulators.workspace.seed import WorkspaceSeed
from bot.simulators.workspace.workspace import FastForward, Workspace

WORKSPACE_BOT_TOKEN: Final = "xoxb-local-workspace"  # noqa: S105 - a name, not a secret
# Random per process rather than a fixed string in the repository: the bot's events URL
# listens on localhost, and a published secret would let any local process forge
# requests as any seeded user. The CLI runs the bot and the workspace in one process,
# so both simply read this constant.
WORKSPACE_SIGNING_SECRET: Final = secrets.token_hex(32)


def create_workspace_app(
    *,
    bot_events_url: str,
    signing_secret: str,
    bot_token: str,
    on_fast_forward: FastForward | None = None,
    seed: WorkspaceSeed | None = None,
) -> Starlette:
    """The local Slack workspace; its `Workspace` is on `app.state.workspace`."""
    workspace = Workspace(
        seed=seed or WorkspaceSeed(),
        bot_token=bot_token,
        link=BotLink(bot_events_url, signing_secret),
        on_fast_forward=on_fast_forward,
    )
    app = Starlette(routes=webapi.ROUTES + ui.ROUTES)
    app.state.workspace = workspace
    return app
