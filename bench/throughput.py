"""Sustained activations per second, every party in its own process (bench/procs.py):
the sandbox tenant over TLS, the fake Slack, `pimbot run`, and here the load generator.

`CONCURRENCY` requesters send signed `/pim activate` commands for `SECONDS` (or until the
seed's (user, role) pairs are used up), each waiting for the confirmation on its
response_url before sending the next. Every activation is a distinct (user, role), so no
deactivation is needed (Entra refuses one within 5 minutes). Reported: activations/s,
errors (each a failure of the run), median/p99 time to confirmation, and the CPU seconds
per activation of each process. `PIM_BENCH_PROFILE=path`: the bot runs under cProfile
and its top functions are printed (bench/profile_report.py)."""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx

from bench.common import save, summary, table
from bench.load import Outcome, activate, pairs
from bench.procs import Harness

SECONDS = 30.0
CONCURRENCY = 50
USERS = 1000  # x 4 roles: 4,000 distinct activations, more than 30 s at 100/s needs
TARGET = 100.0


async def drive(h: Harness, seconds: float, concurrency: int) -> tuple[list[Outcome], float]:
    todo = pairs(h)
    stop = time.monotonic() + seconds
    done: list[Outcome] = []

    async def requester() -> None:
        # A client each (two kept-alive connections: the bot, the fake Slack's control
        # port) rather than one pool of 2 x concurrency: httpcore's pool scans every
        # connection it holds for each request it assigns (O(connections x queued),
        # https://github.com/encode/httpcore/pull/1035), which made the load generator
        # itself a third of the CPU per activation at 50 concurrent.
        async with httpx.AsyncClient(timeout=90) as http:
            for user, role in todo:
                if time.monotonic() >= stop:
                    return
                done.append(await activate(http, h, h.bot_url, user, role))

    began = time.monotonic()
    await asyncio.gather(*(requester() for _ in range(concurrency)))
    return done, time.monotonic() - began


async def warm(h: Harness, person: tuple[str, list[str]]) -> None:
    """One activation outside the measured pool: the bot's Graph token and policy reads."""
    async with httpx.AsyncClient(timeout=90) as http:
        user, roles = person
        outcome = await activate(http, h, h.bot_url, user, roles[-1])
        if outcome.error:
            raise RuntimeError(f"warm-up activation failed: {outcome.error}")


def main(argv: Sequence[str] = ()) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="python -m bench --only throughput")
    parser.add_argument("--seconds", type=float, default=SECONDS)
    parser.add_argument("--concurrency", type=int, default=CONCURRENCY)
    parser.add_argument("--users", type=int, default=USERS)
    parser.add_argument("--workers", type=int, help="the bot's PIM_WORKERS (default: its own)")
    args, _ = parser.parse_known_args(argv)
    extra = {"PIM_WORKERS": str(args.workers)} if args.workers else {}
    profile = os.environ.get("PIM_BENCH_PROFILE")
    with tempfile.TemporaryDirectory(prefix="pimbot-bench-") as tmp:
        with Harness(
            Path(tmp), users=args.users, profile=Path(profile) if profile else None, extra_env=extra
        ) as h:
            asyncio.run(warm(h, h.people.pop()))  # not in the measured pool
            cpu0 = h.cpu()
            outcomes, elapsed = asyncio.run(drive(h, args.seconds, args.concurrency))
            cpu1 = h.cpu()
            slack_calls = h.slack_counts()
    return report(outcomes, elapsed, args.concurrency, cpu0, cpu1, slack_calls, profile)


def report(
    outcomes: list[Outcome],
    elapsed: float,
    concurrency: int,
    cpu0: dict[str, float],
    cpu1: dict[str, float],
    slack_calls: dict[str, int],
    profile: str | None,
) -> dict[str, Any]:
    ok = [o for o in outcomes if o.error is None and o.total_s is not None]
    errors = [o.error for o in outcomes if o.error]
    rate = len(ok) / elapsed if elapsed else 0.0
    s = summary([o.total_s for o in ok if o.total_s is not None]) if ok else {}
    acks = summary([o.ack_s for o in outcomes]) if outcomes else {}
    cpu = {name: cpu1[name] - cpu0[name] for name in cpu1}
    per = {name: (secs / len(ok) * 1000 if ok else 0.0) for name, secs in cpu.items()}
    passed = rate >= TARGET and not errors
    table(
        f"Sustained activations, sandbox / fake Slack / bot each in its own process "
        f"({concurrency} concurrent requesters, {elapsed:.0f} s)",
        [
            "activations",
            "per second",
            "errors",
            "confirm median ms",
            "confirm p99 ms",
            "ack median ms",
            "ack p99 ms",
            "target",
            "mark",
        ],
        [
            (
                len(ok),
                f"{rate:.1f}",
                len(errors),
                s.get("median_ms", 0.0),
                s.get("p99_ms", 0.0),
                acks.get("median_ms", 0.0),
                acks.get("p99_ms", 0.0),
                "≥ 100/s, 0 errors",
                "PASS" if passed else "FAIL",
            )
        ],
    )
    table(
        "CPU per activation by process (ms; /proc/PID/stat utime+stime over the run)",
        ["bot", "sandbox", "fake Slack", "load generator", "total"],
        [
            (
                per.get("bot", 0.0),
                per.get("sandbox", 0.0),
                per.get("slack", 0.0),
                per.get("load", 0.0),
                sum(per.values()),
            )
        ],
    )
    print("Slack calls:", dict(sorted(slack_calls.items())))
    for error in errors[:5]:
        print("error:", error)
    data = {
        "activations": len(ok),
        "seconds": elapsed,
        "per_second": rate,
        "concurrency": concurrency,
        "errors": errors[:20],
        "error_count": len(errors),
        "latency": s,
        "ack": acks,
        "cpu_ms_per_activation": per,
        "slack_calls": slack_calls,
        "sandbox": "own process",
    }
    if profile:
        from bench.profile_report import top

        print(f"\nbot profile ({profile}), by cumulative time:\n")
        print(top(profile))
    save("throughput", data)
    return data
