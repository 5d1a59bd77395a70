"""`python -m bench`: run the benchmarks and print their tables."""

from __future__ import annotations

import sys

from bench.ack_latency import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
