"""Serve the local Slack workspace on its own, for a bot that is already running:

    SLACK_SIGNING_SECRET=… python -m bot.simulators.workspace --events-url http://127.0.0.1:3001/slack/events

and start the bot with the same SLACK_SIGNING_SECRET, SLACK_BOT_TOKEN=xoxb-local-workspace
and SLACK_API_URL=http://127.0.0.1:3000/api/. (`pimbot run` does all this in one process,
with fast-forward wired to the sandbox clock; standalone there is no fast-forward.)"""

from __future__ import annotations

import argparse
import os
import sys

import uvicorn

from bot.simulators.workspace.app import WORKSPACE_BOT_TOKEN, create_workspace_app


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bot.simulators.workspace",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--events-url",
        default="http://127.0.0.1:3001/slack/events",
        help="the bot's Slack events URL (default: %(default)s)",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=3000)
    args = parser.parse_args(argv)
    # From the environment only, so the secret stays out of `ps` and shell history.
    secret = os.environ.get("SLACK_SIGNING_SECRET")
    if not secret:
        print(
            "python -m bot.simulators.workspace: set SLACK_SIGNING_SECRET (the bot's too)",
            file=sys.stderr,
        )
        return 2
    app = create_workspace_app(
        bot_events_url=args.events_url,
        signing_secret=secret,
        bot_token=os.environ.get("SLACK_BOT_TOKEN", WORKSPACE_BOT_TOKEN),
    )
    base = f"http://{args.host}:{args.port}"
    print(f"Local Slack workspace: {base}  (bot's SLACK_API_URL: {base}/api/)", flush=True)
    # No access log: /response/{token} paths are capabilities, like Slack's response_url.
    uvicorn.run(app, host=args.host, port=args.port, access_log=False, log_level="warning")
    return 0


if __name__ == "__main__":
    sys.exit(main())
