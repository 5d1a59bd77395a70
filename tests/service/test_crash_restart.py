"""kill -9 a bot process with reminders pending; a new process on the same database sends
each reminder exactly once (APScheduler's SQLAlchemy job store + the store's claims)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.clock import SystemClock
from bot.simulators.sandbox import (
    SANDBOX_CLIENT_ID,
    SANDBOX_CLIENT_SECRET,
    SANDBOX_TENANT_ID,
    SandboxServer,
    SandboxTenant,
    create_app,
)

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def real_sandbox() -> Iterator[SandboxServer]:
    with SandboxServer(create_app(SandboxTenant.from_seed(SystemClock())), tls=True) as server:
        yield server


def environment(server: SandboxServer, tmp_path: Path, lead: str) -> dict[str, str]:
    config = tmp_path / "pimbot.yml"
    config.write_text(f"reminders:\n  lead_times: [{lead}]\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "AZURE_", "PIM_"))}
    env.update(
        AZURE_TENANT_ID=SANDBOX_TENANT_ID,
        AZURE_CLIENT_ID=SANDBOX_CLIENT_ID,
        AZURE_CLIENT_SECRET=SANDBOX_CLIENT_SECRET,
        AZURE_AUTHORITY_HOST=server.url,
        PIM_GRAPH_URL=server.url,
        PIM_CA_FILE=server.ca_file,
        PIM_CONFIG=str(config),
        PIM_DATABASE_URL=f"sqlite:///{tmp_path / 'bot.db'}",
        CRASH_LOG=str(tmp_path / "sent.log"),
    )
    return env


def start(mode: str, env: dict[str, str]) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.service.crash_worker", mode],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if line.strip() != "ready":
        proc.kill()
        raise AssertionError(f"worker failed: {line}{proc.stderr.read() if proc.stderr else ''}")
    return proc


def wait_for_lines(log: Path, count: int, timeout: float) -> list[str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        lines = log.read_text().splitlines() if log.exists() else []
        if len(lines) >= count:
            return lines
        time.sleep(0.1)
    return log.read_text().splitlines() if log.exists() else []


def stop(proc: subprocess.Popen[str]) -> None:
    proc.kill()
    proc.wait(timeout=10)


def test_reminder_due_after_kill_9_is_sent_once_by_the_next_process(
    real_sandbox: SandboxServer, tmp_path: Path
) -> None:
    env = environment(real_sandbox, tmp_path, "PT1M54S")  # due ~6 s after activation
    first = start("activate", env)
    os.kill(first.pid, signal.SIGKILL)
    first.wait(timeout=10)
    second = start("serve", env)
    try:
        lines = wait_for_lines(tmp_path / "sent.log", 1, timeout=30)
        time.sleep(2)  # room for a duplicate to show up
        lines = (tmp_path / "sent.log").read_text().splitlines()
    finally:
        stop(second)
    assert len(lines) == 1 and lines[0].startswith("remind ")
    assert lines[0].endswith(f"pid={second.pid}")


def test_a_reminder_sent_before_kill_9_is_not_sent_again(
    real_sandbox: SandboxServer, tmp_path: Path
) -> None:
    env = environment(real_sandbox, tmp_path, "PT1M57S")  # due ~3 s after activation
    first = start("activate", env)
    try:
        sent = wait_for_lines(tmp_path / "sent.log", 1, timeout=30)
    finally:
        os.kill(first.pid, signal.SIGKILL)
        first.wait(timeout=10)
    assert len(sent) == 1
    second = start("serve", env)
    try:
        time.sleep(3)
    finally:
        stop(second)
    assert (tmp_path / "sent.log").read_text().splitlines() == sent
