"""Ack latency over Socket Mode: `/pim activate` sent as an envelope by the fake Slack
(tests/support/socket_mode.py) to `pimbot run` in Socket Mode (its own process, SQLite,
the sandbox tenant over TLS in this process), timed from the envelope leaving "Slack" to
its ack arriving back on the socket. Beside it, the same for a bare Bolt app that only
acks (its own process too): the ratio is what pimbot adds, its claim of each payload in
`slack_deliveries` (handlers/socket_once.py) included.

- sequential: one envelope at a time, the next once the ack is in;
- burst:      `--burst` envelopes sent at once.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from bench.common import percentile, save, summary, table
from bot.clock import OffsetClock
from bot.simulators.sandbox import SandboxServer, SandboxTenant, create_app
from tests.support.cast import ALINE, CARD
from tests.support.databases import postgres_url
from tests.support.processes import pimbot_run
from tests.support.settings import make_settings, process_env
from tests.support.signing import command_body
from tests.support.slack import FakeSlack
from tests.support.socket_mode import FakeSocketMode

APP_TOKEN = "xapp-1-A_PIMBOT-bench"  # noqa: S105 - the fake Slack's, no secret
BARE = """
import asyncio, os
from slack_bolt.async_app import AsyncApp
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_sdk.web.async_client import AsyncWebClient

async def main():
    client = AsyncWebClient(token="xoxb-bench", base_url=os.environ["SLACK_API_URL"])
    app = AsyncApp(client=client, signing_secret="unused", process_before_response=False)

    @app.command("/pim")
    async def pim(ack):
        await ack(text="Working on it")

    await AsyncSocketModeHandler(app, os.environ["SLACK_APP_TOKEN"]).start_async()

asyncio.run(main())
"""


def envelope(slack: FakeSlack) -> dict[str, str]:
    body = command_body(CARD, user_id=ALINE.slack_id, response_url=slack.response_url())
    return dict(parse_qsl(body))


def ack_seconds(socket: FakeSocketMode, key: str) -> float:
    ack = socket.wait_acked(key, timeout=60)
    return ack.at - socket.deliveries(key)[0].at


def sequential(socket: FakeSocketMode, slack: FakeSlack, n: int) -> list[float]:
    return [ack_seconds(socket, socket.send("slash_commands", envelope(slack))) for _ in range(n)]


def burst(socket: FakeSocketMode, slack: FakeSlack, n: int) -> list[float]:
    keys = [socket.send("slash_commands", envelope(slack)) for _ in range(n)]
    return [ack_seconds(socket, key) for key in keys]


@contextlib.contextmanager
def bare_bolt(slack: FakeSlack, log: Path) -> Iterator[None]:
    env = {**os.environ, "SLACK_API_URL": slack.api_url, "SLACK_APP_TOKEN": APP_TOKEN}
    proc = subprocess.Popen(  # noqa: S603 - our own interpreter and code
        [sys.executable, "-c", BARE], env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT
    )
    try:
        yield
    finally:
        proc.kill()
        proc.wait()


def measure(
    tmp: Path, *, bare: bool, n: int, burst_size: int, database_url: str | None
) -> dict[str, list[float]]:
    with (
        FakeSocketMode() as socket,
        FakeSlack(socket_mode=socket) as slack,
        SandboxServer(create_app(SandboxTenant.from_seed(OffsetClock())), tls=True) as sandbox,
    ):
        server: contextlib.AbstractContextManager[Any]
        if bare:
            server = bare_bolt(slack, tmp / "bare.log")
        else:
            # PostgreSQL: every payload claimed in slack_deliveries (SQLite: in memory).
            database: dict[str, Any] = {"pim_database_url": database_url} if database_url else {}
            settings = make_settings(tmp, sandbox=sandbox, slack_api_url=slack.api_url, **database)
            env = process_env(settings, SLACK_APP_TOKEN=APP_TOKEN)
            server = pimbot_run(env, tmp / "pimbot.log")
        with server:
            socket.wait_for_connections(1)
            sequential(socket, slack, 5)  # warm up: imports, Graph token, user link
            time.sleep(1.0)
            results = {"sequential": sequential(socket, slack, n)}
            time.sleep(1.0)
            results["burst"] = burst(socket, slack, burst_size)
    return results


def main(argv: Sequence[str] = ()) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench --only socket", description=__doc__)
    parser.add_argument("-n", type=int, default=100, help="sequential envelopes (default 100)")
    parser.add_argument("--burst", type=int, default=50, help="envelopes sent at once")
    parser.add_argument(
        "--postgres",
        action="store_true",
        help="pimbot on PostgreSQL (a schema of its own in $PIM_TEST_DATABASE_URL), every "
        "payload claimed in slack_deliveries; default SQLite, whose claims stay in memory",
    )
    args = parser.parse_args(argv)
    runs = {}
    schema = postgres_url() if args.postgres else None  # dropped when the bench ends
    url = next(schema) if schema else None
    try:
        for name, bare in (("bare Bolt", True), ("pimbot", False)):
            with tempfile.TemporaryDirectory(prefix="pimbot-bench-") as tmp:
                runs[name] = measure(
                    Path(tmp), bare=bare, n=args.n, burst_size=args.burst, database_url=url
                )
    finally:
        for _ in schema or ():  # runs postgres_url's clean-up: the schema is dropped
            pass
    rows: list[tuple[Any, ...]] = []
    for mode in ("sequential", "burst"):
        base, ours = runs["bare Bolt"][mode], runs["pimbot"][mode]
        for name, samples in (("bare Bolt", base), ("pimbot", ours)):
            ms = [s * 1000 for s in samples]
            rows.append((mode, name, len(ms), percentile(ms, 50), percentile(ms, 99), max(ms)))
        rows.append((mode, "ratio", "", ratio(ours, base, 50), ratio(ours, base, 99), ""))
    table(
        "/pim activate ack latency over Socket Mode, envelope out to ack in (ms)",
        ("mode", "app", "n", "median", "p99", "max"),
        rows,
    )
    save(
        "socket_ack",
        {name: {mode: summary(s) for mode, s in modes.items()} for name, modes in runs.items()},
    )
    return 0


def ratio(ours: Sequence[float], base: Sequence[float], pct: float) -> float:
    return percentile(ours, pct) / percentile(base, pct)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
