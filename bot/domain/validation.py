"""Ticket numbers and justifications: normalise, then accept or refuse with the reason."""

from __future__ import annotations

import re
import unicodedata

from bot.domain.rules import JustificationRules, TicketRules
from bot.errors import InputError

MAX_TICKET = 100
# Slack turns `<!channel>`, `<!here>`, `<!subteam^…>` and `<@U…>` into notifications when
# the text is posted, and the justification is posted to the approvals and audit channels.
_SLACK_PING = re.compile(r"<\s*[!@]", re.UNICODE)


def check_ticket(text: str, ticket: TicketRules) -> str:
    """The ticket number, stripped, if it fully matches the configured pattern."""
    value = text.strip()
    if not value:
        raise InputError(f"The ticket number is empty. Give one like `{ticket.example}`.")
    if len(value) > MAX_TICKET:
        raise InputError(f"A ticket number is at most {MAX_TICKET} characters.")
    if not is_ticket(value, ticket.pattern):
        raise InputError(
            f"`{_show(value)}` is not a {ticket.system} ticket number: "
            f"it should look like `{ticket.example}`."
        )
    return value


def ticket_regex(pattern: str | re.Pattern[str]) -> re.Pattern[str]:
    r"""`ticket.pattern` in ASCII mode: `\d` and `\w` are 0-9 and A-Za-z0-9_ only, so a
    number written in Arabic-Indic or fullwidth digits is not taken for a ticket."""
    source = pattern.pattern if isinstance(pattern, re.Pattern) else pattern
    return re.compile(source, re.ASCII)


def is_ticket(value: str, pattern: str | re.Pattern[str]) -> bool:
    """Full match, so a pattern without anchors can't accept a ticket inside other text."""
    return ticket_regex(pattern).fullmatch(value) is not None


def check_justification(text: str, cfg: JustificationRules) -> str:
    """The justification with whitespace collapsed, if it is long enough and safe to post."""
    if any(_is_control(c) for c in text):
        raise InputError("The justification contains control characters; use plain text.")
    value = " ".join(text.split())
    if not value:
        raise InputError("A justification is required: say why you need the role.")
    if _SLACK_PING.search(value):
        raise InputError(
            "The justification can't mention people or channels (`@here`, `@channel`, `@user`): "
            "it is posted for approvers and would notify them. Name them in plain words."
        )
    if not any(c.isalnum() for c in value):
        raise InputError("The justification must contain words, not only punctuation.")
    if len(value) < cfg.min_length:
        raise InputError(
            f"The justification is too short ({len(value)} characters): "
            f"write at least {cfg.min_length} so approvers and auditors understand why."
        )
    if len(value) > cfg.max_length:
        raise InputError(
            f"The justification is too long ({len(value)} characters): "
            f"keep it to {cfg.max_length} and put details in the ticket."
        )
    return value


def _is_control(char: str) -> bool:
    # Newlines and tabs are ordinary whitespace here (modal text areas allow them);
    # everything else in Unicode category C* (NUL, ESC, bidi overrides, …) is refused.
    # The zero-width joiner is kept because emoji sequences (👩‍💻) are built with it.
    return char not in "\n\r\t\u200d" and unicodedata.category(char).startswith("C")


def _show(value: str) -> str:
    return value if len(value) <= 40 else value[:40] + "…"
