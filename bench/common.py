"""Shared bench helpers: percentiles, tables, and `bench/results.json`."""

from __future__ import annotations

import json
import statistics
from collections.abc import Sequence
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results.json"


def percentile(samples: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile (no interpolation: a p99 is a latency that happened)."""
    ordered = sorted(samples)
    rank = max(1, -(-len(ordered) * pct // 100))
    return ordered[int(rank) - 1]


def summary(seconds: Sequence[float]) -> dict[str, float]:
    ms = [s * 1000 for s in seconds]
    return {"n": len(ms), "median_ms": statistics.median(ms), "p99_ms": percentile(ms, 99)}


def table(title: str, header: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    print(f"\n{title}\n")
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join("---" for _ in header) + "|")
    for r in rows:
        print("| " + " | ".join(f"{v:.1f}" if isinstance(v, float) else str(v) for v in r) + " |")


def save(name: str, data: dict[str, Any]) -> None:
    """Merge one benchmark's figures into bench/results.json."""
    old = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    old[name] = data
    RESULTS.write_text(json.dumps(old, indent=2, default=str) + "\n")
