"""kill -9 a bot process with reminders pending; a new process on the same database sends
each reminder exactly once (APScheduler's SQLAlchemy job store + the store's claims)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.clock import SystemClock
from bot.simulators.sandbox import SandboxServer, SandboxTenant, create_app
from tests.support.processes import Worker, log_lines, wait_for_log
from tests.support.settings import make_settings, process_env

pytestmark = pytest.mark.slow  # processes killed with SIGKILL, reminders seconds away


@pytest.fixture
def real_sandbox() -> Iterator[SandboxServer]:
    with SandboxServer(create_app(SandboxTenant.from_seed(SystemClock())), tls=True) as server:
        yield server


def environment(server: SandboxServer, tmp_path: Path, lead: str) -> dict[str, str]:
    """A worker's environment: the sandbox, SQLite in tmp_path, one reminder `lead`
    before the end; the worker logs what it sends to tmp_path/sent.log."""
    settings = make_settings(tmp_path, sandbox=server, policy={"reminders": {"lead_times": [lead]}})
    return process_env(settings, CRASH_LOG=str(tmp_path / "sent.log"))


def test_reminder_due_after_kill_9_is_sent_once_by_the_next_process(
    real_sandbox: SandboxServer, tmp_path: Path
) -> None:
    env = environment(real_sandbox, tmp_path, "PT1M54S")  # due ~6 s after activation
    first = Worker(env, "activate", "2")
    first.expect("done")
    first.kill()
    second = Worker(env, "serve")
    try:
        (sent,) = wait_for_log(tmp_path / "sent.log", "remind")
        lead = sent.split()[1] + ":lead:"  # the reminder's id: <request id>:lead:<seconds>
        # Positive signal: the second process has nothing due or being sent and the lead
        # reminder is no longer planned (sent); nothing is left that could send it again.
        while True:
            scheduled = second.expect("settled").split()[1:]
            if not any(job.startswith(lead) for job in scheduled):
                break
        assert [job.split(":")[1] for job in scheduled] == ["ended"]  # still planned
    finally:
        second.kill()
    (line,) = log_lines(tmp_path / "sent.log", "remind")
    assert line.endswith(f"pid={second.pid}")


def test_a_reminder_sent_before_kill_9_is_not_sent_again(
    real_sandbox: SandboxServer, tmp_path: Path
) -> None:
    env = environment(real_sandbox, tmp_path, "PT1M57S")  # due ~3 s after activation
    first = Worker(env, "activate", "2")
    try:
        sent = wait_for_log(tmp_path / "sent.log", "remind")
    finally:
        first.kill()
    assert len(sent) == 1 and sent[0].endswith(f"pid={first.pid}")
    second = Worker(env, "serve")
    try:
        # Start-up re-planned what was unsent; `settled`: nothing due or being sent.
        second.expect("settled")
    finally:
        second.kill()
    assert log_lines(tmp_path / "sent.log", "remind") == sent
