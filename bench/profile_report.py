"""A cProfile stats file (the bot under `python -m cProfile -o`) as a short summary."""

from __future__ import annotations

import io
import pstats


def top(path: str, limit: int = 25, sort: str = "cumulative") -> str:
    """The `limit` functions of the profile with the most `sort` time."""
    out = io.StringIO()
    stats = pstats.Stats(path, stream=out)
    stats.strip_dirs().sort_stats(sort).print_stats(limit)
    return out.getvalue()
