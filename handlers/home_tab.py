"""Pure Block Kit builder for the App Home tab: eligible, active and pending, with buttons."""

from __future__ import annotations

from typing import Any

from bot.domain.durations import to_human
from bot.service import Overview
from handlers.blocks import MAX_SURFACE_BLOCKS, Block, button, context, section, when

View = dict[str, Any]


def home(view: Overview) -> View:
    """The App Home: what the user can activate, what is active, what is pending."""
    tz, now = view.requester.tz, view.now
    blocks: list[Block] = [section("*You can activate*")]
    for e in view.eligible:
        text = f"*{e.role.display_name}* — up to {to_human(e.policy.max_duration)}"
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
        text = f"*{a.role.display_name}* — " + (
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
        text = f"`{r.id}` *{r.role_name}* for {to_human(r.duration)} — {r.state.value}"
        blocks.append({**section(text), "accessory": button("Cancel", "cancel_request", r.id)})
    blocks.append(context(f"Times in {tz or 'UTC'}. Type `/pim help` for commands."))
    return {"type": "home", "blocks": _cap(blocks)}


def home_notice(text: str) -> View:
    return {"type": "home", "blocks": [section(text)]}


def _cap(blocks: list[Block]) -> list[Block]:
    if len(blocks) <= MAX_SURFACE_BLOCKS:
        return blocks
    return [*blocks[: MAX_SURFACE_BLOCKS - 1], context("More items than fit: use `/pim list`.")]
