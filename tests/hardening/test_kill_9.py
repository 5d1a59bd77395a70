"""kill -9 while Graph holds the activation POST (during a self-activation and during an
approval): after a restart the database, the sandbox and the user's DMs agree, and
nothing was done twice."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bot.clock import SystemClock
from bot.simulators.sandbox import Faults, SandboxServer, SandboxTenant, create_app
from tests.support.cast import ALINE, GLOBAL_ADMIN, USER_ADMIN
from tests.support.processes import Worker, log_lines
from tests.support.settings import make_settings, process_env
from tests.support.stack import GRAPH_WRITES

pytestmark = pytest.mark.slow  # bot processes killed with SIGKILL


class Tenant:
    def __init__(self) -> None:
        self.tenant = SandboxTenant.from_seed(SystemClock())
        self.faults = Faults()


@pytest.fixture
def world(tmp_path: Path) -> Iterator[tuple[Tenant, dict[str, str]]]:
    t = Tenant()
    with SandboxServer(create_app(t.tenant, faults=t.faults), tls=True) as server:
        # The repository's pimbot.yml: global-admin needs approval by U_ADMIN and U_MEGAN.
        settings = make_settings(tmp_path, sandbox=server)
        yield t, process_env(settings, CRASH_LOG=str(tmp_path / "sent.log"))


def kill_when(worker: Worker, ready: Callable[[], bool], timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        assert time.monotonic() < deadline, "the worker never got that far"
        time.sleep(0.01)
    worker.kill()


def state(env: dict[str, str], request_id: str | None = None) -> list[str]:
    db = env["PIM_DATABASE_URL"].removeprefix("sqlite:///")
    with sqlite3.connect(db) as conn:
        if request_id:
            rows = conn.execute("SELECT state FROM requests WHERE id = ?", (request_id,))
        else:
            rows = conn.execute("SELECT state FROM requests")
        return [r[0] for r in rows]


def settled_active(lines: list[str]) -> list[str]:
    """Lines telling Aline her request was found active after the restart."""
    return [ln for ln in lines if ln.startswith("settled slack:U_ALINE") and " active " in ln]


def restart_and_settle(env: dict[str, str]) -> list[str]:
    """A new process on the same database, until it has settled; what it settled by then."""
    second = Worker(env, "serve")
    try:
        second.expect("settled")  # start-up recovery done, nothing due or being sent
    finally:
        second.kill()
    return log_lines(Path(env["CRASH_LOG"]), "settled")


def test_kill_9_while_graph_holds_the_activation_then_restart_agrees(
    world: tuple[Tenant, dict[str, str]],
) -> None:
    t, env = world
    t.faults.lose_response(times=1, delay=10, deliver=True, method="POST", path=GRAPH_WRITES)
    first = Worker(env, "activate", "60")
    kill_when(first, lambda: t.tenant.live_assignment(ALINE.id, USER_ADMIN) is not None)
    assert state(env) == ["activating"]  # the crash left it mid-way
    writes = len(t.tenant.requests)

    lines = restart_and_settle(env)

    assert state(env) == ["active"]
    assert t.tenant.live_assignment(ALINE.id, USER_ADMIN) is not None
    assert len(t.tenant.requests) == writes  # nothing activated twice
    assert len(settled_active(lines)) == 1


def test_kill_9_during_an_approval_then_restart_agrees(
    world: tuple[Tenant, dict[str, str]],
) -> None:
    t, env = world
    asker = Worker(env, "request-approval")
    request_id = asker.line()
    asker.kill()
    assert state(env, request_id) == ["pending_approval"]
    t.faults.lose_response(times=1, delay=10, deliver=True, method="POST", path=GRAPH_WRITES)
    approver = Worker(env, "approve", request_id)
    kill_when(approver, lambda: t.tenant.live_assignment(ALINE.id, GLOBAL_ADMIN) is not None)
    writes = len(t.tenant.requests)

    lines = restart_and_settle(env)

    assert state(env, request_id) == ["active"]
    assert t.tenant.live_assignment(ALINE.id, GLOBAL_ADMIN) is not None
    assert len(t.tenant.requests) == writes
    assert len(settled_active(lines)) == 1
