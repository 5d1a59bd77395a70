"""`/invite @pimbot`, Slack's built-in command, typed in a channel of the page: the bot may
post in a channel only once invited (`not_in_channel` before), as in Slack. Everyone
seeded is already in every channel, so the bot is the only one to invite."""

from __future__ import annotations

from bot.simulators.workspace.conversations import SLACKBOT, Channel
from bot.simulators.workspace.seed import SeedUser
from bot.simulators.workspace.workspace import Workspace

COMMAND = "/invite"


def invite(ws: Workspace, user: SeedUser, channel: Channel, args: str) -> None:
    convs, bot = ws.conversations, ws.seed.bot_name
    names = {word.removeprefix("@") for word in args.split()}
    if channel.is_im:
        note = "You can’t invite anyone to a direct message."
    elif bot not in names:
        note = f"Everyone here is already in #{channel.name}: only @{bot} can be invited."
    elif not convs.invite_bot(channel):
        note = f"@{bot} is already in #{channel.name}."
    else:
        text = f"{user.real_name} added @{bot} to #{channel.name}."
        convs.post(channel.id, SLACKBOT, text, bot=False, kind="system")
        return
    convs.post(channel.id, SLACKBOT, note, ephemeral_for=user.id, bot=False, kind="system")
