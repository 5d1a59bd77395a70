"""What each `pimbot` sub-command does and which settings it reads, for its `--help`.
The settings are listed from `Settings` itself, so a new one is never missing here."""

from __future__ import annotations

import textwrap
from collections.abc import Callable

from bot.cli.audit import columns_help
from bot.settings import Settings

FILES = """\
Settings come from the environment and from a .env file in the current directory; the
policy file is PIM_CONFIG (default pimbot.yml), checked before anything starts."""


def _group(name: str) -> str:
    if name.startswith("SLACK_"):
        return "Slack"
    if name.startswith("AZURE_") or name in ("PIM_GRAPH_URL", "PIM_CA_FILE"):
        return "Entra"
    return "bot"


def _named(name: str) -> str:
    default = Settings.model_fields[name.lower()].default
    return f"{name} (default {default})" if default not in (None, False) else name


def reads(keep: Callable[[str], bool] = lambda name: True) -> str:
    """The environment variables a command reads (those `keep` keeps), by group."""
    names = [n.upper() for n in Settings.model_fields if keep(n.upper())]
    lines = ["reads:"]
    for group in ("Slack", "Entra", "bot"):
        mine = ", ".join(_named(n) for n in names if _group(n) == group)
        if mine:
            wrapped = textwrap.wrap(mine, 74)
            lines.append(f"  {group:<9}  " + "\n             ".join(wrapped))
    return "\n".join(lines)


RUN = f"""\
Run the bot until stopped (Ctrl-C or SIGTERM).

With no Slack credentials it serves the local Slack workspace and the bot on
http://127.0.0.1:PIM_PORT; with SLACK_APP_TOKEN it uses Socket Mode; with
SLACK_BOT_TOKEN alone it serves HTTP mode (POST /slack/events, GET /healthz, /readyz,
/metrics) on PIM_PORT.
With no AZURE_TENANT_ID / AZURE_CLIENT_ID it starts the embedded sandbox tenant.

{reads()}

{FILES}
Requests, activations, reminders, kept work, sign-ins and the audit trail are kept in
PIM_DATABASE_URL (pimbot.db) across restarts: stop the bot and delete the file to reset."""

CHECK = f"""\
Validate the configuration and reach Slack, Graph and the database: one line per
check, exit status 0 only if all pass. Changes nothing.

{reads(lambda name: name != "PIM_PORT")}

{FILES}"""

DEMO = f"""\
Play the Contoso PIM tutorial as a scripted story through the same machinery as
`pimbot run` (sandbox tenant, local Slack workspace, the real bot) and print it as a
transcript. Exit status 0 when every step happened, 1 otherwise.

reads:
  bot        PIM_CONFIG (the role aliases the story uses)
  ignored    Slack and Azure credentials and PIM_DATABASE_URL: it uses the sandbox, a
             local workspace on a free port and a throw-away database

{FILES}"""

AUDIT = f"""\
Export the audit trail (requests, decisions, activations, deactivations, reminders,
expiries) to stdout as JSON lines or CSV. Stops quietly when the reader goes away
(`pimbot audit | head`). One row per event, with these columns (empty: not known or
not relevant to that kind of event):

{columns_help()}

{reads(lambda name: name in ("PIM_DATABASE_URL", "PIM_CONFIG"))}

{FILES}"""

SANDBOX = f"""\
Serve the sandbox tenant alone: the Microsoft Graph PIM emulator, seeded with the
Contoso tutorial data, over TLS with a self-signed certificate.

reads:
  only its options (--host, --port); PIM_CONFIG is checked like every command

{FILES}"""
