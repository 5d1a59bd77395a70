"""A bot process for crash tests: real services, APScheduler on SQLite, the sandbox over
HTTPS. Reminders and ended notices are appended to a file, one line each.

    python -m tests.service.crash_worker activate|serve  (settings from the environment)
"""

from __future__ import annotations

import asyncio
import os
import sys
from datetime import datetime, timedelta
from pathlib import Path

from bot.domain.requests import ActivationRecord
from bot.settings import Settings
from bot.wiring import build_services
from tests.support.slack_ports import FakeDirectory, RecordingNotifier


class FileNotifier(RecordingNotifier):
    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path

    async def remind(self, record: ActivationRecord, now: datetime) -> None:
        self._line(f"remind {record.id}")

    async def notify_ended(self, record: ActivationRecord, detail: str | None) -> None:
        self._line(f"ended {record.id}")

    def _line(self, text: str) -> None:
        with self.path.open("a") as out:
            out.write(f"{text} pid={os.getpid()}\n")
            out.flush()
            os.fsync(out.fileno())


async def main(mode: str) -> None:
    settings = Settings(_env_file=None)
    notifier = FileNotifier(Path(os.environ["CRASH_LOG"]))
    services = build_services(settings, directory=FakeDirectory(), notifier=notifier)
    await services.start(sweep_seconds=3600)  # only APScheduler triggers, as in production
    if mode == "activate":
        await services.service.request_activation(
            "U_ALINE",
            "user-admin",
            timedelta(minutes=2),
            "CONTOSO:Security-012345",
            "crash test: reminders survive kill -9",
        )
    print("ready", flush=True)
    await asyncio.Event().wait()  # until killed


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
