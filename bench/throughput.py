"""Sustained activations per second for 30 s over real HTTP against the sandbox: several
requesters, each cycling activate → deactivate (the sandbox refuses a second live
activation of one role for one user), every outcome checked; any error fails the run."""

from __future__ import annotations

import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.common import save, summary, table
from tests.support.stack import BotStack

ROLES = ("user-admin", "security-reader", "security-admin", "privileged-role-admin")
USERS = ("U_ALINE", "U_ALEX", "U_DIEGO", "U_ADMIN")
Pair = tuple[str, str]
SECONDS = 30.0


def cycle(stack: BotStack, pair: Pair) -> float:
    """One activation (timed to its confirmation) and its deactivation."""
    user, role = pair
    card = f"activate {role} 1h CONTOSO:Security-012345 benchmark load cycle"
    started = time.perf_counter()
    done = stack.final(stack.command(card, user=user), timeout=30)
    took = time.perf_counter() - started
    if "active until" not in done.get("text", ""):
        raise RuntimeError(f"{user}: activation failed: {done.get('text')}")
    stack.clock.advance(5 * 60)  # Entra refuses a deactivation within 5 minutes
    ended = stack.final(stack.command(f"deactivate {role}", user=user), timeout=30)
    if "deactivated" not in ended.get("text", ""):
        raise RuntimeError(f"{user}: deactivation failed: {ended.get('text')}")
    return took


def usable(stack: BotStack) -> list[Pair]:
    """The (requester, role) pairs the seed lets activate without approval."""
    ok = []
    for pair in ((u, r) for u in USERS for r in ROLES):
        try:
            cycle(stack, pair)
            ok.append(pair)
        except RuntimeError:
            pass
    return ok


def main(argv: Sequence[str] = ()) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="pimbot-bench-") as tmp, BotStack(Path(tmp)) as stack:
        stack.reset()
        users = usable(stack)
        stack.reset()
        latencies: list[float] = []
        errors: list[str] = []
        stop = time.monotonic() + SECONDS

        def worker(pair: Pair) -> None:
            while time.monotonic() < stop and not errors:
                try:
                    latencies.append(cycle(stack, pair))
                except (RuntimeError, AssertionError) as exc:
                    errors.append(str(exc))

        threads = [threading.Thread(target=worker, args=(u,)) for u in users]
        began = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.monotonic() - began
        writes = stack.graph_writes()
    rate = len(latencies) / elapsed
    s = summary(latencies) if latencies else {"median_ms": 0.0, "p99_ms": 0.0}
    table(
        f"Sustained activations over {elapsed:.0f} s ({len(users)} requester/role pairs cycling "
        "activate/deactivate)",
        ["activations", "per second", "errors", "Graph writes", "median ms", "p99 ms"],
        [(len(latencies), f"{rate:.2f}", len(errors), writes, s["median_ms"], s["p99_ms"])],
    )
    if errors:
        print("first error:", errors[0])
    data = {
        "activations": len(latencies),
        "seconds": elapsed,
        "per_second": rate,
        "errors": errors[:5],
        "pairs": users,
        "latency": s,
    }
    save("throughput", data)
    return data
