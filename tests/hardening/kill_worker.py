"""A bot process to kill -9 in the middle of things. Every DM it sends is one line in
$CRASH_LOG, so the test can tell what the user heard and from which process.

    python -m tests.hardening.kill_worker serve|activate|request-approval|approve <id>
"""

from __future__ import annotations

import asyncio
import os
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

from bot.settings import Settings
from bot.wiring import build_services
from tests.support.slack_ports import FakeDirectory, RecordingNotifier

TICKET = "CONTOSO:Security-012345"


class FileNotifier(RecordingNotifier):
    async def send_dm(self, slack_user_id: str, text: str, blocks: Any = None) -> None:
        _append(f"dm {slack_user_id} {text!r} pid={os.getpid()}")


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
        await svc.service.request_activation(
            "U_ALINE", "user-admin", timedelta(hours=1), TICKET, "kill -9 mid-activation"
        )
    elif mode == "request-approval":
        out = await svc.service.request_activation(
            "U_ALINE", "global-admin", timedelta(hours=1), TICKET, "kill -9 mid-approval"
        )
        print(out.record.id if out.record else "", flush=True)
    elif mode == "approve" and arg:
        await svc.approvals.approve(arg, "U_ADMIN")
    print("done", flush=True)
    await asyncio.Event().wait()  # until killed


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else None))
