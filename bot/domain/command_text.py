"""Slash-command text as Slack sends it -> plain words, with an optional quoted name first."""

from __future__ import annotations

import re

from bot.errors import InputError

# Slack wraps links and e-mail addresses it auto-detects: `<https://x|x>`, `<mailto:a@b|a@b>`.
# Mentions (`<@U1>`, `<!here>`, `<!subteam^S1>`) are kept as they are so the justification
# check can refuse them; channel links become `#name`.
_LINK = re.compile(r"<([^<>@!#|\s][^<>|]*)(?:\|([^<>]*))?>")
_CHANNEL = re.compile(r"<#[A-Z0-9]+\|([^<>]*)>")
_ENTITIES = (("&lt;", "<"), ("&gt;", ">"), ("&amp;", "&"))  # &amp; last: no double unescape
_OPEN = '"“„”'
_CLOSE = '"”“'


def clean(text: str) -> str:
    """Unwrap Slack's link markup to its label, then unescape `&amp;`, `&lt;` and `&gt;`."""
    text = _LINK.sub(lambda m: m.group(2) if m.group(2) is not None else m.group(1), text)
    text = _CHANNEL.sub(lambda m: "#" + m.group(1), text)
    for entity, char in _ENTITIES:
        text = text.replace(entity, char)
    return text


def split_head(text: str) -> tuple[str, str]:
    """The first word and the rest, with surrounding whitespace removed."""
    parts = text.strip().split(maxsplit=1)
    if not parts:
        return "", ""
    return parts[0], parts[1] if len(parts) > 1 else ""


def quoted_first(rest: str) -> tuple[str | None, list[str]]:
    """A leading `"Display Name"` (straight or curly quotes) and the words after it."""
    rest = rest.strip()
    if not rest or rest[0] not in _OPEN:
        return None, rest.split()
    end = next((i for i in range(1, len(rest)) if rest[i] in _CLOSE), None)
    if end is None:
        raise InputError(
            'A quote is missing its closing mark: write the role as `"User Administrator"`.'
        )
    name = " ".join(rest[1:end].split())
    if not name:
        raise InputError('The quotes are empty: write the role as `"User Administrator"`.')
    return name, rest[end + 1 :].split()
