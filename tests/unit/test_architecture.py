"""The layering rules of DESIGN §2, checked on the source: the core knows nothing of Slack,
HTTP or SQL, and `bot/` reaches the Slack layer only from the process entry points."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.support.settings import ROOT

CORE = [
    "bot/domain",
    "bot/service",
    "bot/errors.py",
    "bot/clock.py",
]
ADAPTER_LIBS = ("slack_bolt", "slack_sdk", "httpx", "sqlalchemy", "aiohttp", "starlette", "msal")
# The process entry points build the Slack app, so they may reach handlers (lazily).
ENTRY_POINTS = {"bot/cli/__init__.py", "bot/cli/run.py", "bot/cli/demo.py"}


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def python_files(entry: str) -> list[Path]:
    target = ROOT / entry
    return sorted(target.rglob("*.py")) if target.is_dir() else [target]


@pytest.mark.parametrize("entry", CORE)
def test_core_imports_no_slack_http_or_sql(entry: str) -> None:
    for path in python_files(entry):
        bad = {m for m in imported_modules(path) if m.split(".")[0] in ADAPTER_LIBS}
        assert not bad, f"{path.relative_to(ROOT)} imports {sorted(bad)}"


def test_bot_never_imports_slack_bolt_or_handlers_outside_entry_points() -> None:
    for path in sorted((ROOT / "bot").rglob("*.py")):
        rel = str(path.relative_to(ROOT))
        if rel in ENTRY_POINTS:
            continue
        bad = {m for m in imported_modules(path) if m.split(".")[0] in ("slack_bolt", "handlers")}
        assert not bad, f"{rel} imports {sorted(bad)}"


def test_handlers_never_talk_to_graph_or_the_database_directly() -> None:
    for path in sorted((ROOT / "handlers").rglob("*.py")):
        bad = {
            m
            for m in imported_modules(path)
            if m.split(".")[0] in ("httpx", "sqlalchemy", "msal")
            or m.startswith(("bot.graph", "bot.store", "bot.simulators.sandbox"))
        }
        assert not bad, f"{path.relative_to(ROOT)} imports {sorted(bad)}"
