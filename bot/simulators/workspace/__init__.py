"""A local Slack workspace: run the real bot with no Slack account.

It is to Slack what `bot.simulators.sandbox` is to Graph — one Starlette app that is at once:

* the **Slack Web API** the bot calls: point `AsyncWebClient(base_url=f"{url}/api/",
  token=WORKSPACE_BOT_TOKEN)` at it (auth.test, users.info/list/lookupByEmail,
  conversations.open/list/info/join, chat.postMessage/postEphemeral/update/delete,
  views.open/push/update/publish, usergroups.users.list), plus `POST /response/{token}`,
  the `response_url` it hands out with each slash command and interaction;
* a **web page** at `/` that looks and behaves like a small Slack (channels, DMs with the
  bot, App Home, modals, ephemerals, a user switcher and a fast-forward control);
* a **Slack client of the bot**: what people do on the page is POSTed to
  `bot_events_url` as the signed requests Slack sends (slash commands, `block_actions`,
  `view_submission`, `view_closed`, `app_home_opened`), and the bot's ack is applied.

Wiring it (what `pimbot run` does without Slack credentials)::

    from bot.simulators.workspace import (WORKSPACE_BOT_TOKEN, WORKSPACE_SIGNING_SECRET,
                               create_workspace_app)

    app = create_workspace_app(
        bot_events_url="http://127.0.0.1:3001/slack/events",
        signing_secret=WORKSPACE_SIGNING_SECRET,   # give the bot the same secret
        bot_token=WORKSPACE_BOT_TOKEN,             # and the same token
        on_fast_forward=sandbox_clock.advance,     # seconds -> None (or an awaitable)
    )
    uvicorn.run(app, host="127.0.0.1", port=3000, access_log=False)

Keep uvicorn's access log off: `/response/{token}` paths are capabilities. Standalone,
against a bot that is already running: `python -m bot.simulators.workspace --help`.

Like Slack it refuses what Slack would refuse, so "works locally" means "works in Slack":
a wrong token (`invalid_auth`), a late or reused `trigger_id` (`expired_trigger_id`,
`exchanged_trigger_id`), Block Kit that slack_sdk's models reject (`invalid_blocks` with
json pointers), a post where the bot was not invited (`not_in_channel`), a `response_url`
used more than five times or asked to replace a command's ack (it posts anew). Command
text arrives escaped; a slow ack gets an event resent with `X-Slack-Retry-Num`; a switch
(`/ui/rate_limit`) makes the Web API answer 429 with `Retry-After`. The page's own
endpoints accept only same-origin JSON on a loopback or IP host.

State is in memory (a dev tool; the page notices a restart by `boot`):
`app.state.workspace` is the `Workspace`, and `GET /ui/state?user=U_ALINE` returns exactly
what the page renders for that person.
"""

from bot.simulators.workspace.app import (
    WORKSPACE_BOT_TOKEN,
    WORKSPACE_SIGNING_SECRET,
    create_workspace_app,
)
from bot.simulators.workspace.seed import SeedChannel, SeedUser, SeedUsergroup, WorkspaceSeed
from bot.simulators.workspace.workspace import Workspace

__all__ = [
    "WORKSPACE_BOT_TOKEN",
    "WORKSPACE_SIGNING_SECRET",
    "SeedChannel",
    "SeedUser",
    "SeedUsergroup",
    "Workspace",
    "WorkspaceSeed",
    "create_workspace_app",
]
