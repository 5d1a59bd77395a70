"""`pimbot demo` as a user runs it: a subprocess with a clean environment (no Slack or
Azure credentials), the repository's pimbot.yml and a database of its own."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.settings import ROOT

pytestmark = pytest.mark.slow  # runs `pimbot demo` in a subprocess

PIMBOT = Path(sys.executable).with_name("pimbot")


def _run_demo(
    tmp_path: Path, config: Path = ROOT / "pimbot.yml"
) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "PIM_CONFIG": str(config),
        "PIM_DATABASE_URL": f"sqlite:///{tmp_path / 'pimbot.db'}",
    }
    return subprocess.run(
        [str(PIMBOT), "demo"],
        cwd=tmp_path,  # no .env from the repository
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_demo_tells_the_tutorial_and_exits_0(tmp_path: Path) -> None:
    result = _run_demo(tmp_path)
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    steps = [
        "Aline Dupuy › /pim list",
        "Graph: Aline Dupuy — eligible for User Administrator via the group IT Helpdesk (User)",
        "Graph: Aline Dupuy — no active role",
        "Aline Dupuy › /pim activate user-admin 5h CONTOSO:Security-012345 invalidate refresh",
        "✅ User Administrator is active until",
        "Graph: Aline Dupuy — User Administrator active until",
        "fast-forward 30 min",  # Entra refuses a deactivation within 5 minutes
        "Aline Dupuy › /pim deactivate user-admin",
        "User Administrator is deactivated",
        "Aline Dupuy › /pim activate global-admin 2h",
        "Global Administrator needs approval",
        "[Approve] [Deny]",
        "MOD Administrator clicks [Approve]",
        "1 of 2 approvals: @MOD Administrator",
        "Graph: Aline Dupuy — no active role",  # one approval of two activates nothing
        "Megan Bowen clicks [Approve]",
        "Approved and active by @Megan Bowen",
        "Global Administrator was approved by @Megan Bowen and is active until",
        "Graph: Aline Dupuy — Global Administrator active until",
        "fast-forward 1 h 46 min",
        "⏰ Global Administrator ends in",
        "[Extend 1h] [Deactivate now]",
        "🏁 Global Administrator has ended",
        "Graph: Aline Dupuy — no active role",
        "The tutorial ran end to end",
    ]
    at = 0
    for step in steps:  # each step, in the tutorial's order
        found = out.find(step, at)
        assert found >= 0, f"missing after position {at}: {step!r}\n{out}"
        at = found + len(step)
    assert "FAIL" not in out
    assert not (tmp_path / "pimbot.db").exists()  # the demo keeps to its own database

    graph = next(x for x in out.splitlines() if "User Administrator active until" in x)
    assert graph.rstrip().endswith("UTC (Assigned)")  # 5 h after the start, checked by the demo


def test_a_step_that_goes_wrong_fails_the_demo_with_one_clear_line(tmp_path: Path) -> None:
    # A ticket pattern the tutorial's ticket does not match: the activation is refused.
    yml = (ROOT / "pimbot.yml").read_text()
    config = tmp_path / "jira.yml"
    config.write_text(re.sub(r"(?m)^  pattern: .*$", lambda _: "  pattern: '^JIRA-\\d+$'", yml))
    result = _run_demo(tmp_path, config)
    assert result.returncode == 1
    fail = [line for line in result.stdout.splitlines() if line.startswith("FAIL")]
    assert len(fail) == 1, result.stdout
    assert fail[0].startswith("FAIL step 2: expected 'active until'; pimbot answered:")
    assert "ticket number" in fail[0]
    assert "The tutorial ran end to end" not in result.stdout
