"""kill -9 while Graph holds the activation POST (during a self-activation and during an
approval): after a restart the database, the sandbox and the user's DMs agree, and
nothing was done twice."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.clock import SystemClock
from bot.simulators.sandbox import Faults, SandboxServer, SandboxTenant, create_app
from tests.service.test_crash_restart import environment

ROOT = Path(__file__).resolve().parents[2]
REQUESTS = "/v1.0/roleManagement/directory/roleAssignmentScheduleRequests"
ALINE_ID = "7146daa8-1b4b-4a66-b2f7-cf593d03c8d2"
USER_ADMIN = "fe930be7-5e62-47db-91af-98c3a49a38b1"
GLOBAL_ADMIN = "62e90394-69f5-4237-9190-012177145e10"


class Tenant:
    def __init__(self) -> None:
        self.tenant = SandboxTenant.from_seed(SystemClock())
        self.faults = Faults()


@pytest.fixture
def world(tmp_path: Path) -> Iterator[tuple[Tenant, dict[str, str]]]:
    t = Tenant()
    with SandboxServer(create_app(t.tenant, faults=t.faults), tls=True) as server:
        env = environment(server, tmp_path, "15m")
        env["PIM_CONFIG"] = str(ROOT / "pimbot.yml")  # approvals: global-admin by U_ADMIN
        yield t, env


def start(env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.hardening.kill_worker", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    if proc.stdout.readline().strip() != "ready":
        proc.kill()
        raise AssertionError(proc.stderr.read() if proc.stderr else "worker failed")
    return proc


def kill_when(proc: subprocess.Popen[str], ready: object, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not ready() and time.monotonic() < deadline:  # type: ignore[operator]
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)


def state(env: dict[str, str], request_id: str | None = None) -> list[str]:
    db = env["PIM_DATABASE_URL"].removeprefix("sqlite:///")
    with sqlite3.connect(db) as conn:
        if request_id:
            rows = conn.execute("SELECT state FROM requests WHERE id = ?", (request_id,))
        else:
            rows = conn.execute("SELECT state FROM requests")
        return [r[0] for r in rows]


def dms(env: dict[str, str]) -> list[str]:
    log = Path(env["CRASH_LOG"])
    return log.read_text().splitlines() if log.exists() else []


def settled_active(lines: list[str]) -> list[str]:
    """Lines telling Aline her request was found active after the restart."""
    return [
        line for line in lines if line.startswith("settled slack:U_ALINE") and " active " in line
    ]


def restart_and_settle(env: dict[str, str]) -> list[str]:
    second = start(env, "serve")
    try:
        time.sleep(1.5)  # start-up recovery runs before "ready"; room for duplicates
    finally:
        second.kill()
        second.wait(timeout=10)
    return dms(env)


def test_kill_9_while_graph_holds_the_activation_then_restart_agrees(
    world: tuple[Tenant, dict[str, str]],
) -> None:
    t, env = world
    t.faults.lose_response(times=1, delay=10, deliver=True, method="POST", path=REQUESTS)
    first = start(env, "activate")
    kill_when(first, lambda: t.tenant.live_assignment(ALINE_ID, USER_ADMIN) is not None)
    assert state(env) == ["activating"]  # the crash left it mid-way
    writes = len(t.tenant.requests)

    lines = restart_and_settle(env)

    assert state(env) == ["active"]
    assert t.tenant.live_assignment(ALINE_ID, USER_ADMIN) is not None
    assert len(t.tenant.requests) == writes  # nothing activated twice
    assert len(settled_active(lines)) == 1


def test_kill_9_during_an_approval_then_restart_agrees(
    world: tuple[Tenant, dict[str, str]],
) -> None:
    t, env = world
    asker = start(env, "request-approval")
    assert asker.stdout is not None
    request_id = asker.stdout.readline().strip()
    asker.kill()
    asker.wait(timeout=10)
    assert state(env, request_id) == ["pending_approval"]
    t.faults.lose_response(times=1, delay=10, deliver=True, method="POST", path=REQUESTS)
    approver = start(env, "approve", request_id)
    kill_when(approver, lambda: t.tenant.live_assignment(ALINE_ID, GLOBAL_ADMIN) is not None)
    writes = len(t.tenant.requests)

    lines = restart_and_settle(env)

    assert state(env, request_id) == ["active"]
    assert t.tenant.live_assignment(ALINE_ID, GLOBAL_ADMIN) is not None
    assert len(t.tenant.requests) == writes
    assert len(settled_active(lines)) == 1
