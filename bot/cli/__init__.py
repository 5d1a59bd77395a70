"""`pimbot run | sandbox | check | demo | audit`: the process entry point."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence

from bot.errors import PimError
from bot.settings import Settings, load_settings

log = logging.getLogger("pimbot")
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pimbot", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("run", help="run the bot (embedded sandbox + local workspace by default)")
    sandbox = sub.add_parser("sandbox", help="serve the sandbox tenant (Graph PIM emulator)")
    sandbox.add_argument("--host", default="127.0.0.1")
    sandbox.add_argument("--port", type=int, default=8443)
    sub.add_parser("check", help="validate the configuration and reach Slack, Graph and the DB")
    sub.add_parser("demo", help="the PIM tutorial as a scripted story, printed as a transcript")
    audit = sub.add_parser("audit", help="export the audit trail")
    audit.add_argument("--since", help="ISO date or datetime, e.g. 2026-11-01")
    audit.add_argument("--user", help="a person: slack:U123, or a Slack user id U123")
    audit.add_argument("--format", choices=["jsonl", "csv"], default="jsonl")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Console script entry; returns the exit status."""
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)
    # One line per Graph call drowns the bot's own log; failures are logged where handled.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    try:
        settings = load_settings()
        settings.policy()  # fail at start-up, naming the field, before anything listens
        return asyncio.run(_dispatch(args, settings))
    except PimError as exc:
        print(f"pimbot: {exc.user_message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


async def _dispatch(args: argparse.Namespace, settings: Settings) -> int:
    if args.command == "run":
        from bot.cli.run import run

        return await run(settings)
    if args.command == "sandbox":
        from bot.simulators.sandbox.server import print_usage, serve_forever

        await serve_forever(host=args.host, port=args.port, on_ready=print_usage)
        return 0
    if args.command == "check":
        from bot.cli.check import run_checks

        return await run_checks(settings)
    if args.command == "demo":
        from bot.cli.demo import run_demo

        return await run_demo(settings)
    from bot.cli.audit import export

    return export(settings, since=args.since, user=args.user, fmt=args.format)
