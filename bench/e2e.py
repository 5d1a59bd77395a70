"""End-to-end `/pim activate`: from the signed request to the Graph POST at the sandbox
and to the requester's confirmation at the fake Slack (response_url), plus the Graph calls
one activation costs cold (fresh process: no token, link or policy cached) and warm (issue
17: the same user activating a second role after a first filled the caches), counting
every Graph and token call the sandbox logged from the command to the confirmation.

Cached, and for how long: the MSAL app token (until its expiry, ~1 h), the Slack→Entra
user link (in the store, no expiry), the role policy (PolicyCache, 5 min, bot/catalog.py),
Slack users.info (10 min, handlers/people.py)."""

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


def main(argv: Sequence[str] = ()) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="pimbot-bench-") as tmp, BotStack(Path(tmp)) as stack:
        stack.reset()
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
    paths = sorted(set(cold) | set(warm))
    table(
        "Graph calls per activation, command to confirmation (sandbox call log; warm: a "
        "second role)",
        ["call", "cold", "warm"],
        [(k, cold[k], warm[k]) for k in paths]
        + [("total", sum(cold.values()), sum(warm.values()))],
    )
    data = {
        "to_graph_post": p,
        "to_confirmation": r,
        "graph_calls_cold": dict(cold),
        "graph_calls_warm": dict(warm),
        "cold_total": sum(cold.values()),
        "warm_total": sum(warm.values()),
    }
    save("e2e_activation", data)
    return data
