"""Pure Block Kit builders for who is elevated (`/pim who`, the audit channel's board,
the approvers' App Home) and for `/pim history`.

Names read from Graph and tickets are someone else's text: shown with `inline`/`code`,
never as markup."""

from __future__ import annotations

from bot.domain.board import ActivationHistory, Board, Elevation, PastActivation, Stage
from bot.domain.durations import to_human
from handlers.blocks.base import (
    MAX_MESSAGE_BLOCKS,
    Block,
    Message,
    context,
    fitting,
    inline,
    mention,
    message,
    scope_text,
    section,
    when,
)
from handlers.blocks.literal import code

BOARD_TITLE = "*Who is elevated right now*"
_MARK = {
    Stage.PROVISIONING: "provisioning",
    Stage.IN_EFFECT: "in effect",
    Stage.EXPIRING: "expiring",
    Stage.ENDED: "ended",
}
_ROOM = MAX_MESSAGE_BLOCKS - 4  # the title, the footer and a "more" line


def elevation_line(e: Elevation) -> str:
    """who, what, where, since, until, state, ticket, and whether pimbot made it."""
    who = inline(e.principal_name) + (f" ({mention(e.requester)})" if e.requester else "")
    via = "via pimbot" if e.via_pimbot else "*not via pimbot*"
    ticket = f", ticket {code(e.ticket.number)}" if e.ticket else ""
    since = when(e.since) if e.since else "unknown"
    until = when(e.until) if e.until else "permanent"
    return (
        f"*{inline(e.role_name)}* — {who} — {scope_text(e.scope)}\n"
        f"{_MARK[e.stage]} · since {since} · until {until} · {via}{ticket}"
    )


def board_blocks(board: Board) -> list[Block]:
    """The list itself (shared by the three surfaces), capped to fit one message: in
    blocks, and in size (a board of 46 lines was past what Slack takes in one message)."""
    if not board.elevations:
        return [section("_Nobody holds a role pimbot knows right now._")]
    lines = [section(elevation_line(e)) for e in board.elevations[:_ROOM]]
    blocks = lines[: fitting(lines, _ROOM)]
    if len(board.elevations) > len(blocks):
        blocks.append(context(f"…and {len(board.elevations) - len(blocks)} more."))
    return blocks


def board_message(board: Board) -> Message:
    """The audit channel's board, edited in place after every change."""
    count = sum(1 for e in board.elevations if e.stage is not Stage.ENDED)
    text = f"Who is elevated right now: {count} active elevation(s)"
    footer = context(f"Updated {when(board.at)}. `/pim who` shows this any time.")
    return message(text, [section(BOARD_TITLE), *board_blocks(board), footer])


def who_message(board: Board) -> Message:
    """`/pim who`'s answer; someone who sees only their own is told so."""
    title = "*Your elevations right now*" if board.partial else BOARD_TITLE
    note = (
        "You see only your own: approvers and the viewers named in pimbot.yml see everyone."
        if board.partial
        else f"As of {when(board.at)}."
    )
    text = title.strip("*")
    return message(text, [section(title), *board_blocks(board), context(note)])


def history_message(history: ActivationHistory) -> Message:
    """`/pim history`'s answer: newest first."""
    whose = mention(history.subject)
    what = f" of {inline(history.role_name)}" if history.role_name else ""
    title = f"*Last activations{what}* — {whose}"
    lines = [section(_past_line(p)) for p in history.activations]
    body = lines[: fitting(lines, MAX_MESSAGE_BLOCKS - 2)]  # the title, an "older" line
    if len(lines) > len(body):
        body.append(context(f"…and {len(lines) - len(body)} older, not shown."))
    body = body or [section("_No activations in the audit trail._")]
    return message(f"Last activations{what}", [section(title), *body])


def _past_line(p: PastActivation) -> str:
    scope = f" — {scope_text(p.scope)}" if p.scope else ""
    length = to_human(p.duration) if p.duration else "unknown"
    ticket = code(p.ticket) if p.ticket else "none"
    approver = f"approved by {mention(p.approver)}" if p.approver else "no approval needed"
    return (
        f"*{inline(p.role_name)}*{scope}\n{when(p.at)} for {length} · ticket {ticket} · {approver}"
    )
