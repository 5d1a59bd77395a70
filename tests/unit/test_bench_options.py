"""`python -m bench`: a bench's own options reach it, never silently dropped."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

import bench.__main__ as bench_main


def test_options_reach_the_one_bench_selected(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[tuple[str, list[str]]] = []

    def runner(name: str) -> Any:
        return lambda argv: seen.append((name, list(argv)))

    monkeypatch.setattr(bench_main, "runner", runner)
    assert bench_main.main(["--only", "throughput", "--workers", "32"]) == 0
    assert seen == [("throughput", ["--workers", "32"])]


def test_options_with_several_benches_are_refused(capsys: pytest.CaptureFixture[str]) -> None:
    argv: Sequence[str] = ["--only", "throughput", "--only", "e2e", "--workers", "32"]
    with pytest.raises(SystemExit) as exit_:
        bench_main.main(argv)
    assert exit_.value.code == 2
    assert "--workers 32 need exactly one --only" in capsys.readouterr().err
