"""What each `pimbot` sub-command does and which settings it reads, for its `--help`."""

from __future__ import annotations

SLACK = "SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET, SLACK_APP_TOKEN, SLACK_API_URL"
AZURE = """AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET or
             AZURE_CLIENT_CERTIFICATE_PATH, AZURE_AUTHORITY_HOST, PIM_GRAPH_URL, PIM_CA_FILE"""
FILES = """\
Settings come from the environment and from a .env file in the current directory; the
policy file is PIM_CONFIG (default pimbot.yml), checked before anything starts."""

RUN = f"""\
Run the bot until stopped (Ctrl-C or SIGTERM).

With no Slack credentials it serves the local Slack workspace and the bot on
http://127.0.0.1:PIM_PORT; with SLACK_APP_TOKEN it uses Socket Mode; with
SLACK_BOT_TOKEN alone it serves HTTP mode (POST /slack/events, GET /healthz) on PIM_PORT.
With no AZURE_TENANT_ID / AZURE_CLIENT_ID it starts the embedded sandbox tenant.

reads:
  Slack      {SLACK}
  Entra      {AZURE}
  bot        PIM_PORT (default 3000), PIM_DATABASE_URL (default sqlite:///pimbot.db),
             PIM_CONFIG (default pimbot.yml), PIM_TOKEN_KEY (signed-in-user mode)

{FILES}
Requests, activations, reminders, kept work, sign-ins and the audit trail are kept in
PIM_DATABASE_URL (pimbot.db) across restarts: stop the bot and delete the file to reset."""

CHECK = f"""\
Validate the configuration and reach Slack, Graph and the database: one line per
check, exit status 0 only if all pass. Changes nothing.

reads:
  Slack      {SLACK}
  Entra      {AZURE}
  bot        PIM_DATABASE_URL, PIM_CONFIG, PIM_TOKEN_KEY (signed-in-user mode)

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
(`pimbot audit | head`).

reads:
  bot        PIM_DATABASE_URL (default sqlite:///pimbot.db), PIM_CONFIG

{FILES}"""

SANDBOX = f"""\
Serve the sandbox tenant alone: the Microsoft Graph PIM emulator, seeded with the
Contoso tutorial data, over TLS with a self-signed certificate.

reads:
  only its options (--host, --port); PIM_CONFIG is checked like every command

{FILES}"""
