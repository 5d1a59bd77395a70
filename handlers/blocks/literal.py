"""Text the bot did not write (a requester's justification and ticket, an approver's
reason, names from Graph or Slack), shown so that it can never pass for the bot's own
words: no bold, italic, strike, code, quote, link, mention or broadcast survives from it.

Slack escapes only `&`, `<` and `>` in mrkdwn and has no escape for `*`, `_`, `~` or
`` ` `` (https://api.slack.com/reference/surfaces/formatting#escaping). So text that stands
alone goes into a rich-text quote, whose `text` elements carry their style explicitly and
are never parsed as mrkdwn (Slack: "use this block to include user-defined formatted
text", https://docs.slack.dev/reference/block-kit/blocks/rich-text-block,
https://docs.slack.dev/reference/block-kit/block-elements/text-element), or a
`plain_text` object (https://api.slack.com/reference/block-kit/composition-objects#text).
Text that must sit inside a mrkdwn sentence (a role name, the notification `text`) goes
through `inline`; identifiers (a ticket number, a sign-in name) through `code`.
"""

from __future__ import annotations

from typing import Any

MAX_TEXT = 3000  # a section's text, and what a quote shows of a long text

# Look-alikes for mrkdwn's formatting characters (as jsx-slack's <Escape> does): Slack
# has no backslash escape, and a zero-width space *enables* formatting mid-word.
_LOOKALIKES = str.maketrans(
    {
        "*": "∗",  # U+2217 asterisk operator
        "＊": "﹡",  # U+FE61 small asterisk
        "_": "ˍ",  # U+02CD modifier letter low macron
        "＿": "ˍ",
        "~": "∼",  # U+223C tilde operator
        "`": "ˋ",  # U+02CB modifier letter grave accent
        "｀": "ˋ",
        "\n": " ",  # one line: a `>` can then only start a line where the bot put it
        "\r": " ",
        "\u2028": " ",
        "\u2029": " ",
    }
)
_SOFT_HYPHEN = "\u00ad"  # invisible; keeps a leading `>` from opening a quote


def clip(text: str, limit: int) -> str:
    """Cut `text` to `limit` characters, marking the cut, so Slack never rejects a block."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def escape(text: str) -> str:
    """Slack's own escaping of `&`, `<` and `>`, applied once: no tag survives."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def inline(text: str) -> str:
    """`text` for the middle of a mrkdwn sentence: `&`, `<`, `>` escaped once, on one line,
    formatting characters replaced by look-alikes. A URL shows as itself, never behind
    other words."""
    safe = escape(text.translate(_LOOKALIKES))
    return _SOFT_HYPHEN + safe if safe.startswith(("&gt;", "＞")) else safe


def code(text: str) -> str:
    """An identifier someone else wrote (a ticket number, a sign-in name) as inline code:
    Slack formats nothing inside a code span, so `_` and `*` show as typed; only a backtick
    could end it, and it becomes a look-alike."""
    return f"`{inline(text.replace('`', 'ˋ')) or ' '}`"


def quote(text: str) -> dict[str, Any]:
    """A rich-text quote holding `text` exactly as typed, newlines included."""
    element = {"type": "text", "text": clip(text, MAX_TEXT)}
    return {
        "type": "rich_text",
        "elements": [{"type": "rich_text_quote", "elements": [element]}],
    }


def literal(text: str, limit: int = MAX_TEXT) -> dict[str, Any]:
    """A `plain_text` object for `text`; `emoji: false` so `:shortcodes:` stay words."""
    return {"type": "plain_text", "text": clip(text, limit), "emoji": False}
