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
    # Cold is the first activation after start; never started (no start-up reads at all)
    # is shown beside it, so reading ahead at start is not mistaken for saving calls.
    empty = _get(r, "e2e_activation", "never_started_total")
    shown = f"{warm} ({cold}; never started {empty})" if empty is not None else f"{warm} ({cold})"
    return (
        "Graph calls per warm activation (cold)",
        shown,
        "≤ 2 (≤ 5)",
        _mark(warm <= 2 and cold <= 5),
    )


def ack_ratio(r: dict[str, Any]) -> Row:
    at50 = _get(r, "ack_concurrency", "50")
    name, target = "ack latency at 50 concurrent, pimbot ÷ bare Bolt (processes)", "≤ 1.2× both"
    if at50 is None or not _get(r, "ack_concurrency", "processes"):
        return (name, "not measured", target, "FAIL")
    med, p99 = at50["ratio_median"], at50["ratio_p99"]
    return (name, f"median {med:.2f}×, p99 {p99:.2f}×", target, _mark(med <= 1.2 and p99 <= 1.2))


def throughput(r: dict[str, Any]) -> Row:
    """bench/throughput.py: the sandbox, the fake Slack and the bot each in its own
    process, 50 concurrent requesters, each activation a distinct (user, role)."""
    t = r.get("throughput")
    name = "sustained activations per second, sandbox in its own process"
    if t is None or t.get("sandbox") != "own process":
        return (name, "not measured", "≥ 100, 0 errors", "FAIL")
    errors = int(t.get("error_count", len(t["errors"])))
    cpu = t.get("cpu_ms_per_activation", {})
    seen = (
        f"{t['per_second']:.1f}, {errors} errors (CPU ms/activation: bot "
        f"{cpu.get('bot', 0):.0f}, sandbox {cpu.get('sandbox', 0):.0f}, "
        f"Slack {cpu.get('slack', 0):.0f})"
    )
    return (name, seen, "≥ 100, 0 errors", _mark(t["per_second"] >= 100 and not errors))


def reminders(r: dict[str, Any]) -> list[Row]:
    """bench/scale.py's two bursts: 1,000 people at once (unthrottled), then five each
    for 200 people with a Slack pacing each channel at 1 post/s and answering 429."""
    s = r.get("scale")
    name = "1,000 reminders falling due at once, unthrottled Slack"
    target = "1,000 sent once, late p99 < 2 s"
    paced_name = "the same with a Slack enforcing 1 msg/s/channel (429)"
    paced_target = "all sent once, paced"
    if s is None:
        return [
            (name, "not measured", target, "FAIL"),
            (paced_name, "not measured", paced_target, "FAIL"),
        ]
    late, dup = s["late_p99_s"], s.get("reminders_duplicates")
    seen = f"{s['reminders_sent']} sent once, {dup} twice, late p99 " + _secs(late)
    ok = s["reminders_sent"] == 1000 and dup == 0 and late is not None and late < 2
    rows = [(name, seen, target, _mark(ok))]
    p = s.get("paced")
    if p is None:
        return [*rows, (paced_name, "not measured", paced_target, "FAIL")]
    seen = (
        f"{p['sent']}/{p['planned']} sent once ({p['channels']} channels), {p['duplicates']} "
        f"twice, {p['ratelimited']} 429s, last {_secs(p['late_max_s'])} after due"
    )
    ok = p["sent"] == p["planned"] and p["duplicates"] == 0
    return [*rows, (paced_name, seen, paced_target, _mark(ok))]


def _secs(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} s"


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
