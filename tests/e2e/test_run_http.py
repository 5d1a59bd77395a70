"""`pimbot run` in HTTP mode as a real process: serves /healthz and signed events, and stops
cleanly on SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from cryptography.fernet import Fernet

from bot.clock import OffsetClock
from bot.simulators.sandbox import (
    SANDBOX_CLIENT_ID,
    SANDBOX_CLIENT_SECRET,
    SANDBOX_TENANT_ID,
    SandboxServer,
    SandboxTenant,
    create_app,
)
from tests.support.processes import pimbot_run
from tests.support.signing import command_body, signed_headers
from tests.support.slack import FakeSlack

ROOT = Path(__file__).resolve().parents[2]
SECRET = "run-http-signing-secret"


@pytest.fixture(scope="module")
def running(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[subprocess.Popen[bytes], str, FakeSlack]]:
    tmp = tmp_path_factory.mktemp("run")
    # The tenant runs here, named by AZURE_* like a real one; `pimbot run` only talks to it.
    tenant = SandboxTenant.from_seed(OffsetClock())
    with FakeSlack() as slack, SandboxServer(create_app(tenant), tls=True) as sandbox:
        env = {
            **{
                k: v
                for k, v in os.environ.items()
                if not k.startswith(("SLACK_", "AZURE_", "PIM_"))
            },
            "SLACK_BOT_TOKEN": "xoxb-run-test",
            "SLACK_SIGNING_SECRET": SECRET,
            "SLACK_API_URL": slack.api_url,
            "PIM_DATABASE_URL": f"sqlite:///{tmp / 'run.db'}",
            "PIM_CONFIG": str(ROOT / "pimbot.yml"),
            "PYTHONPATH": str(ROOT),
            "AZURE_TENANT_ID": SANDBOX_TENANT_ID,
            "AZURE_CLIENT_ID": SANDBOX_CLIENT_ID,
            "AZURE_CLIENT_SECRET": SANDBOX_CLIENT_SECRET,
            "AZURE_AUTHORITY_HOST": sandbox.url,
            "PIM_GRAPH_URL": sandbox.url,
            "PIM_CA_FILE": str(sandbox.ca_file),
        }
        with pimbot_run(env, tmp / "pimbot.log") as (proc, url):
            yield proc, url, slack


def test_healthz_reports_graph_and_database(
    running: tuple[subprocess.Popen[bytes], str, FakeSlack],
) -> None:
    _, url, _ = running

    answer = httpx.get(f"{url}/healthz", timeout=10)

    assert answer.status_code == 200
    assert answer.json() == {"status": "ok", "graph": "ok", "database": "ok"}


def test_signed_slash_command_is_answered(
    running: tuple[subprocess.Popen[bytes], str, FakeSlack],
) -> None:
    _, url, slack = running
    body = command_body("help", user_id="U_ALINE", response_url=slack.response_url())

    answer = httpx.post(f"{url}/slack/events", content=body, headers=signed_headers(SECRET, body))

    assert answer.status_code == 200 and "/pim activate" in answer.json()["text"]


def test_sigterm_stops_the_server_cleanly(
    running: tuple[subprocess.Popen[bytes], str, FakeSlack],
) -> None:
    proc, _, _ = running

    proc.send_signal(signal.SIGTERM)

    assert proc.wait(timeout=20) == 0


def test_user_mode_runs_on_the_embedded_sandbox_with_only_a_token_key(tmp_path: Path) -> None:
    config = tmp_path / "pimbot.yml"
    config.write_text((ROOT / "pimbot.yml").read_text() + "graph:\n  identity: user\n")
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "AZURE_", "PIM_"))},
        "SLACK_BOT_TOKEN": "xoxb-run-test",
        "SLACK_SIGNING_SECRET": SECRET,
        "PIM_DATABASE_URL": f"sqlite:///{tmp_path / 'run.db'}",
        "PIM_CONFIG": str(config),
        "PIM_TOKEN_KEY": Fernet.generate_key().decode(),
        "PYTHONPATH": str(ROOT),
    }
    with pimbot_run(env, tmp_path / "pimbot.log") as (_, url):
        answer = httpx.get(f"{url}/healthz", timeout=10)

    assert answer.status_code == 200, (tmp_path / "pimbot.log").read_text()[-2000:]
    assert answer.json() == {"status": "ok", "graph": "ok", "database": "ok"}
