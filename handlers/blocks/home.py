"""Pure Block Kit builder for the App Home tab: eligible, active and pending, with buttons."""

from __future__ import annotations

from typing import Any

from bot.domain.durations import to_human
from bot.service.outcomes import Overview
from bot.service.signins import LinkState
from handlers.blocks.base import (
    MAX_SURFACE_BLOCKS,
    Block,
    button,
    context,
    inline,
    scope_text,
    section,
    when,
)
from handlers.blocks.literal import code

View = dict[str, Any]


HOME_LOGIN = "home_login"


def home(view: Overview, link: LinkState | None = None) -> View:
    """The App Home: what the user can activate, what is active, what is pending; in user
    mode (`link` given) first who they are signed in as."""
    tz, now = view.requester.tz, view.now
    blocks: list[Block] = [] if link is None else signed_in(link, tz)
    blocks.append(section("*You can activate*"))
    for e in view.eligible:
        text = (
            f"*{inline(e.role.display_name)}* — {scope_text(e.scope)}, "
            f"up to {to_human(e.policy.max_duration)}"
        )
        text += " · needs approval" if e.policy.approval_required else ""
        blocks.append(
            {
                **section(text),
                "accessory": button("Activate", "home_activate", e.role.id, "primary"),
            }
        )
    blocks += [{"type": "divider"}, section("*Active now*")]
    for a in view.active:
        left = a.assignment.remaining(now)
        text = f"*{inline(a.role.display_name)}* — {scope_text(a.assignment.scope)}, " + (
            f"{to_human(left)} left (until {when(a.assignment.end, tz)})" if left else "permanent"
        )
        blocks.append(
            {
                **section(text),
                "accessory": button("Deactivate", "home_deactivate", a.role.id, "danger"),
            }
        )
    blocks += [{"type": "divider"}, section("*Pending requests*")]
    for r in view.pending:
        text = (
            f"`{r.id}` *{inline(r.role_name)}* for {to_human(r.duration)} — {scope_text(r.scope)}, "
            f"{r.state.value}"
        )
        blocks.append({**section(text), "accessory": button("Cancel", "cancel_request", r.id)})
    blocks.append(context(f"Times in {tz or 'UTC'}. Type `/pim help` for commands."))
    return {"type": "home", "blocks": _cap(blocks)}


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
