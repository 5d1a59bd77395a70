"""Pure builders for "nobody waiting in silence": the re-ping and the escalation posted in
an approval card's thread, the requester's "waiting 40 minutes, reminded twice", and the
approver's queue (`/pim approvals`, the App Home's "Waiting for you")."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from bot.domain.durations import to_human
from bot.domain.nudges import Audience, Pinged, PingKind
from bot.domain.requests import ActivationRecord
from bot.service.ports import Nudge
from handlers.blocks.base import (
    MAX_MESSAGE_BLOCKS,
    Block,
    Message,
    button,
    confirm_dialog,
    context,
    fitting,
    inline,
    mention,
    message,
    scope_text,
    section,
)
from handlers.blocks.cards import DENY_ACTION

QUEUE_APPROVE = "home_approve"  # the Home's Approve: answered by DM, from any surface
QUEUE_SHOWN = 20
MAX_MENTIONS = 40  # whole mentions only: a section's text is cut at 3000 characters
_CHAT_ID = re.compile(r"^[A-Za-z0-9_]+$")  # an id (S0614TZR7): nothing that ends the markup


def audience_text(audience: Audience) -> str:
    """Mentions: users `<@U…>`, user groups `<!subteam^S…>`
    (https://api.slack.com/reference/surfaces/formatting#mentioning-users and
    #mentioning-groups). An id from pimbot.yml that is not one is left out rather than sent
    as markup."""
    groups = [f"<!subteam^{g}>" for g in audience.groups if _CHAT_ID.fullmatch(g)]
    users = [mention(p) for p in audience.people if _CHAT_ID.fullmatch(p.chat_user_id)]
    named = groups + users  # groups first: one mention reaches many
    more = f" and {len(named) - MAX_MENTIONS} more approvers" if len(named) > MAX_MENTIONS else ""
    return " ".join(named[:MAX_MENTIONS]) + more


def times(count: int) -> str:
    return {1: "once", 2: "twice"}.get(count, f"{count} times")


def waiting_text(waited: timedelta, pinged: Pinged | None, what: str = "waiting") -> str:
    """`waiting 40 minutes, reminded twice` (`, not reminded yet` before the first
    re-ping; `, escalated` once `escalate_to` was pinged)."""
    reminded = pinged.reminded if pinged else 0
    how_often = f"reminded {times(reminded)}" if reminded else "not reminded yet"
    escalated = ", escalated" if pinged and pinged.escalated else ""
    return f"{what} {to_human(waited)}, {how_often}{escalated}"


def ping(record: ActivationRecord, audience: Audience, nudge: Nudge) -> Message:
    """The thread reply under the card: who is asked, what waits and for how long."""
    who = audience_text(audience) or "No approver of this role can be mentioned here:"
    what = (
        f"`{record.id}` ({inline(record.role_name)} for {to_human(record.duration)}, "
        f"{scope_text(record.scope)}, for {mention(record.requester)}) has waited "
        f"{to_human(nudge.waited)}"
    )
    if nudge.kind is PingKind.ESCALATE:
        text = (
            f":rotating_light: *Escalation* {who} {what} with no decision; its approvers were "
            f"reminded {times(nudge.reminded)}. Please decide it on the card above."
        )
    else:
        text = (
            f":bell: {who} {what} for a decision (reminder {nudge.reminded}). "
            "Approve or Deny on the card above."
        )
    return message(text, [section(text)])


def queue_items(
    waiting: tuple[ActivationRecord, ...], pinged: dict[str, Pinged], now: datetime
) -> list[Block]:
    """Each request the viewer may decide: its id, requester, role, scope, duration and how
    long it has waited; Approve (confirmed) and Deny (which asks for a reason) as on the card."""
    out: list[Block] = []
    for r in waiting:
        text = (
            f"{mention(r.requester)} asks for *{inline(r.role_name)}* for "
            f"{to_human(r.duration)} — {scope_text(r.scope)} · `{r.id}`, "
            f"{waiting_text(now - r.created_at, pinged.get(r.id))}"
        )
        approve = button("Approve", QUEUE_APPROVE, r.id, "primary")
        approve["confirm"] = confirm_dialog(
            "Approve this request?",
            f"{r.role_name} ({r.scope.label})",
            f" for {to_human(r.duration)} becomes active for the requester as soon as you confirm.",
            "Approve",
        )
        deny = button("Deny", DENY_ACTION, r.id, "danger")
        out += [section(text), {"type": "actions", "elements": [approve, deny]}]
    return out


def queue(
    waiting: tuple[ActivationRecord, ...], pinged: dict[str, Pinged], now: datetime
) -> Message:
    """`/pim approvals`: what waits for the viewer's decision, oldest first; as many as a
    message holds (two blocks each, within a message's blocks and size), then how many
    more."""
    if not waiting:
        text = "Nothing waits for your decision."
        return message(text, [section(text)])
    count = len(waiting)
    items = queue_items(waiting[:QUEUE_SHOWN], pinged, now)
    items = items[: fitting(items, MAX_MESSAGE_BLOCKS - 2) // 2 * 2]  # whole requests
    blocks = [section(f"*Waiting for your decision* ({count})"), *items]
    if count > len(items) // 2:
        blocks.append(
            context(
                f"{count - len(items) // 2} newer ones are not shown: see the approvals channel."
            )
        )
    return message(f"{count} request(s) wait for your decision", blocks)
