"""`python -m bench [--only NAME]`: run the benchmarks, print their tables, and write
bench/results.json."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence
from typing import Any

from bench.common import RESULTS

BENCHES = ("ack", "concurrency", "e2e", "throughput", "scale", "signin", "socket", "summary")


def runner(name: str) -> Callable[[Sequence[str]], Any]:
    module = {"ack": "ack_latency", "socket": "socket_ack"}.get(name, name)
    return __import__(f"bench.{module}", fromlist=["main"]).main  # type: ignore[no-any-return]


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--only", choices=BENCHES, action="append", help="run just this one")
    args, rest = parser.parse_known_args(argv)
    if rest and len(args.only or ()) != 1:
        # Each bench parses its own options (e.g. throughput's --workers): they would
        # otherwise be dropped silently, and the figure read as if they applied.
        parser.error(f"options {' '.join(rest)} need exactly one --only")
    logging.basicConfig(level=logging.ERROR)
    if not args.only:
        RESULTS.unlink(missing_ok=True)  # the summary reads only this run's figures
    failed = []
    for name in args.only or BENCHES:
        try:
            runner(name)(rest)
        except Exception as exc:  # noqa: BLE001 - one broken bench must not hide the others
            print(f"\nbench {name} FAILED: {type(exc).__name__}: {exc}")
            failed.append(name)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
