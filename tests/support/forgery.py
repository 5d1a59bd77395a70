"""What a Slack message is made of apart from its words: its links, mentions, broadcasts,
dates and formatting. Two renderings of one builder, with hostile and with harmless user
text, must have the same shape: then nothing in that shape came from the user's text.

Which text Slack parses (https://api.slack.com/reference/surfaces/formatting): `mrkdwn`
text objects and the message's top-level `text` are; `plain_text` objects and rich-text
`text` elements are shown as written (their `style` is the bot's, and is compared).
In mrkdwn, `<…>` is a link, mention, broadcast or date; `*`, `_`, `~` and `` ` `` format;
`>` (or `&gt;`, `＞`) at the start of a line quotes. Inside a code span nothing formats.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from typing import Any

_TOKEN = re.compile(r"<([^<>]*)>")
_MARKERS = "*_~＊＿｀"
_QUOTE_STARTS = (">", "&gt;", "＞")
_RICH = {"text", "link", "user", "usergroup", "broadcast", "channel", "emoji", "date"}


@dataclass(frozen=True)
class Shape:
    """The parts of a payload Slack turns into something other than letters."""

    tokens: tuple[str, ...]  # `<…>` kinds in order: "@U_ALINE", "date", "link", "!here" …
    markers: tuple[tuple[str, int], ...]  # formatting characters outside code spans
    code_spans: int
    quoted_lines: int
    rich: tuple[tuple[str, str], ...]  # rich-text element types and their styles


def shape(payload: dict[str, Any]) -> Shape:
    """The shape of a message (`text` + `blocks`) or a view (`blocks`)."""
    texts = [t for t in [payload.get("text")] if isinstance(t, str)]
    texts += [node["text"] for node in _walk(payload.get("blocks")) if node.get("type") == "mrkdwn"]
    tokens: list[str] = []
    markers: Counter[str] = Counter()
    spans = quoted = 0
    for text in texts:
        t, m, s, q = mrkdwn_shape(text)
        tokens += t
        markers += m
        spans, quoted = spans + s, quoted + q
    rich = tuple(
        (str(node.get("type")), repr(sorted((node.get("style") or {}).items())))
        for node in _walk(payload.get("blocks"))
        if str(node.get("type", "")).startswith("rich_text") or node.get("type") in _RICH
    )
    return Shape(tuple(tokens), tuple(sorted(markers.items())), spans, quoted, rich)


def mrkdwn_shape(text: str) -> tuple[list[str], Counter[str], int, int]:
    """One mrkdwn string: its `<…>` kinds, formatting markers, code spans, quoted lines."""
    tokens = [_kind(m.group(1)) for m in _TOKEN.finditer(text)]
    words = _TOKEN.sub(lambda m: m.group(1).partition("|")[2], text)  # a token shows its label
    outside = words.split("`")[::2]  # even pieces lie outside code spans
    markers = Counter(c for piece in outside for c in piece if c in _MARKERS)
    quoted = sum(1 for line in text.split("\n") if line.startswith(_QUOTE_STARTS))
    return tokens, markers, words.count("`"), quoted


def _kind(inner: str) -> str:
    target = inner.partition("|")[0]
    if target.startswith("!date^"):
        return "date"
    if target.startswith(("@", "!", "#")):
        return target  # a mention, broadcast or channel: which one matters
    return "link"


def _walk(node: Any) -> list[dict[str, Any]]:
    if isinstance(node, dict):
        return [node, *[d for v in node.values() for d in _walk(v)]]
    if isinstance(node, list):
        return [d for v in node for d in _walk(v)]
    return []
