"""What every audit row must hold to: raw text, never Slack markup."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import fields

from bot.domain.audit import AuditEvent

# Slack's escaping of `&`, `<`, `>`, a bot-made mention, a Slack date token.
MARKUP = ("&amp;", "&lt;", "&gt;", "<@U_", "<!date")


def assert_no_markup_stored(events: Iterable[AuditEvent]) -> None:
    """No text field of any row holds text escaped or formatted for Slack."""
    for event in events:
        for field in fields(event):
            value = getattr(event, field.name)
            if isinstance(value, str):
                for token in MARKUP:
                    assert token not in value, (event.kind, field.name, value)
