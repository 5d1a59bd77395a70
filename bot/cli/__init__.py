"""`pimbot run | sandbox | check | demo | audit`: the process entry point."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from collections.abc import Sequence

from bot.cli import usage
from bot.errors import PimError
from bot.logs import configure_logging
from bot.settings import Settings, load_settings

log = logging.getLogger("pimbot")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pimbot", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    def command(name: str, summary: str, description: str) -> argparse.ArgumentParser:
        return sub.add_parser(
            name,
            help=summary,
            description=description,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )

    command("run", "run the bot (embedded sandbox + local workspace by default)", usage.RUN)
    sandbox = command("sandbox", "serve the sandbox tenant (Graph PIM emulator)", usage.SANDBOX)
    sandbox.add_argument("--host", default="127.0.0.1")
    sandbox.add_argument("--port", type=int, default=8443)
    command("check", "validate the configuration and reach Slack, Graph and the DB", usage.CHECK)
    command("demo", "the PIM tutorial as a scripted story, printed as a transcript", usage.DEMO)
    audit = command("audit", "export the audit trail", usage.AUDIT)
    audit.add_argument("--since", help="ISO date or datetime, e.g. 2026-11-01")
    audit.add_argument(
        "--user",
        help="rows where this person (slack:U123, or a Slack user id U123) is the actor or "
        "the subject",
    )
    audit.add_argument("--format", choices=["jsonl", "csv"], default="jsonl")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Console script entry; returns the exit status."""
    args = _parser().parse_args(argv)
    try:
        settings = load_settings()
        configure_logging(settings.pim_log_format)
        settings.policy()  # fail at start-up, naming the field, before anything listens
        status = asyncio.run(_dispatch(args, settings))
        sys.stdout.flush()  # here, where a closed pipe can still be caught
        return status
    except PimError as exc:
        print(f"pimbot: {exc.user_message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return _reader_gone()


def _reader_gone() -> int:
    """Whoever read stdout stopped (`pimbot audit | head`): end quietly, as a process the
    pipe's SIGPIPE ended would. Python ignores SIGPIPE and raises instead; what is still
    buffered must not be flushed again at exit, hence stdout onto /dev/null
    (https://docs.python.org/3/library/signal.html#note-on-sigpipe)."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    return 128 + signal.SIGPIPE


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
