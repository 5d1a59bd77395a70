"""The load generator's one move: a signed `/pim activate` to a bot (or a bare Bolt app),
timed to its ack, then (for the bot) to the confirmation on its response_url."""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx

from bench.procs import Harness
from tests.support.settings import SIGNING_SECRET
from tests.support.signing import command_body, signed_headers

_ids = itertools.count(1)
JUSTIFICATION = "benchmark load"


@dataclass(frozen=True, slots=True)
class Outcome:
    ack_s: float
    total_s: float | None  # to the confirmation; None when not awaited
    error: str | None


def pairs(h: Harness) -> Iterator[tuple[str, str]]:
    """Each (user, role) once, role by role: the first pass is every user's first
    activation (the bot meets each person cold), then their second role, and so on."""
    roles = h.people[0][1] if h.people else []
    for role in roles:
        for user, _ in h.people:
            yield user, role


async def activate(
    http: httpx.AsyncClient,
    h: Harness,
    url: str,
    user: str,
    role: str,
    *,
    confirm: bool = True,
) -> Outcome:
    """POST the command to `url`/slack/events; with `confirm`, wait for the bot's answer
    on the response_url and check it says the role is active."""
    sent = await send(http, h, url, user, role)
    return await confirmed(http, h, sent) if confirm else sent.outcome


@dataclass(frozen=True, slots=True)
class Sent:
    """A command posted and acked (or refused: `outcome.error`)."""

    outcome: Outcome
    user: str
    role: str
    response_url: str
    started: float  # perf_counter when it was posted
    said: str  # the ack's body


async def send(http: httpx.AsyncClient, h: Harness, url: str, user: str, role: str) -> Sent:
    """POST the command to `url`/slack/events, timed to its ack."""
    response_url = f"{h.slack_url}/response/b{next(_ids)}"
    body = command_body(
        f"activate {role} 1h {JUSTIFICATION}", user_id=user, response_url=response_url
    )
    started = time.perf_counter()
    answer = await http.post(
        f"{url}/slack/events", content=body, headers=signed_headers(SIGNING_SECRET, body)
    )
    ack = time.perf_counter() - started
    error = None
    if answer.status_code != 200:
        error = f"{user} {role}: ack {answer.status_code} {answer.text[:200]}"
    return Sent(Outcome(ack, None, error), user, role, response_url, started, answer.text)


async def confirmed(http: httpx.AsyncClient, h: Harness, sent: Sent) -> Outcome:
    """`sent`'s outcome once the bot's answer is on its response_url, checked to say the
    role is active (and that the ack said it was working on it)."""
    ack, user, role = sent.outcome.ack_s, sent.user, sent.role
    if sent.outcome.error is not None:
        return sent.outcome
    if "Working on it" not in sent.said:
        return Outcome(ack, None, f"{user} {role}: ack said {sent.said[:200]}")
    posted = await h.confirmation(http, sent.response_url)
    total = time.perf_counter() - sent.started
    if not posted:
        return Outcome(ack, total, f"{user} {role}: nothing was posted to {sent.response_url}")
    text = str(posted[-1].get("text", ""))
    if "active until" not in text:
        return Outcome(ack, total, f"{user} {role}: {text[:300]}")
    return Outcome(ack, total, None)
