"""Scale: 10,000 live activations with reminders in the store and the APScheduler
SQLAlchemy job store. A fresh process measures `Services.start()`, its resident memory,
and how late reminders fire (the DM reaching the fake Slack) when 1,000 of them fall due
at the same moment, on the real scheduler and the wall clock.

Set-up (not timed) inserts the records and plans their reminders through ReminderService."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.common import percentile, save, table
from bot.clock import SystemClock
from bot.domain.requests import ActivationRecord
from bot.service.activation import new_request_id
from bot.settings import Settings
from bot.simulators.sandbox import SandboxServer, SandboxTenant, create_app
from bot.store import SqlStore
from bot.wiring import Services, build_services
from handlers.people import SlackUserDirectory
from tests.support.outbox import notifier_for
from tests.support.records import activation_record
from tests.support.settings import BOT_TOKEN, ROOT, make_settings
from tests.support.slack import FakeSlack

TOTAL, BURST = 10_000, 1_000
BURST_LEAD_S = 15  # the burst falls due this long after it is planned
LEAD = timedelta(minutes=15)


def settings(db: Path, sandbox: SandboxServer, slack_url: str) -> Settings:
    return make_settings(
        sandbox=sandbox, slack_api_url=slack_url, pim_database_url=f"sqlite:///{db}"
    )


def services(db: Path, sandbox: SandboxServer, slack: FakeSlack) -> Services:
    from slack_sdk.web.async_client import AsyncWebClient

    s = settings(db, sandbox, slack.api_url)
    client = AsyncWebClient(token=BOT_TOKEN, base_url=slack.api_url)
    config = s.policy()
    # As production wires it: reminders go out through the outbox courier.
    store = SqlStore.from_url(s.pim_database_url, clock=SystemClock())
    notifier, courier = notifier_for(client, config, store)
    return build_services(
        s,
        directory=SlackUserDirectory(client),
        notifier=notifier,
        store=store,
        background=(courier,),
    )


def record(end: datetime) -> ActivationRecord:
    now = datetime.now(UTC)
    return activation_record(
        id=new_request_id(),
        duration=end - now,
        justification="scale benchmark",
        created_at=now,
        updated_at=now,
        start=now,
    ).with_changes(ticket=None, end=end)


async def setup(svc: Services) -> None:
    await svc.start()
    now = datetime.now(UTC)
    for i in range(TOTAL):
        rec = record(now + timedelta(hours=4, seconds=i))
        svc.store.add_request(rec)
        svc.reminders.plan(rec)
    await svc.aclose()


def plan_burst(svc: Services, due: datetime) -> None:
    for _ in range(BURST):
        rec = record(due + LEAD)
        svc.store.add_request(rec)
        svc.reminders.plan(rec)


def _s(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def measure(svc: Services, slack: FakeSlack) -> dict[str, Any]:
    started = time.perf_counter()
    await svc.start()
    start_s = time.perf_counter() - started
    rss = rss_mb()
    jobs = len(svc.trigger.scheduled()) if hasattr(svc.trigger, "scheduled") else -1
    planned = time.perf_counter()
    due = datetime.now(UTC) + timedelta(seconds=BURST_LEAD_S)
    plan_burst(svc, due)
    plan_s = time.perf_counter() - planned
    arrived: list[float] = []
    seen = 0
    deadline = time.time() + (due - datetime.now(UTC)).total_seconds() + 90
    while len(arrived) < BURST and time.time() < deadline:
        calls = slack.calls("chat.postMessage")
        dms = [
            c
            for c in calls[seen:]
            if str(c.body.get("channel", "")).startswith("D") or c.body.get("channel") == "U_ALINE"
        ]
        seen = len(calls)
        arrived += [time.time()] * len(dms)
        await asyncio.sleep(0.01)
    await svc.aclose()
    late = [max(0.0, t - due.timestamp()) for t in arrived]
    return {
        "start_seconds": start_s,
        "rss_mb": rss,
        "rss_mb_after_burst": rss_mb(),
        "jobs_scheduled": jobs,
        "burst_plan_seconds": plan_s,
        "reminders_sent": len(arrived),
        "late_p50_s": percentile(late, 50) if late else None,
        "late_p99_s": percentile(late, 99) if late else None,
        "late_max_s": max(late) if late else None,
    }


def child(db: str) -> None:
    clock = SystemClock()
    with (
        SandboxServer(create_app(SandboxTenant.from_seed(clock)), tls=True) as sandbox,
        FakeSlack() as slack,
    ):
        svc = services(Path(db), sandbox, slack)
        print(json.dumps(asyncio.run(measure(svc, slack))))


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
    table(
        f"Scale: {TOTAL:,} live activations ({2 * TOTAL:,} reminders) at start-up; then "
        f"{BURST:,} more planned to fall due at the same moment",
        [
            "Services.start() s",
            "RSS MB",
            "jobs at start",
            "burst plan s",
            "sent",
            "late p50 s",
            "late p99 s",
            "late max s",
        ],
        [
            (
                f"{data['start_seconds']:.2f}",
                f"{data['rss_mb']:.0f}",
                data["jobs_scheduled"],
                f"{data['burst_plan_seconds']:.2f}",
                data["reminders_sent"],
                _s(data["late_p50_s"]),
                _s(data["late_p99_s"]),
                _s(data["late_max_s"]),
            )
        ],
    )
    save("scale", data)
    return data


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        child(sys.argv[2])
