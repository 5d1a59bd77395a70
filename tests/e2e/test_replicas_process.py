"""Several `pimbot run` processes: SQLite refuses a second one on the same file (SQLite is
the single-instance default); the lock dies with its holder, SIGKILL included."""

from __future__ import annotations

import contextlib
import json
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
import sqlalchemy as sa

from bot.clock import OffsetClock
from bot.simulators.sandbox import Faults, SandboxServer, SandboxTenant, create_app
from tests.support.cast import (
    ADMIN,
    ALINE,
    DIEGO,
    GLOBAL_ADMIN,
    GLOBAL_READER,
    MEGAN,
    SECURITY_ADMIN,
    SECURITY_READER,
    USER_ADMIN,
)
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


@contextlib.contextmanager
def _replicas_up(
    env: dict[str, str], tmp_path: Path, count: int
) -> Iterator[list[tuple[subprocess.Popen[bytes], str]]]:
    """`count` `pimbot run` processes, each answering /healthz; the ones still alive are
    killed on the way out."""
    replicas = [_spawn(env, tmp_path / f"replica{n}.log") for n in range(count)]
    try:
        for n, (proc, url) in enumerate(replicas):
            _wait_up(proc, url, tmp_path / f"replica{n}.log")
        yield replicas
    finally:
        for proc, _ in replicas:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


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
        with _replicas_up(env, tmp_path, 3) as replicas:
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


# Short leases so a takeover is quick: renewed every 0.5 s, lapsed 2 s after its replica
# stopped renewing (production: 30 s and 10 s, README "Several replicas").
LEASED = {"PIM_LEASE_SECONDS": "2", "PIM_LEASE_SCAN_SECONDS": "0.5"}
SECURITY = "activate security-admin 1h CONTOSO:Security-012345 review alerts"


def _said(slack: FakeSlack, *words: str) -> list[str]:
    """Every text the bot sent anywhere (messages, DMs, replies) holding all `words`."""
    texts = [str(c.body.get("text", "")) for c in slack.calls()]
    return [t for t in texts if all(w in t for w in words)]


def _live(tenant: SandboxTenant, user: str, role: str) -> int:
    return sum(a.principal_id == user and a.role_id == role for a in tenant.live_assignments())


def test_an_activation_its_replica_died_in_is_finished_once_by_a_survivor(
    tmp_path: Path, pg_url: str
) -> None:
    """Two replicas; the one handling `/pim activate` is SIGKILLed while Graph holds its
    POST: (1) after Graph made the activation but before its answer came back, (2) before
    Graph made it. Each time the survivor takes the request's lapsed lease over and
    finishes it within 60 s: one activation in the sandbox, the requester told once."""
    faults = Faults()
    tenant = SandboxTenant.from_seed(OffsetClock())
    with FakeSlack() as slack, SandboxServer(create_app(tenant, faults=faults), tls=True) as sb:
        settings = make_settings(
            tmp_path, sandbox=sb, slack_api_url=slack.api_url, pim_database_url=pg_url
        )
        env = {**process_env(settings), **LEASED}
        replicas = [_spawn(env, tmp_path / f"replica{n}.log") for n in range(3)]
        try:
            for n, (proc, url) in enumerate(replicas[:2]):
                _wait_up(proc, url, tmp_path / f"replica{n}.log")
            # (1) Graph makes the activation; its answer is held back, then lost.
            faults.lose_response(delay=15, method="POST", path=GRAPH_WRITES)
            _post(
                replicas[0][1],
                command_body(ACTIVATE, user_id="U_ALINE", response_url=slack.response_url()),
            )
            _until(lambda: faults.count("POST", GRAPH_WRITES) == 1, 30, "no POST reached Graph")
            killed = time.monotonic()
            replicas[0][0].kill()
            replicas[0][0].wait()
            _until(
                lambda: len(_said(slack, "User Administrator", "is now active")) == 1,
                60,
                "the survivor did not finish the activation within 60 s",
            )
            assert (took := time.monotonic() - killed) < 60
            print(f"\nfinished by a survivor {took:.1f} s after the SIGKILL")  # the figure
            assert faults.count("POST", GRAPH_WRITES) == 1  # settled from Graph: not asked again
            assert _live(tenant, ALINE.id, USER_ADMIN) == 1

            # (2) Graph holds the POST before making anything; a third replica came up.
            _wait_up(replicas[2][0], replicas[2][1], tmp_path / "replica2.log")
            held = faults.latency(8, method="POST", path=GRAPH_WRITES)
            _post(
                replicas[1][1],
                command_body(SECURITY, user_id="U_ALINE", response_url=slack.response_url()),
            )
            _until(lambda: held.times == 0, 30, "no POST reached Graph")
            killed = time.monotonic()
            replicas[1][0].kill()
            replicas[1][0].wait()
            _until(
                lambda: len(_said(slack, "Security Administrator", "is now active")) == 1,
                60,
                "the survivor did not finish the activation within 60 s",
            )
            assert (took := time.monotonic() - killed) < 60
            print(f"\nfinished by a survivor {took:.1f} s after the SIGKILL")  # the figure
            # The dead replica's POST, let through at last, is refused as a duplicate.
            _until(lambda: faults.count("POST", GRAPH_WRITES) == 3, 30, "the held POST never came")
            writes = [c.status for c in faults.find("POST", GRAPH_WRITES)]
            assert sorted(writes[1:]) == [201, 400], writes
            assert _live(tenant, ALINE.id, SECURITY_ADMIN) == 1
            time.sleep(2)  # a second takeover would have told the user again by now
            assert len(_said(slack, "is now active")) == 2
        finally:
            for proc, _ in replicas:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()


KEPT_BY = "SELECT kind FROM intake WHERE claimed_by LIKE :p"
GR, SR = "Global Reader", "Security Reader"
QUEUED = (
    ("U_MEGAN", 'activate "Global Reader" 1h CONTOSO:Security-012345 read the settings'),
    ("U_DIEGO", 'activate "Security Reader" 1h CONTOSO:Security-012345 read the reports'),
)


def _half_approved(slack: FakeSlack, url: str) -> str:
    """Aline's Global Administrator request (the admin and Megan must approve), the
    admin's Approve counted: the request id."""
    _post(url, command_body(NEEDS_APPROVAL, user_id="U_ALINE", response_url=slack.response_url()))
    card = _until_found(
        lambda: [
            c.body
            for c in slack.calls("chat.postMessage")
            if c.body["channel"] == "C_PIM_APPROVALS"
        ]
    )
    request_id = str(card["blocks"][-1]["elements"][0]["value"])
    said = slack.response_url()
    _post(url, _click(ADMIN.slack_id, request_id, said))
    text = slack.wait_for("response_url:" + said.rsplit("/", 1)[-1], timeout=30)[0].body["text"]
    assert "1 of 2 approvals" in str(text), text
    return request_id


def _click(user: str, request_id: str, response_url: str) -> str:
    return interaction_body(
        block_actions(user, "approval_approve", request_id, response_url=response_url)
    )


def test_commands_a_replica_acked_but_never_started_are_carried_out_by_a_survivor(
    tmp_path: Path, pg_url: str
) -> None:
    """One worker a replica (PIM_WORKERS=1): while Graph holds Aline's activation, two more
    commands and Megan's deciding Approve are acked ("Working on it…") and wait in the
    victim's memory, never stored. SIGKILL. The survivor replays them from the intake
    (bot/service/intake.py) and answers each through its own response_url within 60 s;
    the held one is carried on by its request's lease. Each role live once, each person
    told once, nothing kept."""
    faults = Faults()
    tenant = SandboxTenant.from_seed(OffsetClock())
    with FakeSlack() as slack, SandboxServer(create_app(tenant, faults=faults), tls=True) as sb:
        settings = make_settings(
            tmp_path, sandbox=sb, slack_api_url=slack.api_url, pim_database_url=pg_url
        )
        env = {**process_env(settings), **LEASED, "PIM_WORKERS": "1"}
        with _replicas_up(env, tmp_path, 2) as replicas:
            (victim, victim_url), (_, survivor_url) = replicas
            request_id = _half_approved(slack, survivor_url)
            held = faults.latency(8, times=1, method="POST", path=GRAPH_WRITES)
            aline = slack.response_url()
            _post(victim_url, command_body(ACTIVATE, user_id="U_ALINE", response_url=aline))
            _until(lambda: held.times == 0, 30, "no POST reached Graph")
            urls = {user: slack.response_url() for user, _ in QUEUED}
            for user, text in QUEUED:  # acked at once, queued behind the held activation
                _post(victim_url, command_body(text, user_id=user, response_url=urls[user]))
            approved = slack.response_url()
            _post(victim_url, _click(MEGAN.slack_id, request_id, approved))
            # Kept just after their ack (a kill before that loses them: README): so wait.
            _until(
                lambda: len(_rows(pg_url, KEPT_BY, p=f"%:{victim.pid}:%")) == 4,
                30,
                "the held command, the two waiting and the click were not all kept",
            )
            assert not _said(slack, "Global Reader") and not _said(slack, "Security Reader")
            assert not slack.responses(approved)
            killed = time.monotonic()
            victim.kill()
            victim.wait()

            for user, role in (("U_MEGAN", GR), ("U_DIEGO", SR)):
                answer = _until_found(lambda url=urls[user]: slack.responses(url), 60)  # type: ignore[misc]
                assert f"*{role}* is active until" in answer["text"], answer
            _until(
                lambda: len(_said(slack, "User Administrator", "is now active")) == 1,
                60,
                "the survivor did not finish the held activation within 60 s",
            )
            said = _until_found(lambda: slack.responses(approved), 60)
            assert said["text"] == f"You approved `{request_id}`.", said
            assert (took := time.monotonic() - killed) < 60
            print(f"\nacked commands carried out {took:.1f} s after the SIGKILL")  # the figure
            assert _live(tenant, MEGAN.id, GLOBAL_READER) == 1
            assert _live(tenant, DIEGO.id, SECURITY_READER) == 1
            assert _live(tenant, ALINE.id, GLOBAL_ADMIN) == 1
            _until(lambda: faults.count("POST", GRAPH_WRITES) >= 5, 30, "the held POST never came")
            assert _live(tenant, ALINE.id, USER_ADMIN) == 1
            time.sleep(2)  # a second replay would have answered again by now
            for url in (*urls.values(), approved):
                assert len(slack.responses(url)) == 1
            # Aline's command, stored as a request before the kill, is not replayed: its
            # request's lease carried it on, and told her by DM (once, above), not again.
            assert slack.responses(aline) == []
            told = [_said(slack, f"*{role}* is active until") for role in (GR, SR)]
            assert [len(t) for t in told] == [2, 2], told  # the answer, and its copy by DM
            assert _rows(pg_url, "SELECT id FROM intake") == []


def test_commands_acked_before_a_crash_are_carried_out_by_the_restarted_bot(
    tmp_path: Path,
) -> None:
    """SQLite, one process (the default): killed with a command acked and waiting behind
    a held activation, the next `pimbot run` on the same file answers it once."""
    faults = Faults()
    tenant = SandboxTenant.from_seed(OffsetClock())
    with FakeSlack() as slack, SandboxServer(create_app(tenant, faults=faults), tls=True) as sb:
        settings = make_settings(tmp_path, sandbox=sb, slack_api_url=slack.api_url)
        env = {**process_env(settings), **LEASED, "PIM_WORKERS": "1"}
        first, url = _spawn(env, tmp_path / "first.log")
        second: subprocess.Popen[bytes] | None = None
        try:
            _wait_up(first, url, tmp_path / "first.log")
            held = faults.latency(8, times=1, method="POST", path=GRAPH_WRITES)
            _post(url, command_body(ACTIVATE, user_id="U_ALINE", response_url=slack.response_url()))
            _until(lambda: held.times == 0, 30, "no POST reached Graph")
            megan = slack.response_url()
            user, text = QUEUED[0]
            _post(url, command_body(text, user_id=user, response_url=megan))
            # Kept just after its ack (a kill before that loses it: README): so wait.
            _until(
                lambda: len(_rows(settings.pim_database_url, "SELECT id FROM intake")) == 2,
                30,
                "the commands were not kept",
            )
            first.kill()
            first.wait()
            assert slack.responses(megan) == []

            second, url = _spawn(env, tmp_path / "second.log")
            _wait_up(second, url, tmp_path / "second.log")
            answer = _until_found(lambda: slack.responses(megan), 60)
            assert f"*{GR}* is active until" in answer["text"], answer
            assert _live(tenant, MEGAN.id, GLOBAL_READER) == 1
            time.sleep(2)
            assert len(slack.responses(megan)) == 1
        finally:
            for proc in (first, second):
                if proc is not None and proc.poll() is None:
                    proc.kill()
                    proc.wait()


def test_an_approval_its_replica_died_in_is_activated_once_by_a_survivor(
    tmp_path: Path, pg_url: str
) -> None:
    """Four eyes: the second approver's click reaches a replica that is SIGKILLed while
    Graph holds the activation's POST. The survivor takes the request over, activates it
    once (the dead replica's POST, let through later, is refused as a duplicate), tells
    the requester once and redraws the card."""
    faults = Faults()
    tenant = SandboxTenant.from_seed(OffsetClock())
    with FakeSlack() as slack, SandboxServer(create_app(tenant, faults=faults), tls=True) as sb:
        settings = make_settings(
            tmp_path, sandbox=sb, slack_api_url=slack.api_url, pim_database_url=pg_url
        )
        env = {**process_env(settings), **LEASED}
        with _replicas_up(env, tmp_path, 2) as replicas:
            survivor, doomed = replicas[0][1], replicas[1]
            asked = command_body(
                NEEDS_APPROVAL, user_id="U_ALINE", response_url=slack.response_url()
            )
            _post(survivor, asked)
            card = _until_found(
                lambda: [
                    c.body
                    for c in slack.calls("chat.postMessage")
                    if c.body["channel"] == "C_PIM_APPROVALS"
                ]
            )
            request_id = card["blocks"][-1]["elements"][0]["value"]
            first = slack.response_url()
            _post(survivor, interaction_body(
                block_actions(ADMIN.slack_id, "approval_approve", request_id, response_url=first)
            ))  # fmt: skip
            slack.wait_for("response_url:" + first.rsplit("/", 1)[-1], timeout=30)

            held = faults.latency(8, method="POST", path=GRAPH_WRITES)
            second = slack.response_url()
            _post(doomed[1], interaction_body(
                block_actions(MEGAN.slack_id, "approval_approve", request_id, response_url=second)
            ))  # fmt: skip
            _until(lambda: held.times == 0, 30, "no POST reached Graph")
            killed = time.monotonic()
            doomed[0].kill()
            doomed[0].wait()
            _until(
                lambda: len(_said(slack, "Global Administrator", "is now active")) == 1,
                60,
                "the survivor did not activate the approved request within 60 s",
            )
            assert (took := time.monotonic() - killed) < 60
            print(f"\nfinished by a survivor {took:.1f} s after the SIGKILL")  # the figure
            _until(lambda: faults.count("POST", GRAPH_WRITES) == 2, 30, "the held POST never came")
            writes = sorted(c.status for c in faults.find("POST", GRAPH_WRITES))
            assert writes == [201, 400], writes  # one activation; the late one refused
            assert _live(tenant, ALINE.id, GLOBAL_ADMIN) == 1
            redrawn = [
                c.body
                for c in slack.calls("chat.update")
                if c.body.get("channel") == "C_PIM_APPROVALS"
            ]
            assert redrawn and "Approved and active" in str(redrawn[-1]), redrawn[-1:]
            time.sleep(2)  # a second takeover would have told the requester again by now
            assert len(_said(slack, "is now active")) == 1


# A request its replica is activating (its POST held by Graph), leased by that replica.
LEASED_BY = (
    "SELECT id FROM requests WHERE claimed_by LIKE :p AND claimed_until IS NOT NULL"
    " AND state = 'activating'"
)
# A claimed head, and the audit lines queued behind it that may have gone in its message.
IN_FLIGHT = (
    "SELECT body FROM outbox o WHERE state = 'pending' AND EXISTS (SELECT 1 FROM outbox h"
    " WHERE h.claimed_by LIKE :p AND h.state = 'pending' AND h.lane = o.lane AND h.id <= o.id"
    ' AND (h.id = o.id OR o.body LIKE \'%"join": "lines"%\'))'
)
UNSETTLED = "SELECT id FROM requests WHERE state IN ('requested', 'approved', 'activating')"
BURST = [
    ("U_ALINE", ACTIVATE),
    ("U_ALINE", SECURITY),
    ("U_ADMIN", "activate user-admin 1h CONTOSO:Security-012345 reset a password"),
    ("U_MEGAN", 'activate "Global Reader" 1h CONTOSO:Security-012345 read the settings'),
]
# Sent once, to the victim only: each doubled command above may be won by the other
# replica it reached, so without this the victim could have nothing to die in.
SOLO = ("U_DIEGO", 'activate "Security Reader" 1h CONTOSO:Security-012345 read the reports')


def _post_anywhere(urls: list[str], first: int, body: str) -> None:
    """As a load balancer does: the next replica when one refuses the connection."""
    for n in range(len(urls)):
        url = urls[(first + n) % len(urls)]
        try:
            _post(url, body)
            return
        except httpx.TransportError:
            continue
    raise AssertionError("no replica took the request")


def _notes(folder: Path) -> str:
    """What the replicas logged about takeovers and failures, for a failing assertion."""
    marks = ("carrying", "lease", "ERROR", "Traceback", "Error")
    return "\n".join(
        f"{log.name}: {line}"
        for log in sorted(folder.glob("replica*.log"))
        for line in log.read_text().splitlines()
        if any(mark in line for mark in marks)
    )


def _rows(pg_url: str, sql: str, **params: str) -> list[tuple[Any, ...]]:
    engine = sa.create_engine(pg_url)
    try:
        with engine.connect() as conn:
            return [tuple(row) for row in conn.execute(sa.text(sql), params)]
    finally:
        engine.dispose()


def test_a_replica_killed_mid_burst_loses_nothing_and_doubles_nothing(
    tmp_path: Path, pg_url: str
) -> None:
    """Three replicas; a burst of commands (each sent twice, to two replicas, as a user
    who presses Enter again) and four-eyes approval clicks (each doubled too) spread
    across them while Graph holds the first POSTs; the sweep's holder is SIGKILLed in the
    middle. Then: every approval decided once, every activation made once in Graph, every
    request settled, every audit line and DM sent once, the periodic locks taken over."""
    faults = Faults()
    tenant = SandboxTenant.from_seed(OffsetClock())
    with FakeSlack() as slack, SandboxServer(create_app(tenant, faults=faults), tls=True) as sb:
        settings = make_settings(
            tmp_path, sandbox=sb, slack_api_url=slack.api_url, pim_database_url=pg_url
        )
        env = {**process_env(settings), **LEASED}
        with _replicas_up(env, tmp_path, 3) as replicas:
            urls = [url for _, url in replicas]
            victim = next(n for n, url in enumerate(urls) if "sweep" in _holding(url))
            survivor = urls[(victim + 1) % 3]
            # A four-eyes request waiting on its card before the burst.
            ask = command_body(NEEDS_APPROVAL, user_id="U_ALINE", response_url=slack.response_url())
            _post(survivor, ask)
            card = _until_found(
                lambda: [
                    c.body
                    for c in slack.calls("chat.postMessage")
                    if c.body["channel"] == "C_PIM_APPROVALS"
                ]
            )
            request_id = card["blocks"][-1]["elements"][0]["value"]

            faults.latency(1.5, times=14, method="POST", path=GRAPH_WRITES)  # all of the burst
            solo = command_body(SOLO[1], user_id=SOLO[0], response_url=slack.response_url())
            bodies = [
                command_body(text, user_id=user, response_url=slack.response_url())
                for user, text in BURST
                for _ in range(2)
            ] + [
                interaction_body(
                    block_actions(who, "approval_approve", request_id, response_url=reply)
                )
                for who in (ADMIN.slack_id, ADMIN.slack_id, MEGAN.slack_id, MEGAN.slack_id)
                for reply in [slack.response_url()]
            ]
            barrier = threading.Barrier(len(bodies) + 2)

            def send(n: int, body: str) -> None:
                barrier.wait()
                time.sleep(0.1 * (n // 2))  # a burst over 0.6 s, not one instant
                _post_anywhere(urls, victim + n, body)

            threads = [
                threading.Thread(target=send, args=(n, body)) for n, body in enumerate(bodies)
            ] + [threading.Thread(target=send, args=(0, solo))]
            for thread in threads:
                thread.start()
            barrier.wait()
            # SIGKILL mid-burst, once the victim waits on Graph for an activation.
            victim_pid = replicas[victim][0].pid
            _until(
                lambda: bool(_rows(pg_url, LEASED_BY, p=f"%:{victim_pid}:%")),
                30,
                "the victim took no request",
            )
            replicas[victim][0].kill()
            # What it was sending to Slack when it died: Slack may have taken it without
            # the outbox hearing back, so a survivor sends it again (the outbox's one
            # documented gap, README "Several replicas"); nothing else may come twice.
            in_flight = {
                line
                for (body,) in _rows(pg_url, IN_FLIGHT, p=f"%:{victim_pid}:%")
                for line in str(json.loads(body).get("text")).split("\n")
            }
            killed = time.monotonic()
            replicas[victim][0].wait()
            for thread in threads:
                thread.join()
            alive = [url for n, url in enumerate(urls) if n != victim]

            # Every request settles: none left requested, approved or being activated.
            try:
                _until(lambda: not _rows(pg_url, UNSETTLED), 60, "a request was left unsettled")
            except AssertionError:
                rows = _rows(
                    pg_url,
                    UNSETTLED.replace(
                        "SELECT id", "SELECT id, state, claimed_by, claimed_until, updated_at"
                    ),
                )
                raise AssertionError(f"unsettled: {rows}\n{_notes(tmp_path)}") from None
            # One activation per request in Graph: each active request's role is live
            # once for its requester, and Graph granted exactly that many POSTs (a late
            # POST of the dead replica's, or a survivor's second try, was refused).
            active = _rows(pg_url, "SELECT requester, role_id FROM requests WHERE state = 'active'")
            assert len(active) == len(set(active)) == len(BURST) + 2, active
            entra = {str(p.key): p.id for p in (ALINE, ADMIN, MEGAN, DIEGO)}
            for requester, role_id in active:
                live = tenant.live_assignments()
                mine = [
                    a for a in live if (a.principal_id, a.role_id) == (entra[requester], role_id)
                ]
                assert len(mine) == 1, (requester, role_id, mine)
            granted = [c for c in faults.find("POST", GRAPH_WRITES) if 200 <= c.status < 300]
            assert len(granted) == len(BURST) + 2, [
                c.status for c in faults.find("POST", GRAPH_WRITES)
            ]
            # The four-eyes request: each approver counted once, decided once.
            approvers = _rows(
                pg_url, "SELECT approver FROM approvals WHERE request_id = :r", r=request_id
            )
            assert sorted(a for (a,) in approvers) == sorted([str(ADMIN.key), str(MEGAN.key)])
            decided = _rows(
                pg_url,
                "SELECT kind FROM audit WHERE request_id = :r AND kind = 'approved'",
                r=request_id,
            )
            assert len(decided) == 1

            # The audit channel has a line for each audit row, and nothing twice but what
            # the victim was sending when it died; each requester told once.
            def audit_lines() -> list[str]:
                return [
                    line  # lines queued together go out as one message, a line each
                    for c in slack.calls("chat.postMessage")
                    if c.body["channel"] == "C_PIM_AUDIT"
                    for line in str(c.body.get("text")).split("\n")
                    # Audit lines name their request; the board (also there) does not so.
                    if "· request R-" in line
                ]

            def audit_rows() -> list[tuple[Any, ...]]:
                return _rows(
                    pg_url, "SELECT kind, request_id FROM audit WHERE request_id IS NOT NULL"
                )

            try:
                _until(lambda: len(set(audit_lines())) >= len(audit_rows()), 75, "lines missing")
            except AssertionError:
                raise AssertionError(f"rows {audit_rows()}, lines {audit_lines()}") from None
            time.sleep(1)
            lines = audit_lines()
            assert len(set(lines)) == len(audit_rows()), (audit_rows(), lines)
            twice = {line for line in lines if lines.count(line) > 1}
            assert twice <= in_flight, (twice, in_flight)
            told = _said(slack, "is now active")
            assert {t for t in told if told.count(t) > 1} <= in_flight, told

            logs = [tmp_path / f"replica{n}.log" for n in range(3) if n != victim]
            assert any("carrying it on" in log.read_text() for log in logs)  # a takeover ran
            # The killed replica's periodic work has a new holder within 60 s.
            for lock in ("sweep", "scheduler"):
                _until(
                    lambda lock=lock: sum(lock in _holding(url) for url in alive) == 1,  # type: ignore[misc]
                    max(1.0, 60 - (time.monotonic() - killed)),
                    f"no survivor took the {lock} lock within 60 s",
                )
