"""Pure Block Kit builder for the App Home tab: eligible, active and pending, with buttons."""

from __future__ import annotations

from typing import Any

from bot.domain.durations import to_human
from bot.domain.requests import ActivationRecord
from bot.domain.requests import RequestState as S
from bot.service.outcomes import Overview
from bot.service.signins import LinkState
from handlers.blocks.base import (
    MAX_SURFACE_BLOCKS,
    Block,
    button,
    context,
    deactivate_button,
    inline,
    scope_text,
    section,
    when,
)
from handlers.blocks.board import BOARD_TITLE, board_blocks
from handlers.blocks.literal import code
from handlers.blocks.nudges import QUEUE_APPROVE, queue_items, waiting_text

View = dict[str, Any]

HOME_LOGIN = "home_login"


HOME_APPROVE = QUEUE_APPROVE  # the queue's Approve, here and in `/pim approvals`
NOTHING = "_Nothing here._"
# What an open request is doing, in words (never the state machine's names).
DOING = {
    S.REQUESTED: "being requested",
    S.PENDING_APPROVAL: "waiting for an approver",
    S.APPROVED: "approved, being activated",
    S.ACTIVATING: "being activated",
}


def home(view: Overview, link: LinkState | None = None) -> View:
    """The App Home: what waits for the user's decision (approvers), what they can
    activate, what is active, what they asked for; in user mode (`link` given) first who
    they are signed in as. An empty section says so."""
    tz = view.requester.tz
    blocks: list[Block] = [] if link is None else signed_in(link, tz)
    if view.waiting:
        blocks += [section("*Waiting for you*"), *_waiting(view), {"type": "divider"}]
    blocks += [section("*You can activate*"), *_or_nothing(_eligible(view))]
    blocks += [{"type": "divider"}, section("*Active now*"), *_or_nothing(_active(view))]
    blocks += [{"type": "divider"}, section("*Your requests*"), *_or_nothing(_pending(view))]
    if view.board is not None:  # approvers and viewers
        blocks += [{"type": "divider"}, section(BOARD_TITLE), *board_blocks(view.board)]
    blocks.append(context(f"Times in {tz or 'UTC'}. Type `/pim help` for commands."))
    return {"type": "home", "blocks": _cap(blocks)}


def _or_nothing(blocks: list[Block]) -> list[Block]:
    return blocks or [section(NOTHING)]


def _active(view: Overview) -> list[Block]:
    out = []
    for a in view.active:
        left = a.assignment.remaining(view.now)
        text = f"*{inline(a.role.display_name)}* — {scope_text(a.assignment.scope)}, " + (
            f"{to_human(left)} left (until {when(a.assignment.end, view.requester.tz)})"
            if left
            else "permanent"
        )
        if a.assignment.end is None:  # permanent: not pimbot's to remove, so no button
            out.append(section(text))
            continue
        end = deactivate_button(
            "Deactivate",
            "home_deactivate",
            a.role.id,
            f"{a.role.display_name} ({a.assignment.scope.label})",
        )
        out.append({**section(text), "accessory": end})
    return out


def _pending(view: Overview) -> list[Block]:
    out = []
    for r in view.pending:
        text = (
            f"`{r.id}` *{inline(r.role_name)}* for {to_human(r.duration)} — "
            f"{scope_text(r.scope)}, {_doing(view, r)}"
        )
        block = section(text)
        if r.state is S.PENDING_APPROVAL:  # only a request still waiting can be withdrawn
            block["accessory"] = button("Cancel", "cancel_request", r.id)
        out.append(block)
    return out


def _doing(view: Overview, record: ActivationRecord) -> str:
    """In words; for a request waiting for approval, how long and how often approvers
    were reminded ("waiting for an approver for 40 minutes, reminded twice")."""
    doing = DOING.get(record.state, record.state.value.replace("_", " "))
    if record.state is not S.PENDING_APPROVAL:
        return doing
    return waiting_text(view.now - record.created_at, view.pinged.get(record.id), doing + " for")


def _eligible(view: Overview) -> list[Block]:
    out = []
    for e in view.eligible:
        text = (
            f"*{inline(e.role.display_name)}* — {scope_text(e.scope)}, "
            f"up to {to_human(e.policy.max_duration)}"
        )
        text += " · needs approval" if e.policy.approval_required else ""
        activate = button("Activate", "home_activate", e.role.id, "primary")
        out.append({**section(text), "accessory": activate})
    return out


def _waiting(view: Overview) -> list[Block]:
    """Each request the viewer may decide, as `/pim approvals` lists them."""
    return queue_items(view.waiting, dict(view.pinged), view.now)


def signed_in(link: LinkState, tz: str | None) -> list[Block]:
    since = f" since {when(link.linked_at, tz)}" if link.linked_at else ""
    name, upn = inline(link.display_name or ""), code(link.user_principal_name or "")
    text = (
        f":white_check_mark: Signed in to Microsoft Entra as *{name}* ({upn}){since}. "
        "pimbot acts as you. `/pim logout` signs you out."
    )
    return [section(text), {"type": "divider"}]


def sign_in_home(link: LinkState, reason: str | None = None) -> View:
    """User mode, not signed in: nothing can be read for them until they are."""
    if link.pending:
        text = ":hourglass_flowing_sand: A sign-in is waiting: use the code I sent you by DM."
    else:
        text = (
            ":key: You're not signed in to Microsoft Entra. pimbot acts as you, so sign in first."
        )
    lines = [section(text + (f"\n{reason}" if reason else ""))]
    login = button(
        "Sign in" if not link.pending else "Send a new code", HOME_LOGIN, "login", "primary"
    )
    return {"type": "home", "blocks": [*lines, {"type": "actions", "elements": [login]}]}


def home_for(overview: Overview | None, link: LinkState | None) -> View:
    """The Home for where the user stands: signed out (user mode), or their roles."""
    if link is not None and not link.linked:
        return sign_in_home(link)
    if overview is None:
        return home_notice(":warning: Your roles could not be read just now; open the Home again.")
    return home(overview, link)


def home_notice(text: str) -> View:
    return {"type": "home", "blocks": [section(text)]}


def _cap(blocks: list[Block]) -> list[Block]:
    if len(blocks) <= MAX_SURFACE_BLOCKS:
        return blocks
    return [*blocks[: MAX_SURFACE_BLOCKS - 1], context("More items than fit: use `/pim list`.")]
