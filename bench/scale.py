"""Scale: 10,000 live activations with reminders in the store and the APScheduler
SQLAlchemy job store. A fresh process measures `Services.start()`, its resident memory,
and how late reminders fire (the DM reaching the fake Slack) when 1,000 of them fall due
at the same moment, on the real scheduler and the wall clock:

- unthrottled: 1,000 people, one reminder each (each its own DM channel, as in a tenant);
- paced: then 1,000 more for 200 people, five roles each, with a fake Slack that allows
  one post a second per channel after a burst of two and answers 429 with `Retry-After`
  beyond it (https://api.slack.com/docs/rate-limits): all sent once, how long, 429s seen.

Each burst's activations are live in the sandbox tenant, so the confirmation read finds
them. Set-up (not timed) inserts the records and plans their reminders."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.common import percentile, save, table
from bot.clock import SystemClock
from bot.domain.people import PersonKey
from bot.domain.requests import ActivationRecord
from bot.service.activation import new_request_id
from bot.settings import Settings
from bot.simulators.sandbox import SandboxServer, SandboxTenant, create_app
from bot.simulators.sandbox.model import Assignment, RoleDefinition
from bot.store import SqlStore
from bot.wiring import Services, build_services
from handlers.people import SlackUserDirectory
from tests.support.outbox import notifier_for
from tests.support.records import activation_record
from tests.support.settings import BOT_TOKEN, ROOT, make_settings
from tests.support.slack import FakeSlack

TOTAL, BURST = 10_000, 1_000
PACED_PEOPLE, PACED_EACH = 200, 5  # the 429 burst: five reminders in each of 200 channels
SLACK_BURST = 2  # posts a channel takes at once before the fake Slack's 1/s applies
BURST_LEAD_S = 15  # the burst falls due this long after it is planned
PROBE = 20  # people planned first to time the planning
PACED_WINDOW_S = 120  # how long the paced burst may take before it counts as unsent
LEAD = timedelta(minutes=15)


def settings(db: Path, sandbox: SandboxServer, slack_url: str) -> Settings:
    return make_settings(
        sandbox=sandbox, slack_api_url=slack_url, pim_database_url=f"sqlite:///{db}"
    )


def people(prefix: str, count: int) -> list[tuple[PersonKey, str]]:
    """Bench users: a Slack id (their own DM channel) and an Entra object id each."""
    return [(PersonKey("slack", f"U_{prefix}{n:05d}"), str(uuid.uuid4())) for n in range(count)]


def profiles(users: list[tuple[PersonKey, str]]) -> dict[str, dict[str, Any]]:
    """What users.info answers for them (a time zone each, as Slack's user object has)."""
    return {
        key.chat_user_id: {
            "name": key.chat_user_id.lower(),
            "real_name": key.chat_user_id,
            "tz": "Europe/Paris",
            "email": f"{key.chat_user_id.lower()}@contoso.example",
        }
        for key, _ in users
    }


def services(db: Path, sandbox: SandboxServer, slack: FakeSlack) -> Services:
    from slack_sdk.web.async_client import AsyncWebClient

    s = settings(db, sandbox, slack.api_url)
    client = AsyncWebClient(token=BOT_TOKEN, base_url=slack.api_url)
    config = s.policy()
    # As production wires it: reminders go out through the outbox courier.
    store = SqlStore.from_url(s.pim_database_url, clock=SystemClock())
    directory = SlackUserDirectory(client)
    notifier, courier = notifier_for(client, config, store, profiles=directory)
    return build_services(
        s,
        directory=directory,
        notifier=notifier,
        store=store,
        background=(courier,),
    )


def record(
    end: datetime, who: tuple[PersonKey, str] | None = None, role: RoleDefinition | None = None
) -> ActivationRecord:
    now = datetime.now(UTC)
    base = activation_record(
        id=new_request_id(),
        duration=end - now,
        justification="scale benchmark",
        created_at=now,
        updated_at=now,
        start=now,
    ).with_changes(ticket=None, end=end)
    if who is not None:
        base = base.with_changes(requester=who[0], principal_id=who[1])
    if role is not None:
        base = base.with_changes(role_id=role.id, role_name=role.display_name)
    return base


async def setup(svc: Services) -> None:
    await svc.start()
    now = datetime.now(UTC)
    for i in range(TOTAL):
        rec = record(now + timedelta(hours=4, seconds=i))
        svc.store.add_request(rec)
        svc.reminders.plan(rec)
    await svc.aclose()


def plan_burst(
    svc: Services,
    tenant: SandboxTenant,
    due: datetime,
    users: list[tuple[PersonKey, str]],
    each: int,
) -> set[str]:
    """`each` activations per user (a role each), live in the tenant; their request ids."""
    roles = list(tenant.roles.values())[:each]
    records = [record(due + LEAD, who, role) for who in users for role in roles]
    for rec in records:
        grant(tenant, rec)
        svc.store.add_request(rec)
    svc.reminders.plan_many(records)  # one transaction for all their reminders
    return {rec.id for rec in records}


def grant(tenant: SandboxTenant, rec: ActivationRecord) -> None:
    """The activation as Entra holds it: a live instance of the role for the user."""
    start = rec.start or rec.created_at
    with tenant.lock:
        tenant.assignments.append(
            Assignment(
                rec.id,
                rec.principal_id,
                rec.role_id,
                "/",
                start,
                rec.end,
                "Activated",
                start,
            )
        )


def _s(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def measure(svc: Services, slack: FakeSlack, tenant: SandboxTenant) -> dict[str, Any]:
    started = time.perf_counter()
    await svc.start()
    start_s = time.perf_counter() - started
    rss = rss_mb()
    jobs = len(svc.trigger.scheduled()) if hasattr(svc.trigger, "scheduled") else -1
    planned = time.perf_counter()
    free = await burst(svc, slack, tenant, people("FREE", BURST), 1, 90)
    free["plan_seconds"] = time.perf_counter() - planned
    slack.pace_channels(per_second=1.0, burst=SLACK_BURST)
    paced = await burst(
        svc, slack, tenant, people("PACED", PACED_PEOPLE), PACED_EACH, PACED_WINDOW_S
    )
    await svc.aclose()
    return {
        "start_seconds": start_s,
        "rss_mb": rss,
        "rss_mb_after_burst": rss_mb(),
        "jobs_scheduled": jobs,
        "burst_plan_seconds": free["plan_seconds"],
        "reminders_sent": free["sent"],
        "reminders_duplicates": free["duplicates"],
        "reminders_ended_notices": free["ended"],
        "late_p50_s": free["late_p50_s"],
        "late_p99_s": free["late_p99_s"],
        "late_max_s": free["late_max_s"],
        "planning_overran_s": free["planning_overran_s"],
        "paced": paced,
    }


async def burst(
    svc: Services,
    slack: FakeSlack,
    tenant: SandboxTenant,
    users: list[tuple[PersonKey, str]],
    each: int,
    window_s: float,
) -> dict[str, Any]:
    """Plan `each` reminders per user to fall due together; wait until each arrived once
    (or the window closed); how late they arrived, duplicates, 429s."""
    slack.profiles.update(profiles(users))
    due = datetime.now(UTC) + timedelta(
        seconds=BURST_LEAD_S + _plan_estimate(svc, tenant, each, len(users))
    )
    due_at = time.monotonic() + (due - datetime.now(UTC)).total_seconds()
    # Off the event loop, as a burst of activations would be: the scheduler and the
    # courier go on meanwhile.
    wanted = await asyncio.to_thread(plan_burst, svc, tenant, due, users, each)
    overran = max(0.0, time.monotonic() - due_at)  # planning still going when they fell due
    channels = {"D_" + key.chat_user_id for key, _ in users}
    deadline = due_at + window_s
    # The fake Slack's server thread fills its call list: polled, there is no event. Each
    # poll reads only the calls since the last one: reading them all each time (their
    # blocks parsed) took the bot's own loop for a good part of every second.
    tally = _Tally(channels)
    while time.monotonic() < deadline and len(tally.read(slack)[0]) < len(wanted):  # noqa: ASYNC110
        await asyncio.sleep(0.05)
    arrived, duplicates, ended = tally.read(slack)
    late = [max(0.0, at - due_at) for rid, at in arrived.items() if rid in wanted]
    limited = [
        c
        for c in slack.calls("chat.postMessage")
        if c.limited and c.body.get("channel") in channels
    ]
    return {
        "planned": len(wanted),
        "channels": len(channels),
        "sent": len(late),
        "duplicates": duplicates,
        "ended": ended,
        "late_p50_s": percentile(late, 50) if late else None,
        "late_p99_s": percentile(late, 99) if late else None,
        "late_max_s": max(late) if late else None,
        "ratelimited": len(limited),
        "planning_overran_s": overran,
    }


def _plan_estimate(svc: Services, tenant: SandboxTenant, each: int, count: int) -> float:
    """Seconds planning `count` people's reminders will take (twice a probe's pace): the
    burst must fall due after it is planned, or its lateness measures the planning. The
    probe's activations end hours later; they stay live and are not reminded."""
    began = time.perf_counter()
    plan_burst(svc, tenant, datetime.now(UTC) + timedelta(hours=3), people("PROBE", PROBE), each)
    return 2 * (time.perf_counter() - began) * count / PROBE


class _Tally:
    """Reminder DMs Slack accepted in these channels, read a poll at a time: when each
    request's first arrived, how many arrived more than once, and how many ended notices
    came instead."""

    def __init__(self, channels: set[str]) -> None:
        self._channels, self._seen = channels, 0
        self.first: dict[str, float] = {}
        self.duplicates = self.ended = 0

    def read(self, slack: FakeSlack) -> tuple[dict[str, float], int, int]:
        calls = slack.calls("chat.postMessage")
        for call in calls[self._seen :]:
            if call.limited or call.body.get("channel") not in self._channels:
                continue
            request_id = _request_id(call.body)
            if request_id is None:
                self.ended += 1
            elif request_id in self.first:
                self.duplicates += 1
            else:
                self.first[request_id] = call.at
        self._seen = len(calls)
        return self.first, self.duplicates, self.ended


def _request_id(body: dict[str, Any]) -> str | None:
    """The request a reminder DM is about: its Deactivate button's value."""
    blocks = body.get("blocks") or []
    blocks = json.loads(blocks) if isinstance(blocks, str) else blocks
    for block in blocks:
        for element in block.get("elements", []) if block.get("type") == "actions" else []:
            if element.get("action_id") == "reminder_deactivate":
                return str(element.get("value"))
    return None


def child(db: str) -> None:
    clock = SystemClock()
    tenant = SandboxTenant.from_seed(clock)
    # The fake Slack's loop server: the threaded one tops out near 300 calls a second,
    # which is what this burst measured before (not pimbot).
    with SandboxServer(create_app(tenant), tls=True) as sandbox, FakeSlack(fast=True) as slack:
        svc = services(Path(db), sandbox, slack)
        print(json.dumps(asyncio.run(measure(svc, slack, tenant))))


def main(argv: Sequence[str] = ()) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="pimbot-scale-") as tmp:
        db = Path(tmp) / "scale.db"
        began = time.perf_counter()
        with (
            SandboxServer(create_app(SandboxTenant.from_seed(SystemClock())), tls=True) as sb,
            FakeSlack() as slack,
        ):
            svc = services(db, sb, slack)
            asyncio.run(setup(svc))
        setup_s = time.perf_counter() - began
        out = subprocess.run(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-m", "bench.scale", "--child", str(db)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
    data = json.loads(out.stdout.strip().splitlines()[-1])
    data["setup_seconds"] = setup_s
    paced = data["paced"]
    table(
        f"Scale: {TOTAL:,} live activations ({2 * TOTAL:,} reminders) at start-up; then "
        f"{BURST:,} reminders to {BURST:,} people due at one moment (unthrottled Slack); then "
        f"{paced['planned']:,} to {paced['channels']} people (Slack: 1 post/s/channel, 429)",
        ["Services.start() s", "RSS MB", "jobs at start", "burst plan s"],
        [
            (
                f"{data['start_seconds']:.2f}",
                f"{data['rss_mb']:.0f}",
                data["jobs_scheduled"],
                f"{data['burst_plan_seconds']:.2f}",
            )
        ],
    )
    table(
        "Reminder bursts",
        [
            "Slack",
            "planned",
            "sent once",
            "duplicates",
            "ended notices",
            "429s",
            "late p50 s",
            "late p99 s",
            "late max s",
            "plan overran s",
        ],
        [
            (
                "unthrottled",
                BURST,
                data["reminders_sent"],
                data["reminders_duplicates"],
                data["reminders_ended_notices"],
                "-",
                _s(data["late_p50_s"]),
                _s(data["late_p99_s"]),
                _s(data["late_max_s"]),
                _s(data["planning_overran_s"]),
            ),
            (
                "1/s/channel, 429",
                paced["planned"],
                paced["sent"],
                paced["duplicates"],
                paced["ended"],
                paced["ratelimited"],
                _s(paced["late_p50_s"]),
                _s(paced["late_p99_s"]),
                _s(paced["late_max_s"]),
                _s(paced["planning_overran_s"]),
            ),
        ],
    )
    save("scale", data)
    return data


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        child(sys.argv[2])
