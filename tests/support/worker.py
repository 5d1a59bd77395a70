"""A bot process to kill -9 in the middle of things: real services, APScheduler on the
SQLite database, the sandbox over HTTPS, settings from the environment (see
`settings.process_env`). Every request it settles after a restart, reminder and ended
notice is one line in $CRASH_LOG (`settled slack:U_ALINE <id> active pid=…`,
`remind <id> pid=…`, `ended <id> pid=…`).

    python -m tests.support.worker serve | activate MINUTES | request-approval | approve ID

It prints `ready` once started (start-up recovery has run), does what it was asked,
prints `done` (a request id first after `request-approval`), then `settled ID…` each time
it has nothing due and nothing being sent and its planned reminders (the ids listed:
unsent, with a wake at their moment) differ from the last such line: the positive signal
that it has finished what it was going to do for now. It runs until killed. Start it with
`processes.Worker`.
"""

from __future__ import annotations

import asyncio
import os
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from bot.domain.approvals import Tally
from bot.domain.command_types import Activate, Approve
from bot.domain.reminders import wake_at
from bot.domain.requests import ActivationRecord
from bot.settings import Settings
from bot.store import scheduler
from bot.wiring import Services, build_services
from tests.support.cast import ADMIN, ALINE, MEGAN, TICKET
from tests.support.slack_ports import FakeDirectory, RecordingNotifier


class FileNotifier(RecordingNotifier):
    async def activation_settled(self, record: ActivationRecord) -> None:
        _append(f"settled {record.requester} {record.id} {record.state}")

    async def remind(self, record: ActivationRecord, now: datetime) -> None:
        _append(f"remind {record.id}")

    async def notify_ended(self, record: ActivationRecord, detail: str | None) -> None:
        _append(f"ended {record.id}")

    async def update_approval_card(
        self, record: ActivationRecord, tally: Tally | None = None
    ) -> None:
        self.cards[record.id] = record  # posted by an earlier process, on the same database


def _append(line: str) -> None:
    with Path(os.environ["CRASH_LOG"]).open("a") as out:
        out.write(f"{line} pid={os.getpid()}\n")
        out.flush()
        os.fsync(out.fileno())


async def settled(services: Services) -> None:
    """Until no wake is due and none is running or waiting for its moment, twice in a
    row (a job APScheduler has just taken off its table registers as running on the
    loop's next turn)."""
    trigger: Any = services.trigger
    quiet = 0
    while quiet < 2:
        await asyncio.sleep(0.05)
        now = services.clock.now()
        due = [at for at in trigger.scheduled() if at <= now]
        running = scheduler._RUNNING.get(trigger.name)
        waiting = scheduler._WAITING.get(trigger.name)  # woken early for their moment
        quiet = quiet + 1 if not due and not running and not waiting else 0


def planned(services: Services) -> set[str]:
    """Unsent reminders this process will wake for: a wake is scheduled at their moment
    (rounded up to the wake grid)."""
    trigger: Any = services.trigger
    moments = trigger.scheduled()
    unsent = services.store.list_reminders(unsent_only=True)
    return {r.id for r in unsent if wake_at(r.due_at) in moments}


async def report_settled(services: Services) -> None:
    last: set[str] | None = None
    while True:
        await settled(services)
        reminders = planned(services)
        if reminders != last:
            print("settled", *sorted(reminders), flush=True)
            last = reminders


async def main(mode: str, arg: str | None) -> None:
    settings = Settings(_env_file=None)
    services = build_services(settings, directory=FakeDirectory(), notifier=FileNotifier())
    await services.start(sweep_seconds=3600)  # only APScheduler triggers, as in production
    print("ready", flush=True)
    why = f"kill -9 test: {mode}"
    if mode == "activate":
        await services.pimbot.handle(
            ALINE.key, Activate("user-admin", timedelta(minutes=float(arg or 60)), TICKET, why)
        )
    elif mode == "request-approval":
        out = await services.pimbot.handle(
            ALINE.key, Activate("global-admin", timedelta(hours=1), TICKET, why)
        )
        print(out.record.id if out.record else "", flush=True)
    elif mode == "approve" and arg:
        # The repository's pimbot.yml: Global Administrator needs the admin and Megan.
        await services.pimbot.handle(ADMIN.key, Approve(arg))
        await services.pimbot.handle(MEGAN.key, Approve(arg))
    print("done", flush=True)
    await report_settled(services)  # until killed


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else None))
