"""Signed-in-user mode (`graph.identity: user`): what acting as each user costs.

`/pim activate` end to end (signed request → the confirmation at the fake Slack) in user
mode, sequential with warm caches, beside the same figure in application mode; the
Graph and token-endpoint calls one warm activation makes; and `/pim login` from the
command to the "signed in" DM (the sandbox's device-code poll interval is 1 s, so that
figure is mostly waiting for the poll)."""

from __future__ import annotations

import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.common import save, summary, table
from tests.support.cast import ALINE
from tests.support.signin_stack import SignInStack
from tests.support.stack import BotStack

ACTIVATE = "activate user-admin 1h reset a locked-out account"
N = 30


def activate_once(stack: BotStack) -> float:
    """Seconds from the signed `/pim activate` to its confirmation; then deactivate."""
    started = time.perf_counter()
    final = stack.final(stack.command(ACTIVATE), timeout=30)
    seconds = time.perf_counter() - started
    if "active until" not in final.get("text", ""):
        raise RuntimeError(f"activation failed: {final}")
    stack.clock.advance(5 * 60)  # Entra refuses a deactivation within 5 minutes
    done = stack.final(stack.command("deactivate user-admin"), timeout=30)
    if "deactivated" not in done.get("text", "").lower():
        raise RuntimeError(f"deactivation failed: {done}")
    return seconds


def calls_of_one(stack: BotStack) -> Counter[str]:
    stack.faults.clear_log()
    activate_once(stack)
    return Counter(f"{c.method} {c.path.split('?')[0]}" for c in stack.faults.calls)


def timed_login(stack: SignInStack) -> float:
    started = time.perf_counter()
    stack.log_in("U_ALINE", ALINE.upn)
    return time.perf_counter() - started


def main(argv: Sequence[str] = ()) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="pimbot-bench-") as tmp:
        (Path(tmp) / "user").mkdir()
        (Path(tmp) / "app").mkdir()
        with SignInStack(Path(tmp) / "user") as stack:
            login = timed_login(stack)
            activate_once(stack)  # warm the policy cache and the connection pool
            user_calls = calls_of_one(stack)
            user = [activate_once(stack) for _ in range(N)]
        with BotStack(Path(tmp) / "app") as stack:
            activate_once(stack)
            app_calls = calls_of_one(stack)
            app = [activate_once(stack) for _ in range(N)]
    u, a = summary(user), summary(app)
    table(
        "/pim activate end to end, sequential, warm (ms)",
        ["mode", "n", "median", "p99"],
        [
            ["user (delegated, selfActivate)", u["n"], u["median_ms"], u["p99_ms"]],
            ["application (adminAssign)", a["n"], a["median_ms"], a["p99_ms"]],
        ],
    )
    table(
        "Sandbox calls for one warm activate + deactivate pair",
        ["call", "user mode", "application mode"],
        [[k, user_calls[k], app_calls[k]] for k in sorted(set(user_calls) | set(app_calls))],
    )
    print(f"\n/pim login to the 'signed in' DM: {login * 1000:.0f} ms (1 s poll interval)\n")
    result = {
        "user": u,
        "application": a,
        "login_ms": login * 1000,
        "calls_user": dict(user_calls),
        "calls_application": dict(app_calls),
    }
    save("signin", result)
    return result
