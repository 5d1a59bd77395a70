"""The command line's manners: each sub-command's --help says what it does and what it
reads, `pimbot audit | head` ends quietly, a busy port is named before anything starts."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from bot.cli import main
from bot.domain.audit import AuditEvent, AuditKind
from bot.domain.people import slack
from bot.settings import Settings
from bot.store import SqlStore
from tests.support.processes import free_port
from tests.support.settings import ROOT

COMMANDS = ["run", "demo", "check", "audit", "sandbox"]
EVERY_SETTING = sorted(name.upper() for name in Settings.model_fields)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.startswith(("SLACK_", "AZURE_", "PIM_")):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)  # no .env from the repository
    monkeypatch.setenv("PIM_DATABASE_URL", f"sqlite:///{tmp_path / 'pimbot.db'}")


def _help(command: str, capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])
    assert exit_info.value.code == 0
    return capsys.readouterr().out


@pytest.mark.parametrize(
    ("command", "does"),
    [
        ("run", "Run the bot until stopped"),
        ("demo", "Play the Contoso PIM tutorial"),
        ("check", "Validate the configuration and reach Slack, Graph and the database"),
        ("audit", "Export the audit trail"),
        ("sandbox", "Serve the sandbox tenant alone"),
    ],
)
def test_each_help_says_what_the_command_does_and_where_settings_come_from(
    command: str, does: str, capsys: pytest.CaptureFixture[str]
) -> None:
    text = _help(command, capsys)

    assert does in text
    assert "reads:" in text
    assert ".env" in text and "PIM_CONFIG" in text


@pytest.mark.parametrize(("command", "unused"), [("run", []), ("check", ["PIM_PORT"])])
def test_run_and_check_name_every_setting_they_read(
    command: str, unused: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    text = _help(command, capsys)

    assert [name for name in EVERY_SETTING if name not in text] == unused


def test_audit_names_its_database(capsys: pytest.CaptureFixture[str]) -> None:
    assert "PIM_DATABASE_URL" in _help("audit", capsys)


def test_run_says_what_persists_and_how_to_reset(capsys: pytest.CaptureFixture[str]) -> None:
    text = " ".join(_help("run", capsys).split())

    assert "pimbot.db" in text and "delete the file to reset" in text


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield int(holder.getsockname()[1])


def test_a_busy_port_is_named_before_the_banner(
    monkeypatch: pytest.MonkeyPatch, busy_port: int, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PIM_PORT", str(busy_port))

    assert main(["run"]) == 2

    out, err = capsys.readouterr()
    assert "Open http" not in out
    assert err.startswith(f"pimbot: port {busy_port} is already in use") and "PIM_PORT" in err
    assert len(err.strip().splitlines()) == 1


def test_http_mode_names_a_busy_port_too(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as holder:  # HTTP mode listens on every interface
        holder.bind(("0.0.0.0", 0))  # noqa: S104
        holder.listen()
        port = holder.getsockname()[1]
        monkeypatch.setenv("PIM_PORT", str(port))
        monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-test")
        monkeypatch.setenv("SLACK_SIGNING_SECRET", "secret")
        for name in ("AZURE_TENANT_ID", "AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET"):
            monkeypatch.setenv(name, "configured")  # a real tenant: nothing is started first

        assert main(["run"]) == 2

    err = capsys.readouterr().err
    assert err.startswith(f"pimbot: port {port} is already in use") and "PIM_PORT" in err


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "AZURE_", "PIM_"))}
    return keep | {"PIM_DATABASE_URL": f"sqlite:///{tmp_path / 'pimbot.db'}"} | extra


@pytest.mark.slow
def test_audit_piped_into_head_ends_quietly(tmp_path: Path) -> None:
    store = SqlStore.from_url(f"sqlite:///{tmp_path / 'pimbot.db'}")
    at = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)
    for n in range(3000):  # far more than a pipe holds (64 KiB on Linux)
        store.append_audit(
            AuditEvent(at, AuditKind.REQUESTED, slack("U_ALINE"), justification=f"line {n}")
        )
    code = "import sys; from bot.cli import main; sys.exit(main(['audit']))"
    proc = subprocess.Popen(  # noqa: S603 - our own interpreter and code
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env=_env(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    first = proc.stdout.readline()
    proc.stdout.close()  # what `head` does once it has its lines
    status = proc.wait(timeout=60)
    err = proc.stderr.read().decode()

    assert b'"kind": "requested"' in first
    assert "Traceback" not in err and "BrokenPipe" not in err, err
    assert status == 128 + 13  # as if SIGPIPE had ended it, which the shell reports as 141


@pytest.mark.slow
def test_run_serves_the_local_workspace_on_the_port_it_claimed(tmp_path: Path) -> None:
    port = free_port()
    env = _env(tmp_path, PIM_PORT=str(port), PIM_CONFIG=str(ROOT / "pimbot.yml"))
    code = "import sys; from bot.cli import main; sys.exit(main(['run']))"
    proc = subprocess.Popen(  # noqa: S603 - our own interpreter and code
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stdout is not None
        banner = ""
        while "Open" not in banner:
            line = proc.stdout.readline()
            assert line, "pimbot run ended without its banner"
            banner = line
        assert f"Open http://127.0.0.1:{port} " in banner
        # The port listens before the banner: the first try is answered, no retrying.
        assert httpx.get(f"http://127.0.0.1:{port}/", timeout=30).status_code == 200
    finally:
        proc.terminate()
        proc.wait(timeout=30)
