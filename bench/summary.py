"""Issue 17's table: each figure of this `make bench` run (bench/results.json, written by
the benches just run) beside its target, PASS or FAIL. A figure not measured is FAIL."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from bench.common import RESULTS, table

Row = tuple[str, str, str, str]


def _get(data: dict[str, Any], *keys: str) -> Any:
    for key in keys:
        if not isinstance(data, dict) or key not in data:
            return None
        data = data[key]
    return data


def _mark(ok: bool | None) -> str:
    return "PASS" if ok else "FAIL"


def graph_calls(r: dict[str, Any]) -> Row:
    warm, cold = _get(r, "e2e_activation", "warm_total"), _get(r, "e2e_activation", "cold_total")
    if warm is None or cold is None:
        return ("Graph calls per warm activation (cold)", "not measured", "≤ 2 (≤ 5)", "FAIL")
    return (
        "Graph calls per warm activation (cold)",
        f"{warm} ({cold})",
        "≤ 2 (≤ 5)",
        _mark(warm <= 2 and cold <= 5),
    )


def ack_ratio(r: dict[str, Any]) -> Row:
    at50 = _get(r, "ack_concurrency", "50")
    name, target = "ack latency at 50 concurrent, pimbot ÷ bare Bolt", "≤ 1.2× both"
    if at50 is None:
        return (name, "not measured", target, "FAIL")
    med, p99 = at50["ratio_median"], at50["ratio_p99"]
    return (name, f"median {med:.2f}×, p99 {p99:.2f}×", target, _mark(med <= 1.2 and p99 <= 1.2))


def throughput(r: dict[str, Any]) -> Row:
    t = r.get("throughput")
    name = "sustained activations per second (sandbox in this process)"
    if t is None:
        return (name, "not measured", "≥ 100, 0 errors", "FAIL")
    errors = len(t["errors"])
    seen = f"{t['per_second']:.1f}, {errors} errors"
    return (name, seen, "≥ 100, 0 errors", _mark(t["per_second"] >= 100 and not errors))


def reminders(r: dict[str, Any]) -> list[Row]:
    s = r.get("scale")
    name = "1,000 reminders falling due at once, unthrottled Slack"
    target = "1,000 sent once, late p99 < 2 s"
    rows: list[Row] = []
    if s is None:
        rows.append((name, "not measured", target, "FAIL"))
    else:
        late = s["late_p99_s"]
        seen = f"{s['reminders_sent']} sent, late p99 " + ("-" if late is None else f"{late:.1f} s")
        ok = s["reminders_sent"] == 1000 and late is not None and late < 2
        rows.append((name, seen, target, _mark(ok)))
    rows.append(
        (
            "the same with a Slack enforcing 1 msg/s/channel (429)",
            "not measured in this bench yet",
            "all sent once, paced",
            "FAIL",
        )
    )
    return rows


def scale(r: dict[str, Any]) -> Row:
    s = r.get("scale")
    name, target = "10,000 live activations: start, RSS", "< 5 s, < 200 MB"
    if s is None:
        return (name, "not measured", target, "FAIL")
    seen = f"{s['start_seconds']:.2f} s, {s['rss_mb']:.0f} MB"
    return (name, seen, target, _mark(s["start_seconds"] < 5 and s["rss_mb"] < 200))


def main(argv: Sequence[str] = ()) -> dict[str, Any]:
    results: dict[str, Any] = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    rows = [graph_calls(results), ack_ratio(results), throughput(results)]
    rows += [*reminders(results), scale(results)]
    table(
        "Issue 17: figures of this run against their targets",
        ["figure", "measured", "target", "mark"],
        rows,
    )
    return {"rows": rows}
