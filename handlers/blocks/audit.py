"""The audit channel's line: the bot's part in mrkdwn, the request's facts as plain text."""

from __future__ import annotations

from bot.domain.audit import AuditEvent
from bot.domain.durations import to_human
from handlers.blocks.base import (
    MAX_BLOCKS_JSON,
    MAX_MESSAGE_BLOCKS,
    Block,
    Message,
    inline,
    json_size,
    mention,
    message,
    when,
)
from handlers.blocks.literal import literal


def audit_post(event: AuditEvent) -> Message:
    """One audit line for the audit channel: when, what and who in mrkdwn (the time in each
    reader's zone), then the facts (names, ticket, justification, reason, the Entra user)
    as plain text that Slack never parses."""
    extra = [f"entra {event.entra_user_id}"] if event.entra_user_id else []
    head, facts = _audit_head(event), [*_audit_facts(event), *extra]
    text = " · ".join([head, *(inline(fact) for fact in facts)])
    elements = [{"type": "mrkdwn", "text": head}]
    if facts:
        elements.append(literal(" · ".join(facts), 2000))  # a context element's limit
    return message(text, [{"type": "context", "elements": elements}])


# One message of audit lines: a message's 50 blocks, less one for the sandbox note
# (handlers/sandbox_mark.py), within MAX_BLOCKS_JSON.
LINES_PER_POST = MAX_MESSAGE_BLOCKS - 1
SMALLEST_LINE = 150  # characters of JSON: no line is shorter (its time and kind alone)


def audit_posts(events: list[AuditEvent]) -> list[Message]:
    """Many audit lines in as few messages as Slack takes: each event still its own line
    (its `audit_post` context block)."""
    posts = [audit_post(event) for event in events]
    out: list[Message] = []
    while posts:
        taken, joined = first_post(posts)
        out.append(joined)
        posts = posts[taken:]
    return out


def room_behind(post: Message) -> int:
    """How many one-line posts may still join `post` in its message (none when the
    smallest line would not fit): what is worth reading from the outbox."""
    blocks = list(post.get("blocks") or [])
    if json_size(blocks) + SMALLEST_LINE > MAX_BLOCKS_JSON:
        return 0
    return max(LINES_PER_POST - len(blocks), 0)


def first_post(posts: list[Message]) -> tuple[int, Message]:
    """How many of `posts` (at least one), whole and in order, one message holds, and
    that message: their blocks one after another, their texts a line each."""
    blocks: list[Block] = []
    size = taken = 0
    for post in posts:
        more = list(post.get("blocks") or [])
        grown = size + json_size(more)
        if taken and (len(blocks) + len(more) > LINES_PER_POST or grown > MAX_BLOCKS_JSON):
            break
        blocks, size, taken = blocks + more, grown, taken + 1
    text = "\n".join(str(post.get("text") or "") for post in posts[:taken])
    return taken, message(text, blocks)


def audit_line(event: AuditEvent) -> str:
    """One mrkdwn line: when, what, who (mentioned), which role where, and the request's
    facts, each of them inline so none can format, link or mention."""
    return " · ".join([_audit_head(event), *(inline(fact) for fact in _audit_facts(event))])


def _audit_head(event: AuditEvent) -> str:
    """When, what, who did it (`by`, absent when pimbot acted on its own) and whose access
    it is about (`for`), each named even when they are the same person."""
    who = [f"by {mention(event.person)}"] if event.person else []
    whose = [f"for {mention(event.subject)}"] if event.subject else []
    return " · ".join([when(event.at), event.kind.value, *who, *whose])


def _audit_facts(event: AuditEvent) -> list[str]:
    """The event's facts as plain text, in the order an auditor reads them."""
    facts = [
        event.role_name,
        f"scope {event.scope.id} ({event.scope.label})" if event.scope else None,
        f"for {to_human(event.duration)}" if event.duration else None,
        _span(event),
        f"held {to_human(event.held)}" if event.held is not None else None,
        f"ticket {event.ticket}" if event.ticket else None,
        f"“{event.justification}”" if event.justification else None,
        f"request {event.request_id}" if event.request_id else None,
        f"graph {event.graph_request_id}" if event.graph_request_id else None,
        f"({event.detail})" if event.detail else None,
    ]
    return [fact for fact in facts if fact]


def _span(event: AuditEvent) -> str | None:
    """The activation's start and end in UTC: plain text has no per-reader time."""
    if event.start is None:
        return None
    end = f" to {event.end:%Y-%m-%d %H:%M:%S}" if event.end else ""
    return f"active from {event.start:%Y-%m-%d %H:%M:%S}{end} UTC"
