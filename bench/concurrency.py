"""Ack latency of `/pim activate` under 1, 10 and 50 concurrent signed requests: the bot
as a real `pimbot run` process (sandbox and fake Slack in processes of their own) beside
a bare Bolt app whose /pim only acks, served the same way (uvicorn, Starlette, Bolt's
signature check) in its own process. Rounds alternate bare / bot so both see the same
machine. Every bot request is a real activation of a distinct (user, role); after each
bot burst its confirmations are awaited (and checked), so a burst's acks race its own
activations' work, not a backlog of earlier bursts. Ratio = pimbot / bare.

The client (this process) must not add its own pauses to what it measures: its start-up
objects are frozen and its garbage collector is off during each burst, collecting between
bursts (a full collection here had held the client for up to 300 ms mid-burst, which
landed at random on the bot's or the bare app's p99). `--repeat N` measures N times over
and reports each run's ratios and their spread."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import os
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx
from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bench.common import save, summary, table
from bench.load import Outcome, confirmed, pairs, send
from bench.procs import Harness, cpu_seconds
from tests.support.settings import BOT_TOKEN, SIGNING_SECRET

LEVELS = (1, 10, 50)
ROUNDS = 8  # bursts per level (at least 30 requests per level)
USERS = 200
TARGET = 1.2


def bare_app(api_url: str) -> Starlette:
    bolt = AsyncApp(
        signing_secret=SIGNING_SECRET,
        client=AsyncWebClient(token=BOT_TOKEN, base_url=api_url),
        process_before_response=False,
    )

    @bolt.command("/pim")
    async def only_ack(ack: Any) -> None:
        await ack("Working on it…")

    handler = AsyncSlackRequestHandler(bolt)

    async def events(request: Request) -> Response:
        return await handler.handle(request)

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    return Starlette(
        routes=[
            Route("/slack/events", events, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
        ]
    )


@contextlib.contextmanager
def no_client_pauses() -> Iterator[None]:
    """The client's collector off for one burst, what it left collected after."""
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
        gc.collect()


async def burst(
    h: Harness, url: str, todo: Iterator[tuple[str, str]], n: int, *, confirm: bool
) -> list[Outcome]:
    """`n` commands at once, each timed to its ack; with `confirm`, their confirmations
    awaited (and checked) once every ack is in: waiting for one is a request of the
    client's own (a long poll on the fake Slack), which made mid-burst had the client
    busy with the bot's confirmations, and not the bare app's, while later acks came in."""
    limits = httpx.Limits(max_connections=n * 2, max_keepalive_connections=n * 2)
    async with httpx.AsyncClient(timeout=90, limits=limits) as http:
        batch = [next(todo) for _ in range(n)]
        sent = await asyncio.gather(*(send(http, h, url, user, role) for user, role in batch))
        if not confirm:
            return [s.outcome for s in sent]
        return list(await asyncio.gather(*(confirmed(http, h, s) for s in sent)))


IDLE_WINDOW = 0.1  # seconds without a CPU tick in any server process
IDLE_MOST = 5.0


def idle(h: Harness) -> float:
    """Until no server process (bot, sandbox, fake Slack, bare) used CPU for IDLE_WINDOW
    seconds, at most IDLE_MOST; the seconds waited. A bot burst's confirmations are in
    before the next burst, but what follows them (the DM copies through the outbox, the
    board, the audit lines) is still being sent: without this wait it lands in the next
    burst, bare or bot, at random, and the p99 measures the previous burst's tail."""
    started = time.monotonic()
    before = {name: cpu_seconds(c.pid) for name, c in h.children.items()}
    while time.monotonic() - started < IDLE_MOST:
        time.sleep(IDLE_WINDOW)
        now = {name: cpu_seconds(c.pid) for name, c in h.children.items()}
        if now == before:
            break
        before = now
    return time.monotonic() - started


def measure(
    h: Harness, rounds: int
) -> tuple[dict[int, list[float]], dict[int, list[float]], list[str]]:
    bot_todo, bare_todo = pairs(h), pairs(h)
    bare: dict[int, list[float]] = {}
    bot: dict[int, list[float]] = {}
    errors: list[str] = []
    for n in LEVELS:
        bare[n], bot[n] = [], []
        for _ in range(max(rounds, 30 // n)):
            idle(h)
            with no_client_pauses():
                bare_outcomes = asyncio.run(burst(h, h.bare_url, bare_todo, n, confirm=False))
            for o in bare_outcomes:
                bare[n].append(o.ack_s)
            idle(h)
            with no_client_pauses():
                bot_outcomes = asyncio.run(burst(h, h.bot_url, bot_todo, n, confirm=True))
            for o in bot_outcomes:
                bot[n].append(o.ack_s)
                if o.error:
                    errors.append(o.error)
    return bare, bot, errors


def server_side_ack_ms(url: str) -> float | None:
    """The mean of the bot's own `pimbot_ack_seconds{kind="command"}` histogram."""
    text = httpx.get(f"{url}/metrics", timeout=10).text
    found: dict[str, float] = {}
    for line in text.splitlines():
        for part in ("_sum", "_count"):
            if line.startswith(f'pimbot_ack_seconds{part}{{kind="command"}}'):
                found[part] = float(line.rsplit(" ", 1)[1])
    if not found.get("_count"):
        return None
    return found["_sum"] / found["_count"] * 1000


Samples = dict[int, list[float]]
HEADER = [
    "concurrency",
    "n",
    "pimbot median",
    "pimbot p99",
    "bare median",
    "bare p99",
    "ratio median",
    "ratio p99",
    "target",
    "mark",
]


def one_run(rounds: int) -> tuple[Samples, Samples, list[str], float | None, str | None]:
    """A harness of its own (fresh people to activate), measured once."""
    with tempfile.TemporaryDirectory(prefix="pimbot-bench-") as tmp:
        profile = os.environ.get("PIM_BENCH_ACKS_PROFILE")
        extra = {"PIM_BENCH_ACKS_PROFILE": profile} if profile else {}
        with Harness(Path(tmp), users=USERS, bare=True, extra_env=extra) as h:
            warm = h.people.pop()  # one activation first: the bot's token and policy reads
            asyncio.run(burst(h, h.bot_url, iter([(warm[0], warm[1][0])]), 1, confirm=True))
            gc.collect()
            gc.freeze()  # the harness and the people: kept to the end, never garbage
            try:
                bare, bot, errors = measure(h, rounds)
            finally:
                gc.unfreeze()
            server_ms = server_side_ack_ms(h.bot_url)
    return bare, bot, errors, server_ms, profile


def ratios(bare: Samples, bot: Samples) -> tuple[list[tuple[Any, ...]], dict[str, Any]]:
    rows, data = [], {}
    for n in LEVELS:
        b, p = summary(bare[n]), summary(bot[n])
        ratio, ratio99 = p["median_ms"] / b["median_ms"], p["p99_ms"] / b["p99_ms"]
        mark = "PASS" if ratio <= TARGET and ratio99 <= TARGET else "FAIL"
        rows.append(
            (
                n,
                p["n"],
                p["median_ms"],
                p["p99_ms"],
                b["median_ms"],
                b["p99_ms"],
                f"{ratio:.2f}",
                f"{ratio99:.2f}",
                f"≤ {TARGET}",
                mark,
            )
        )
        data[str(n)] = {"pimbot": p, "bare_bolt": b, "ratio_median": ratio, "ratio_p99": ratio99}
    return rows, data


def spread(runs: Sequence[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """Per level, the runs' ratios from lowest to highest."""
    rows = []
    for n in LEVELS:
        med = sorted(r[str(n)]["ratio_median"] for r in runs)
        p99 = sorted(r[str(n)]["ratio_p99"] for r in runs)
        rows.append((n, len(runs), f"{med[0]:.2f}–{med[-1]:.2f}", f"{p99[0]:.2f}–{p99[-1]:.2f}"))
    return rows


def main(argv: Sequence[str] = ()) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="python -m bench --only concurrency")
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    parser.add_argument("--repeat", type=int, default=1, help="runs, each on a fresh harness")
    args, _ = parser.parse_known_args(argv)
    pooled_bare: Samples = {n: [] for n in LEVELS}
    pooled_bot: Samples = {n: [] for n in LEVELS}
    runs: list[dict[str, Any]] = []
    errors: list[str] = []
    server: list[float] = []
    profile: str | None = None
    for run in range(max(1, args.repeat)):
        bare, bot, run_errors, server_ms, profile = one_run(args.rounds)
        rows, run_data = ratios(bare, bot)
        runs.append(run_data)
        errors += run_errors
        if server_ms is not None:
            server.append(server_ms)
        for n in LEVELS:
            pooled_bare[n] += bare[n]
            pooled_bot[n] += bot[n]
        if args.repeat > 1:
            table(f"run {run + 1} of {args.repeat} (ms)", HEADER, rows)
    rows, data = ratios(pooled_bare, pooled_bot)
    what = "/pim activate ack latency, each server its own process, concurrent signed requests"
    if args.repeat > 1:
        what += f", the {args.repeat} runs pooled"
    table(f"{what} (ms)", HEADER, rows)
    if args.repeat > 1:
        table(
            "the runs' ratios, lowest–highest",
            ["concurrency", "runs", "median", "p99"],
            spread(runs),
        )
    if server:
        print(
            f"pimbot's own measure of its command acks (pimbot_ack_seconds, from the request "
            f"reaching its handler to the answer): mean {sum(server) / len(server):.1f} ms; "
            "the rest of the latency above is the server's queue, the HTTP stack and Bolt"
        )
    if profile:
        from bench.profile_report import top

        print(f"\nthe acks' thread of the bot ({profile}, the last run), by internal time:\n")
        print(top(profile, 30, "tottime"))
    for error in errors[:5]:
        print("activation error:", error)
    data["errors"] = errors[:20]
    data["server_side_ack_mean_ms"] = sum(server) / len(server) if server else None
    data["processes"] = True
    data["runs"] = runs
    save("ack_concurrency", data)
    return data
