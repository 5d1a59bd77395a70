"""The architecture's import contracts (pyproject `[tool.importlinter]`, DESIGN §3), checked
on the real import graph, transitive chains included: handlers -> wiring -> use cases ->
domain; the use cases import no adapter; the domain no settings; only the entry points
import the emulators, which import nothing of bot but the clock."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LINT = Path(sys.executable).with_name("lint-imports")


def lint(project: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT), "--no-cache"],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PYTHONPATH": str(project), "PATH": "/usr/bin:/bin"},
    )


def copy_of_the_code(tmp_path: Path) -> Path:
    for part in ("bot", "handlers"):
        shutil.copytree(ROOT / part, tmp_path / part, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def test_every_import_contract_is_kept() -> None:
    result = lint(ROOT)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "BROKEN" not in result.stdout
    assert result.stdout.count("KEPT") >= 7


def test_a_use_case_reaching_an_adapter_through_another_module_is_caught(
    tmp_path: Path,
) -> None:
    project = copy_of_the_code(tmp_path)
    # Indirect on purpose: bot.service.outcomes -> bot.domain.leak -> bot.store.
    (project / "bot/domain/leak.py").write_text("import bot.store  # noqa\n")
    outcomes = project / "bot/service/outcomes.py"
    outcomes.write_text(outcomes.read_text() + "\nimport bot.domain.leak  # noqa\n")

    result = lint(project)

    assert result.returncode != 0
    assert "Use cases import no adapter" in result.stdout and "BROKEN" in result.stdout
    assert "bot.domain.leak -> bot.store" in result.stdout


def test_an_emulator_importing_the_service_is_caught(tmp_path: Path) -> None:
    project = copy_of_the_code(tmp_path)
    seed = project / "bot/simulators/sandbox/seed.py"
    seed.write_text(seed.read_text() + "\nimport bot.service.activation  # noqa\n")

    result = lint(project)

    assert result.returncode != 0
    assert "The emulators import nothing of bot but the clock BROKEN" in result.stdout
