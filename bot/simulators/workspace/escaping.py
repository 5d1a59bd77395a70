"""Slash-command text as Slack sends it to the app.

Slack's client escapes the three control characters of everything typed: `&` → `&amp;`,
`<` → `&lt;`, `>` → `&gt;` (https://api.slack.com/reference/surfaces/formatting#escaping).
Mentions and channels typed as `@name` / `#channel` reach the app as typed unless the
command's "Escape channels, users, and links sent to your app" setting (the manifest's
`should_escape`) is on; then they arrive as `<@U…|name>`, `<#C…|channel>` and links as
`<https://…>` (https://api.slack.com/interactivity/slash-commands, "Parsing the payload")."""

from __future__ import annotations

import re

from bot.simulators.workspace.seed import WorkspaceSeed

_ENTITY = re.compile(r"(?<![\w&])([@#])([a-z0-9][a-z0-9._-]*)|(https?://(?:[^\s&]|&amp;)+)", re.I)


def escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def command_text(seed: WorkspaceSeed, text: str) -> str:
    """`text` typed after the command, as the app receives it."""
    escaped = escape(text)
    if not seed.escape_command_entities:
        return escaped
    return _ENTITY.sub(lambda match: _entity(seed, match), escaped)


def _entity(seed: WorkspaceSeed, match: re.Match[str]) -> str:
    sigil, name, url = match.group(1), match.group(2), match.group(3)
    if url is not None:
        return f"<{url}>"
    if sigil == "@":
        if name == seed.bot_name:
            return f"<@{seed.bot_user_id}|{name}>"
        user = next((u for u in seed.users if u.name == name), None)
        return f"<@{user.id}|{user.name}>" if user else match.group(0)
    channel = next((c for c in seed.channels if c.name == name), None)
    return f"<#{channel.id}|{channel.name}>" if channel else match.group(0)
