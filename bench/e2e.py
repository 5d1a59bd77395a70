"""End-to-end `/pim activate`: from the signed request to the Graph POST at the sandbox
and to the requester's confirmation at the fake Slack (response_url), plus the Graph calls
one activation costs (issue 17), counting every Graph and token call the sandbox logged
from the command to the confirmation:

- cold: the first activation after the services started as `pimbot run` starts them
  (`Services.start`: the board's first read fetches the app token; the tenant's policies
  and administrative unit names are read ahead), for a user pimbot has never seen;
- warm: the same user activating a second role after the first filled the caches;
- never started: a stack whose services were never started (every cache empty), shown
  for comparison.

Kept, and for how long: the MSAL app token (until its expiry, ~1 h), the Slack→Entra user
link (in the store), the role policies (PolicyCache, 5 min), the tenant's eligibilities
and the user's groups (PIM_ELIGIBILITY_CACHE_SECONDS, 30 s), administrative unit names
(the process), Slack users.info (10 min, handlers/people.py). The already-active read is
gone (Graph refuses a duplicate: RoleAssignmentExists); the board applies a change to its
last read instead of reading Graph per change."""

from __future__ import annotations

import tempfile
import threading
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.common import save, summary, table
from tests.support.cast import CARD
from tests.support.signing import command_body
from tests.support.stack import BotStack, Reply
from tests.support.started_stack import StartedStack

N = 60
SECOND_ROLE = "activate helpdesk-admin 1h CONTOSO:Security-012345 a second role, warm"


def timed_activation(stack: BotStack, card: str = CARD) -> tuple[float, float]:
    """Seconds to the Graph POST and to the confirmation, from the signed request."""
    url = stack.slack.response_url()
    box: list[Reply] = []
    started = time.perf_counter()

    def send() -> None:
        body = command_body(card, user_id="U_ALINE", response_url=url)
        box.append(stack.post(body, stack.signed(body), url))

    sender = threading.Thread(target=send)
    sender.start()
    to_post = to_reply = 0.0
    deadline = started + 30
    while time.perf_counter() < deadline:
        now = time.perf_counter()
        if not to_post and stack.graph_writes():
            to_post = now - started
        posted = stack.slack.responses(url)
        if posted:
            to_reply = now - started
            if "active until" not in posted[-1].get("text", ""):
                raise RuntimeError(f"activation failed: {posted[-1]}")
            break
        time.sleep(0.0005)
    sender.join()
    if not (to_post and to_reply):
        raise RuntimeError("no Graph POST or no confirmation within 30 s")
    return to_post, to_reply


def settle(stack: BotStack) -> None:
    """Let the previous command's after-work (the board) finish its calls first."""
    seen = -1
    while seen != len(stack.faults.calls):
        seen = len(stack.faults.calls)
        time.sleep(0.3)


def calls_to_confirmation(stack: BotStack, card: str) -> Counter[str]:
    """The Graph and token calls logged from the command until its confirmation."""
    settle(stack)
    stack.faults.clear_log()
    timed_activation(stack, card)
    calls = list(stack.faults.calls)  # snapshot as the confirmation is seen
    return Counter(f"{c.method} {c.path.split('?')[0]}" for c in calls)


def never_started() -> Counter[str]:
    """The first activation of a stack whose services were never started (no board read,
    no token yet): every cache empty, for comparison."""
    with tempfile.TemporaryDirectory(prefix="pimbot-bench-") as tmp, BotStack(Path(tmp)) as stack:
        stack.reset()
        return calls_to_confirmation(stack, CARD)


def main(argv: Sequence[str] = ()) -> dict[str, Any]:
    empty = never_started()
    with (
        tempfile.TemporaryDirectory(prefix="pimbot-bench-") as tmp,
        StartedStack(Path(tmp)) as stack,
    ):
        stack.reset()
        stack.start_services()  # as `pimbot run` starts: the board's first read, recovery
        settle(stack)
        startup = len(stack.faults.calls)  # start-up's own reads (token, board, policies…)
        cold = calls_to_confirmation(stack, CARD)  # the first activation after start
        warm = calls_to_confirmation(stack, SECOND_ROLE)
        posts, replies = [], []
        for _ in range(N):
            stack.reset()
            to_post, to_reply = timed_activation(stack)
            posts.append(to_post)
            replies.append(to_reply)
    p, r = summary(posts), summary(replies)
    table(
        "End-to-end /pim activate over real HTTP (ms, sequential, caches warm)",
        ["to", "n", "median", "p99"],
        [
            ("Graph POST", p["n"], p["median_ms"], p["p99_ms"]),
            ("confirmation", r["n"], r["median_ms"], r["p99_ms"]),
        ],
    )
    paths = sorted(set(cold) | set(warm) | set(empty))
    table(
        "Graph and token calls per activation, command to confirmation (sandbox call log; "
        "cold: the first after start; warm: a second role; never started: no start-up read)",
        ["call", "cold", "warm", "never started"],
        [(k, cold[k], warm[k], empty[k]) for k in paths]
        + [("total", sum(cold.values()), sum(warm.values()), sum(empty.values()))],
    )
    print(f"Start-up's own Graph and token calls, before the cold activation: {startup}")
    data = {
        "to_graph_post": p,
        "to_confirmation": r,
        "graph_calls_cold": dict(cold),
        "graph_calls_warm": dict(warm),
        "cold_total": sum(cold.values()),
        "graph_calls_never_started": dict(empty),
        "startup_calls": startup,
        "never_started_total": sum(empty.values()),
        "warm_total": sum(warm.values()),
    }
    save("e2e_activation", data)
    return data
