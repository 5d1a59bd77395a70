"""`pimbot run` in HTTP mode as a real process: serves /healthz and signed events, and stops
cleanly on SIGTERM."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.clock import OffsetClock
from bot.simulators.sandbox import (
    SandboxServer,
    SandboxTenant,
    create_app,
)
from tests.support.processes import pimbot_run
from tests.support.settings import BOT_TOKEN, SIGNING_SECRET, make_settings, process_env
from tests.support.signing import command_body, signed_headers
from tests.support.slack import FakeSlack

pytestmark = pytest.mark.slow  # `pimbot run` as a real process


@pytest.fixture(scope="module")
def running(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[subprocess.Popen[bytes], str, FakeSlack]]:
    tmp = tmp_path_factory.mktemp("run")
    # The tenant runs here, named by AZURE_* like a real one; `pimbot run` only talks to it.
    tenant = SandboxTenant.from_seed(OffsetClock())
    with FakeSlack() as slack, SandboxServer(create_app(tenant), tls=True) as sandbox:
        env = process_env(make_settings(tmp, sandbox=sandbox, slack_api_url=slack.api_url))
        with pimbot_run(env, tmp / "pimbot.log") as (proc, url):
            yield proc, url, slack


def test_healthz_is_alive_and_readyz_reports_graph_database_and_slack(
    running: tuple[subprocess.Popen[bytes], str, FakeSlack],
) -> None:
    _, url, _ = running

    alive = httpx.get(f"{url}/healthz", timeout=10)
    ready = httpx.get(f"{url}/readyz", timeout=10)

    assert alive.status_code == 200 and alive.json() == {"status": "ok"}
    assert ready.status_code == 200
    assert ready.json() == {"status": "ok", "graph": "ok", "database": "ok", "slack": "ok"}


def test_signed_slash_command_is_answered(
    running: tuple[subprocess.Popen[bytes], str, FakeSlack],
) -> None:
    _, url, slack = running
    body = command_body("help", user_id="U_ALINE", response_url=slack.response_url())

    answer = httpx.post(
        f"{url}/slack/events", content=body, headers=signed_headers(SIGNING_SECRET, body)
    )

    assert answer.status_code == 200 and "/pim activate" in answer.json()["text"]


def test_sigterm_stops_the_server_cleanly(
    running: tuple[subprocess.Popen[bytes], str, FakeSlack],
) -> None:
    proc, _, _ = running

    proc.send_signal(signal.SIGTERM)

    assert proc.wait(timeout=20) == 0


def test_user_mode_runs_on_the_embedded_sandbox_with_only_a_token_key(tmp_path: Path) -> None:
    # No AZURE_*, PIM_SANDBOX=1: `pimbot run` starts its embedded sandbox; only a token key.
    settings = make_settings(
        tmp_path,
        identity="user",
        slack_bot_token=BOT_TOKEN,
        slack_signing_secret=SIGNING_SECRET,
        pim_sandbox=True,
    )
    env = process_env(settings)
    with pimbot_run(env, tmp_path / "pimbot.log") as (_, url):
        answer = httpx.get(f"{url}/readyz", timeout=10)

    # Ready whatever Slack says (no Slack here): a replica cannot mend Slack.
    assert answer.status_code == 200, (tmp_path / "pimbot.log").read_text()[-2000:]
    assert (answer.json()["graph"], answer.json()["database"]) == ("ok", "ok")


def test_http_mode_without_a_signing_secret_refuses_to_start(tmp_path: Path) -> None:
    # Slack credentials and no SLACK_APP_TOKEN: HTTP mode, which must check signatures.
    settings = make_settings(tmp_path, slack_bot_token=BOT_TOKEN, pim_sandbox=True)
    done = _run(tmp_path, process_env(settings))

    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1] == (
        "pimbot: HTTP mode needs SLACK_SIGNING_SECRET (or set SLACK_APP_TOKEN for Socket Mode)"
    )
    assert "Traceback" not in done.stderr


def test_slack_without_an_entra_tenant_refuses_the_sandbox_unless_asked_for(
    tmp_path: Path,
) -> None:
    """Fail closed: Slack credentials and no AZURE_* is a missing setting, not a request
    for the demo tenant; one line naming AZURE_TENANT_ID and PIM_SANDBOX, exit 2."""
    for slack in (
        {"slack_bot_token": BOT_TOKEN, "slack_signing_secret": SIGNING_SECRET},
        {"slack_bot_token": BOT_TOKEN, "slack_app_token": "xapp-socket"},
    ):
        done = _run(tmp_path, process_env(make_settings(tmp_path, **slack)))

        assert done.returncode == 2, done.stderr
        [line] = done.stderr.strip().splitlines()
        assert line.startswith("pimbot: ") and "AZURE_TENANT_ID" in line
        assert "PIM_SANDBOX=1" in line


def test_half_an_app_registration_is_refused_even_without_slack(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, azure_tenant_id="a-tenant")

    done = _run(tmp_path, process_env(settings))

    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "pimbot: AZURE_CLIENT_ID is not set: set both AZURE_TENANT_ID and AZURE_CLIENT_ID "
        "(your Entra app registration)"
    ]


def test_pim_sandbox_runs_on_the_sandbox_warns_and_marks_every_reply(tmp_path: Path) -> None:
    """PIM_SANDBOX=1 with Slack credentials: it starts, logs a warning, and every reply
    (the ack and what follows through response_url) says it comes from the sandbox."""
    with FakeSlack() as slack:
        settings = make_settings(tmp_path, slack_api_url=slack.api_url, pim_sandbox=True)
        log = tmp_path / "pimbot.log"
        with pimbot_run(process_env(settings), log) as (_, url):
            assert httpx.get(f"{url}/healthz", timeout=10).status_code == 200
            helped = _command(url, "help", slack.response_url())
            reply_url = slack.response_url()
            _command(url, "list", reply_url)
            slack.wait_for("response_url:" + reply_url.rsplit("/", 1)[-1], timeout=30)
            [answer] = slack.responses(reply_url)
    assert "PIM_SANDBOX=1: Slack users reach the embedded sandbox tenant" in log.read_text()
    for message in (helped, answer):
        assert message["text"].startswith("[sandbox tenant] "), message
        assert message["blocks"][-1]["block_id"] == "sandbox_mark"
        assert "not your Microsoft Entra tenant" in str(message["blocks"][-1])


def _command(url: str, text: str, response_url: str) -> dict[str, Any]:
    body = command_body(text, user_id="U_ALINE", response_url=response_url)
    answer = httpx.post(
        f"{url}/slack/events", content=body, headers=signed_headers(SIGNING_SECRET, body)
    )
    assert answer.status_code == 200
    return dict(answer.json())


def _run(cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    code = "import sys; from bot.cli import main; sys.exit(main(['run']))"
    return subprocess.run(  # noqa: S603 - our own interpreter and code
        [sys.executable, "-c", code],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
