"""A bot process to kill -9 in the middle of things. Every fact it tells a user is one
line in $CRASH_LOG, so the test can tell what the user heard and from which process.

    python -m tests.hardening.kill_worker serve|activate|request-approval|approve <id>
"""

from __future__ import annotations

import asyncio
import os
import sys
from datetime import timedelta
from pathlib import Path

from bot.domain.command_types import Activate, Approve
from bot.domain.people import slack
from bot.domain.requests import ActivationRecord
from bot.settings import Settings
from bot.wiring import build_services
from tests.fakes.slack_ports import FakeDirectory, RecordingNotifier

TICKET = "CONTOSO:Security-012345"


class FileNotifier(RecordingNotifier):
    async def activation_settled(self, record: ActivationRecord) -> None:
        _append(f"settled {record.requester} {record.id} {record.state} pid={os.getpid()}")


def _append(line: str) -> None:
    with Path(os.environ["CRASH_LOG"]).open("a") as out:
        out.write(line + "\n")
        out.flush()
        os.fsync(out.fileno())


async def main(mode: str, arg: str | None) -> None:
    settings = Settings(_env_file=None)
    svc = build_services(settings, directory=FakeDirectory(), notifier=FileNotifier())
    await svc.start(sweep_seconds=3600)
    print("ready", flush=True)
    if mode == "activate":
        await svc.pimbot.handle(
            slack("U_ALINE"),
            Activate("user-admin", timedelta(hours=1), TICKET, "kill -9 mid-activation"),
        )
    elif mode == "request-approval":
        out = await svc.pimbot.handle(
            slack("U_ALINE"),
            Activate("global-admin", timedelta(hours=1), TICKET, "kill -9 mid-approval"),
        )
        print(out.record.id if out.record else "", flush=True)
    elif mode == "approve" and arg:
        await svc.pimbot.handle(slack("U_ADMIN"), Approve(arg))
    print("done", flush=True)
    await asyncio.Event().wait()  # until killed


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else None))
