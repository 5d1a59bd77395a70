"""Several `pimbot run` processes: SQLite refuses a second one on the same file (SQLite is
the single-instance default); the lock dies with its holder, SIGKILL included."""

from __future__ import annotations

import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.clock import OffsetClock
from bot.simulators.sandbox import Faults, SandboxServer, SandboxTenant, create_app
from tests.support.cast import ADMIN, ALINE, GLOBAL_ADMIN, MEGAN, USER_ADMIN
from tests.support.databases import postgres_url
from tests.support.payloads import block_actions
from tests.support.processes import free_port, pimbot_run
from tests.support.settings import SIGNING_SECRET, make_settings, process_env
from tests.support.signing import command_body, interaction_body, signed_headers
from tests.support.slack import FakeSlack
from tests.support.stack import GRAPH_WRITES

pytestmark = pytest.mark.slow  # `pimbot run` as real processes

ACTIVATE = "activate user-admin 1h CONTOSO:Security-012345 fix a user"
NEEDS_APPROVAL = "activate global-admin 1h need tenant-wide settings change"
RUN = "import sys; from bot.cli import main; sys.exit(main(['run']))"


def _second_run(env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - our own interpreter and code
        [sys.executable, "-c", RUN],
        cwd=cwd,
        env={**env, "PIM_PORT": str(free_port())},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_a_second_process_on_one_sqlite_file_is_refused_until_the_first_dies(
    tmp_path: Path,
) -> None:
    tenant = SandboxTenant.from_seed(OffsetClock())
    with FakeSlack() as slack, SandboxServer(create_app(tenant), tls=True) as sandbox:
        env = process_env(make_settings(tmp_path, sandbox=sandbox, slack_api_url=slack.api_url))
        with pimbot_run(env, tmp_path / "first.log") as (first, _url):
            refused = _second_run(env, tmp_path)
            assert refused.returncode == 2
            line = refused.stderr.strip().splitlines()[-1]
            assert line.startswith(f"pimbot: another pimbot (pid {first.pid}) is already running")
            assert "PostgreSQL" in line and "Traceback" not in refused.stderr
            first.kill()  # SIGKILL: no clean-up runs, the kernel drops the lock
            first.wait()
        with pimbot_run(env, tmp_path / "second.log") as (second, _url):
            assert second.poll() is None


def _spawn(env: dict[str, str], log: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = subprocess.Popen(  # noqa: S603 - our own interpreter and code
        [sys.executable, "-c", RUN],
        cwd=log.parent,
        env={**env, "PIM_PORT": str(port)},
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )
    return proc, f"http://127.0.0.1:{port}"


def _wait_up(proc: subprocess.Popen[bytes], url: str, log: Path) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{url}/healthz", timeout=5).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"a replica did not come up:\n{log.read_text()[-3000:]}")
        time.sleep(0.1)


def _holding(url: str) -> set[str]:
    """The locks a replica says it holds (`pimbot_lock_held{lock=...} 1.0`)."""
    text = httpx.get(f"{url}/metrics", timeout=10).text
    found = re.findall(r'^pimbot_lock_held\{lock="(\w+)"\} 1\.0$', text, re.MULTILINE)
    return set(found)


def _until(check: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, what
        time.sleep(0.2)


def _post(url: str, body: str) -> None:
    answer = httpx.post(
        f"{url}/slack/events", content=body, headers=signed_headers(SIGNING_SECRET, body)
    )
    assert answer.status_code == 200


def _approve_on_every_replica_at_once(slack: FakeSlack, urls: list[str]) -> None:
    """Aline asks for a role that needs approval; the admin's Approve reaches all three
    replicas at the same moment (a double click spread by the load balancer): decided
    once, one approver's answer says so, the others are told it was already decided; then
    the second approver's Approve, on another replica, completes the four eyes."""
    request = command_body(NEEDS_APPROVAL, user_id="U_ALINE", response_url=slack.response_url())
    _post(urls[0], request)
    card = _until_found(
        lambda: [
            c.body
            for c in slack.calls("chat.postMessage")
            if c.body["channel"] == "C_PIM_APPROVALS"
        ]
    )
    request_id = card["blocks"][-1]["elements"][0]["value"]
    response_urls = [slack.response_url() for _ in urls]
    clicks = [
        interaction_body(
            block_actions(ADMIN.slack_id, "approval_approve", request_id, response_url=r)
        )
        for r in response_urls
    ]
    barrier = threading.Barrier(len(urls))

    def click(url: str, body: str) -> None:
        barrier.wait()
        _post(url, body)

    threads = [threading.Thread(target=click, args=pair) for pair in zip(urls, clicks, strict=True)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    said = [
        str(slack.wait_for("response_url:" + r.rsplit("/", 1)[-1], timeout=30)[0].body["text"])
        for r in response_urls
    ]
    assert sum(text.startswith(f"You approved `{request_id}`") for text in said) == 1, said
    # The repository's Global Administrator needs two approvers (four eyes): Megan's
    # Approve, on another replica, is the second.
    second = slack.response_url()
    _post(urls[2], interaction_body(
        block_actions(MEGAN.slack_id, "approval_approve", request_id, response_url=second)
    ))  # fmt: skip
    text = str(
        slack.wait_for("response_url:" + second.rsplit("/", 1)[-1], timeout=30)[0].body["text"]
    )
    assert text.startswith(f"You approved `{request_id}`"), text


def _until_found(found: Callable[[], list[Any]], seconds: float = 30) -> Any:
    deadline = time.monotonic() + seconds
    while not (hits := found()):
        assert time.monotonic() < deadline, "not found in time"
        time.sleep(0.05)
    return hits[-1]


@pytest.fixture
def pg_url() -> Iterator[str]:
    yield from postgres_url()


def test_three_replicas_on_an_empty_postgresql_share_the_periodic_work(
    tmp_path: Path, pg_url: str
) -> None:
    """Three `pimbot run` started at once on an empty PostgreSQL schema (libpq's
    `options=-csearch_path=...` in the URL) all come up; one holds each lock; an activation
    sent to one is made once in Graph; SIGKILL the sweep's holder and a survivor holds
    the lock within 60 s."""
    faults = Faults()
    tenant = SandboxTenant.from_seed(OffsetClock())
    with FakeSlack() as slack, SandboxServer(create_app(tenant, faults=faults), tls=True) as sb:
        settings = make_settings(
            tmp_path, sandbox=sb, slack_api_url=slack.api_url, pim_database_url=pg_url
        )
        env = process_env(settings)
        replicas = [_spawn(env, tmp_path / f"replica{n}.log") for n in range(3)]
        try:
            for n, (proc, url) in enumerate(replicas):
                _wait_up(proc, url, tmp_path / f"replica{n}.log")
            held = [_holding(url) for _, url in replicas]
            assert sorted(lock for each in held for lock in each) == ["scheduler", "sweep"]

            body = command_body(ACTIVATE, user_id="U_ALINE", response_url=slack.response_url())
            answer = httpx.post(
                f"{replicas[1][1]}/slack/events",
                content=body,
                headers=signed_headers(SIGNING_SECRET, body),
            )
            assert answer.status_code == 200
            _until(
                lambda: tenant.live_assignment(ALINE.id, USER_ADMIN) is not None,
                30,
                "no activation",
            )
            assert faults.count("POST", GRAPH_WRITES) == 1

            _approve_on_every_replica_at_once(slack, [url for _, url in replicas])
            assert tenant.live_assignment(ALINE.id, GLOBAL_ADMIN) is not None
            assert faults.count("POST", GRAPH_WRITES) == 2  # one per activation, no more

            leader = next(n for n, each in enumerate(held) if "sweep" in each)
            replicas[leader][0].kill()  # SIGKILL
            replicas[leader][0].wait()
            survivors = [url for n, (_, url) in enumerate(replicas) if n != leader]
            _until(
                lambda: sum("sweep" in _holding(url) for url in survivors) == 1,
                60,
                "no survivor took the sweep lock within 60 s",
            )
            _until(
                lambda: sum("scheduler" in _holding(url) for url in survivors) == 1,
                60,
                "no survivor took the scheduler lock within 60 s",
            )
        finally:
            for proc, _ in replicas:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
