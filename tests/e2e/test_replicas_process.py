"""Several `pimbot run` processes: SQLite refuses a second one on the same file (SQLite is
the single-instance default); the lock dies with its holder, SIGKILL included."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bot.clock import OffsetClock
from bot.simulators.sandbox import SandboxServer, SandboxTenant, create_app
from tests.support.processes import free_port, pimbot_run
from tests.support.settings import make_settings, process_env
from tests.support.slack import FakeSlack

pytestmark = pytest.mark.slow  # `pimbot run` as real processes

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
