"""Ack latency of `/pim activate` over real HTTP: the bot in HTTP mode, signed requests,
the sandbox tenant over TLS and the fake Slack Web API, all on 127.0.0.1.

Latency is measured from sending the signed POST to receiving the bot's HTTP answer (the
ack Slack waits for; Slack's limit is 3 s). Two modes, N sequential requests each:

- isolated:     the tenant is reset and the outcome awaited between requests, so every
                request is a real activation and its Graph work never overlaps an ack;
- back-to-back: the next request goes as soon as the ack arrives, so acks race the
                previous requests' Graph work on the bot's event loop.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import tempfile
from collections.abc import Sequence
from pathlib import Path

from bench.common import save, summary
from tests.support.cast import CARD
from tests.support.stack import BotStack


def percentile(samples: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile (no interpolation: a p99 is a latency that happened)."""
    ordered = sorted(samples)
    rank = max(1, -(-len(ordered) * pct // 100))
    return ordered[int(rank) - 1]


def run(stack: BotStack, n: int, *, isolated: bool) -> list[float]:
    samples = []
    last = None
    for _ in range(n):
        if isolated:
            stack.reset()
        reply = stack.command(CARD)
        if reply.status != 200 or "Working on it" not in reply.text:
            raise RuntimeError(f"unexpected ack: {reply.status} {reply.body}")
        samples.append(reply.seconds)
        if isolated:
            stack.final(reply)
        last = reply
    if last is not None:
        stack.final(last, timeout=60)
    return samples


def row(name: str, samples: list[float]) -> str:
    ms = [s * 1000 for s in samples]
    return (
        f"| {name:<12} | {len(ms):>4} | {statistics.median(ms):>8.1f} | "
        f"{percentile(ms, 99):>8.1f} | {max(ms):>8.1f} |"
    )


def main(argv: Sequence[str] = ()) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("-n", type=int, default=200, help="requests per mode (default 200)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.ERROR)
    with tempfile.TemporaryDirectory(prefix="pimbot-bench-") as tmp, BotStack(Path(tmp)) as stack:
        stack.final(stack.command("list"))  # warm up: Graph token, user link, policy cache
        results = {
            "isolated": run(stack, args.n, isolated=True),
            "back-to-back": run(stack, args.n, isolated=False),
        }
    print("\n/pim activate ack latency over real HTTP (ms)\n")
    print("| mode         |    n |   median |      p99 |      max |")
    print("|--------------|------|----------|----------|----------|")
    for name, samples in results.items():
        print(row(name, samples))
    save("ack_sequential", {name: summary(s) for name, s in results.items()})
    return 0
