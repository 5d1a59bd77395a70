"""CPU per activation, the bot's own apart from the in-process sandbox and fake Slack.

    .venv/bin/python -m bench.profile_activation [-n 200] [--concurrency 8] [--top 30]

Drives N activations of distinct (user, role) pairs (synthetic users are added to the
sandbox tenant and the fake Slack, each eligible for a few roles that need no approval)
through the in-process stack over real HTTP, its services started as `pimbot run` starts
them, waits for the after-work (the audit line, the board) to settle, and prints:

- CPU ms per activation: the whole process (time.process_time), and split by thread — the
  bot's server thread (its event loop: Bolt, the services, the store, Graph's client),
  the sandbox's thread, this driver, and the rest (the fake Slack's per-connection threads);
- a second, profiled run: the top functions by cumulative time in the bot's thread only
  (a cProfile per thread, so the sandbox's and fake Slack's code stay out of it).

cProfile slows what it measures: read its figures as shares, the first run's as costs.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import re
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import FrameType
from typing import Any

from bench.procs import slack_profile
from bot.simulators.sandbox.model import User
from tests.support.stack import BotStack
from tests.support.started_stack import StartedStack

ROLES = {
    "user-admin": "fe930be7-5e62-47db-91af-98c3a49a38b1",
    "helpdesk-admin": "729827e3-9c14-49f7-bb1b-9608f156bbb8",
    "security-reader": "5d6b6bb7-de71-4623-b4af-96380a352509",
}
CARD = "activate {role} 1h CONTOSO:Security-012345 profiling the bot's cpu"


def add_people(stack: BotStack, count: int) -> list[str]:
    """`count` people in both the tenant and the workspace, each eligible for ROLES."""
    tenant, domain = stack.tenant, stack.tenant.seed.domain
    slack_ids = []
    for i in range(count):
        upn = f"bench{i:04d}@{domain}"
        entra_id = f"be0c0000-0000-4000-8000-{i:012d}"
        name = f"Bench User {i:04d}"
        with tenant.lock:
            tenant.directory.users[entra_id] = User(entra_id, upn, name, mail=upn)
        for role_id in ROLES.values():
            tenant.add_eligibility(entra_id, role_id, "/")
        slack_id = f"U_BENCH{i:04d}"
        stack.slack.profiles[slack_id] = slack_profile(f"bench{i:04d}", name, upn)
        slack_ids.append(slack_id)
    return slack_ids


def activate(stack: BotStack, user: str, role: str) -> None:
    done = stack.final(stack.command(CARD.format(role=role), user=user), timeout=60)
    if "active until" not in done.get("text", ""):
        raise RuntimeError(f"{user} {role}: {done.get('text')}")


def settle(stack: BotStack, quiet: float = 0.5) -> None:
    """Until neither the sandbox nor the fake Slack has seen a call for `quiet` seconds."""
    seen = (-1, -1)
    while True:
        now = (len(stack.faults.calls), len(stack.slack.calls()))
        if now == seen:
            return
        seen = now
        time.sleep(quiet)


def _shape(path: str) -> str:
    """A Graph path with its ids as `{id}`, so calls count by endpoint."""
    return re.sub(r"[0-9a-f]{8}-[0-9a-f-]{27}|R-[0-9A-Z]{8}", "{id}", path.split("?")[0])


def thread_cpu(thread: threading.Thread | None) -> float:
    if thread is None or thread.ident is None or not thread.is_alive():
        return 0.0
    return time.clock_gettime(time.pthread_getcpuclockid(thread.ident))


class PerThreadProfile:
    """A cProfile.Profile in every thread started from now on (threading.setprofile's
    bootstrap enables one in each new thread, keyed by the thread)."""

    def __init__(self) -> None:
        self.profiles: dict[int, cProfile.Profile] = {}

    def __enter__(self) -> PerThreadProfile:
        threading.setprofile(self._bootstrap)
        return self

    def __exit__(self, *exc: object) -> None:
        threading.setprofile(None)  # type: ignore[arg-type]

    def _bootstrap(self, frame: FrameType, event: str, arg: Any) -> None:
        profile = cProfile.Profile()
        self.profiles[threading.get_ident()] = profile
        profile.enable()  # replaces this bootstrap for the rest of the thread


def run(
    n: int,
    concurrency: int,
    profiler: PerThreadProfile | None,
    top: int = 40,
    dump: str = "",
) -> dict[str, Any]:
    pairs_per_user = len(ROLES)
    with (
        tempfile.TemporaryDirectory(prefix="pimbot-profile-") as tmp,
        StartedStack(Path(tmp)) as stack,
    ):
        stack.reset()
        # As `pimbot run` starts: the outbox's courier and its Slack session, the board's
        # first read, the sweep (its first round an hour away: none runs here).
        stack.start_services()
        users = add_people(stack, -(-(n + concurrency) // pairs_per_user))
        # Role by role: one person's activations are far apart, so in-flight commands never
        # race to look the same new person up (a burst of one person's is not the load).
        pairs = [(u, r) for r in ROLES for u in users]
        warm, measured = pairs[:concurrency], pairs[concurrency : concurrency + n]
        # Warm-up: the app token, the policies, the board's first read, the code paths.
        with ThreadPoolExecutor(concurrency) as pool:
            list(pool.map(lambda p: activate(stack, *p), warm))
        settle(stack)
        bot_thread, sandbox_thread = stack.bot._thread, stack.sandbox._thread
        main = threading.main_thread()
        start = (
            time.process_time(),
            thread_cpu(bot_thread),
            thread_cpu(sandbox_thread),
            thread_cpu(main),
        )
        graph_calls, slack_calls = len(stack.faults.calls), len(stack.slack.calls())
        if (
            profiler is not None
            and bot_thread is not None
            and bot_thread.ident in profiler.profiles
        ):
            profiler.profiles[bot_thread.ident].clear()  # the warm-up's calls out
        began = time.perf_counter()
        with ThreadPoolExecutor(concurrency) as pool:
            list(pool.map(lambda p: activate(stack, *p), measured))
        confirmed = time.perf_counter() - began
        settle(stack)
        end = (
            time.process_time(),
            thread_cpu(bot_thread),
            thread_cpu(sandbox_thread),
            thread_cpu(main),
        )
        graph_log = [f"{c.method} {_shape(c.path)}" for c in stack.faults.calls[graph_calls:]]
        slack_log = [c.method.split(":")[0] for c in stack.slack.calls()[slack_calls:]]
        graph_calls, slack_calls = len(graph_log), len(slack_log)
        bot_ident = bot_thread.ident if bot_thread is not None else None
        stats = None
        if profiler is not None and bot_ident in profiler.profiles:
            stats = profile_text(profiler.profiles[bot_ident], top)
            if dump:
                profiler.profiles[bot_ident].dump_stats(dump)
    total, bot, sandbox, driver = (1000 * (e - s) / n for s, e in zip(start, end, strict=True))
    return {
        "n": n,
        "seconds_to_last_confirmation": confirmed,
        "cpu_ms": {
            "process": total,
            "bot thread": bot,
            "sandbox thread": sandbox,
            "driver": driver,
            "rest (fake Slack)": total - bot - sandbox - driver,
        },
        "graph_calls_per_activation": graph_calls / n,
        "slack_calls_per_activation": slack_calls / n,
        "calls": Counter(graph_log) + Counter(slack_log),
        "profile": stats,
    }


def package_of(filename: str) -> str:
    """`sqlalchemy`, `bot/store`, `handlers`, `asyncio`…: where a function's time goes."""
    if "site-packages/" in filename:
        return filename.split("site-packages/", 1)[1].split("/", 1)[0]
    for mine in ("bot/", "handlers/"):
        if f"/{mine}" in filename:
            rest = filename.rsplit(f"/{mine}", 1)[1]
            return mine + rest.split("/", 1)[0] if "/" in rest else mine.rstrip("/")
    if "/lib/python3" in filename:
        return filename.rsplit("/lib/python3", 1)[1].split("/", 2)[1].removesuffix(".py")
    return filename


def profile_text(profile: cProfile.Profile, top: int = 40) -> str:
    out = io.StringIO()
    stats = pstats.Stats(profile, stream=out)
    own: dict[str, float] = {}
    for (filename, _, function), (_, _, tottime, _, _) in stats.stats.items():  # type: ignore[attr-defined]
        if function == "<method 'poll' of 'select.epoll' objects>":
            continue  # the event loop waiting: idle, not work
        # C functions by name (sqlite3's execute, ssl's read): not one "builtins" lump
        name = function if filename == "~" else package_of(filename)
        own[name] = own.get(name, 0.0) + tottime
    whole = sum(own.values()) or 1.0
    out.write("Own time by package (share of the bot thread's profiled time):\n")
    for name, seconds in sorted(own.items(), key=lambda kv: -kv[1])[:20]:
        out.write(f"  {name:<28} {100 * seconds / whole:5.1f} %\n")
    stats.sort_stats("cumulative").print_stats(top)
    return out.getvalue()


def main(argv: Sequence[str] = ()) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="python -m bench.profile_activation")
    parser.add_argument("-n", type=int, default=200, help="activations measured")
    parser.add_argument("--concurrency", type=int, default=8, help="commands in flight")
    parser.add_argument("--top", type=int, default=40, help="functions shown")
    parser.add_argument("--dump", default="", help="write the bot thread's pstats here")
    parser.add_argument("--no-profile", action="store_true", help="skip the profiled run")
    args = parser.parse_args(argv)
    plain = run(args.n, args.concurrency, None)
    print(
        f"\nCPU per activation, {args.n} activations, {args.concurrency} in flight "
        f"(last confirmed after {plain['seconds_to_last_confirmation']:.1f} s):"
    )
    for part, ms in plain["cpu_ms"].items():
        print(f"  {part:<20} {ms:7.2f} ms")
    print(
        f"  Graph calls per activation {plain['graph_calls_per_activation']:.2f}, "
        f"Slack calls {plain['slack_calls_per_activation']:.2f}:"
    )
    for call, count in plain["calls"].most_common():
        print(f"    {count / args.n:5.2f}  {call}")
    if not args.no_profile:
        with PerThreadProfile() as profiler:
            profiled = run(args.n, args.concurrency, profiler, args.top, args.dump)
        print("\nThe bot's thread under cProfile (slower; read as shares), by cumulative time:")
        print(profiled["profile"])
    return plain


if __name__ == "__main__":
    import logging
    import os
    import sys

    # INFO, as `pimbot run` logs, written where it costs its formatting but not a terminal.
    logging.basicConfig(level=logging.INFO, stream=open(os.devnull, "w"))  # noqa: SIM115
    main(sys.argv[1:])
