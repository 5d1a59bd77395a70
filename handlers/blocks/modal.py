"""Pure Block Kit builders for the activation modal: loading, the form, and notices."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from bot.domain.durations import to_human
from bot.domain.targets import pick_scope, split_scope
from bot.errors import InputError
from bot.service.outcomes import EligibleRole
from bot.settings import JustificationConfig, TicketConfig
from handlers.blocks.base import Block, button, clip, confirm_dialog, plain, section
from handlers.blocks.literal import escape

View = dict[str, Any]

ACTIVATE_CALLBACK = "pim_activate"
BREAK_GLASS_ACTION = "modal_break_glass"
GLASS_ERROR_BLOCK = "glass_error"
MAX_TITLE = 24
MAX_OPTIONS = 100
MAX_METADATA = 3000
# Offered durations; each modal shows those up to the chosen role's maximum (the largest
# among the user's roles until one is chosen), and the submission is checked again.
DURATION_CHOICES = ("30m", "1h", "2h", "4h", "5h", "8h", "12h", "1d", "2d", "3d", "7d")


@dataclass(frozen=True, slots=True)
class Prefill:
    """What the user already typed (`/pim activate user-admin 5h`) or clicked (Home)."""

    role: str | None = None
    duration: timedelta | None = None
    ticket: str | None = None
    justification: str | None = None


def short(value: timedelta) -> str:
    """`5h`, `1h30m`, `1d`: the form a duration select option carries."""
    minutes = int(value.total_seconds()) // 60
    days, rest = divmod(minutes, 1440)
    hours, mins = divmod(rest, 60)
    return "".join(f"{n}{u}" for n, u in ((days, "d"), (hours, "h"), (mins, "m")) if n) or "0m"


def _seconds(text: str) -> int:
    units = {"d": 86400, "h": 3600, "m": 60}
    total, num = 0, ""
    for ch in text:
        if ch.isdigit():
            num += ch
        else:
            total, num = total + int(num) * units[ch], ""
    return total


def _option(text: str, value: str) -> dict[str, Any]:
    return {"text": plain(text), "value": value}


def loading_modal() -> View:
    """Opened at once, inside the trigger_id window; the roles arrive by views.update."""
    return {
        "type": "modal",
        "callback_id": ACTIVATE_CALLBACK,
        "title": plain("Activate a role", MAX_TITLE),
        "close": plain("Cancel", MAX_TITLE),
        "blocks": [section(":hourglass_flowing_sand: Loading your roles…")],
    }


def notice_modal(text: str) -> View:
    """A modal that only tells the user something (no roles, not mapped, an error)."""
    return {
        "type": "modal",
        "callback_id": ACTIVATE_CALLBACK,
        "title": plain("Activate a role", MAX_TITLE),
        "close": plain("Close", MAX_TITLE),
        "blocks": [section(text)],
    }


def activation_modal(
    eligible: list[EligibleRole],
    prefill: Prefill,
    ticket: TicketConfig,
    just: JustificationConfig,
    *,
    break_glass: bool = False,
) -> View:
    """The form: role, duration, ticket and justification, with per-role rules in metadata.
    With a role chosen (typed, clicked, or the only one) the durations stop at its maximum
    and the ticket field says whether that role needs one; a role typed that is not among
    the user's is named above the form rather than silently dropped."""
    if not eligible:
        return notice_modal("You aren't eligible for any role. Ask your PIM admin.")
    roles = eligible[:MAX_OPTIONS]
    match = _find(roles, prefill.role)
    chosen = match or (roles[0] if len({e.role.id for e in roles}) == 1 else None)
    largest = max(e.policy.max_duration for e in roles)
    cap = chosen.policy.max_duration if chosen else largest
    needs = [e.role.display_name for e in roles if e.policy.ticket_required]
    required = chosen.policy.ticket_required if chosen else None
    view = notice_modal("")
    view["submit"] = plain("Activate", MAX_TITLE)
    view["close"] = plain("Cancel", MAX_TITLE)
    view["blocks"] = [
        _role_block(roles, match),
        _duration_block(cap, prefill.duration),
        _ticket_block(ticket, prefill.ticket, required, needs),
        _justification_block(just, prefill.justification),
    ]
    if break_glass:  # pimbot.yml makes some role break-glass-able; the service says which
        view["blocks"] += _break_glass_blocks()
    if prefill.role and match is None:
        view["blocks"].insert(0, section(_unknown_role(prefill.role)))
    view["private_metadata"] = _rules_metadata(roles)
    return view


def _break_glass_blocks() -> list[Block]:
    """Emergency only: activate the chosen role at once, the justification as the reason;
    approvers ratify it afterwards or it ends. A confirm dialog says so first."""
    glass = button("Break glass", BREAK_GLASS_ACTION, "break_glass", "danger")
    glass["confirm"] = confirm_dialog(
        "Break glass?",
        "The chosen role",
        " is activated now without approval, and every approver is alerted. Unless they "
        "ratify it in time, it is deactivated. Your break-glass uses per day are limited.",
        "Break glass",
        "danger",
    )
    hint = section(
        ":rotating_light: *Emergency?* Roles that allow break-glass can be activated at once "
        "with the justification as the reason; approvers ratify it afterwards."
    )
    hint["block_id"] = "break_glass_hint"
    return [hint, {"type": "actions", "block_id": "break_glass", "elements": [glass]}]


def with_error(view: View, text: str) -> View:
    """The open form with `text` above it (replacing an earlier one); Slack keeps what
    was typed in input blocks whose block_id and action_id are unchanged
    (https://docs.slack.dev/reference/methods/views.update, "Preserving input entry")."""
    out = _updatable(view)
    kept = [b for b in view["blocks"] if b.get("block_id") != GLASS_ERROR_BLOCK]
    out["blocks"] = [{**section(f":warning: {text}"), "block_id": GLASS_ERROR_BLOCK}, *kept]
    return out


def refit(view: View, role_id: str, ticket: TicketConfig) -> View:
    """The open form after a role was picked: durations up to that role's maximum and the
    ticket field required or not as that role says (from the rules in the metadata), what
    was already chosen or typed kept. Only the fields views.update accepts are copied."""
    rules = json.loads(view.get("private_metadata") or "{}").get("roles", {})
    if role_id not in rules:
        return _updatable(view)  # not in the metadata: the service checks it after submit
    cap, required = timedelta(seconds=int(rules[role_id][0])), bool(rules[role_id][1])
    values = view.get("state", {}).get("values", {})
    chosen = (values.get("duration", {}).get("value", {}).get("selected_option") or {}).get("value")
    typed = values.get("ticket", {}).get("value", {}).get("value")
    wanted = timedelta(seconds=_seconds(chosen)) if chosen else None
    fitted = {
        "duration": _duration_block(cap, wanted),
        "ticket": _ticket_block(ticket, typed, required, []),
    }
    out = _updatable(view)
    out["blocks"] = [fitted.get(b.get("block_id", ""), b) for b in view["blocks"]]
    return out


def _updatable(view: View) -> View:
    keys = ("type", "callback_id", "title", "submit", "close", "blocks", "private_metadata")
    return {k: view[k] for k in keys if k in view}


def _unknown_role(typed: str) -> str:
    shown = clip(escape(typed).replace("`", "'"), 60)
    return f":warning: `{shown}` is not one of the roles you can activate; pick one below."


def option_value(e: EligibleRole, roles: list[EligibleRole]) -> str:
    """What an option carries: the role id, and `@scope id` when the user is eligible for
    that role at more than one scope (the service reads it as `/pim activate role@scope`)."""
    several = sum(1 for other in roles if other.role.id == e.role.id) > 1
    return f"{e.role.id}@{e.scope.id}" if several else e.role.id


def _rules_metadata(roles: list[EligibleRole]) -> str:
    """Each option's maximum and ticket rule, for inline errors on submit. Options that
    don't fit Slack's 3000 characters are left out: the service still checks them."""
    meta: dict[str, list[int]] = {}
    for e in roles:
        entry = [int(e.policy.max_duration.total_seconds()), int(e.policy.ticket_required)]
        key = option_value(e, roles)
        if len(json.dumps({"roles": {**meta, key: entry}})) > MAX_METADATA:
            break
        meta[key] = entry
    return json.dumps({"roles": meta})


def _role_block(roles: list[EligibleRole], match: EligibleRole | None) -> Block:
    # One option per role and scope (a role eligible at two scopes is two choices, never
    # one the bot would have to resolve); its label names the scope.
    options = [_option(_role_label(e), option_value(e, roles)) for e in roles]
    element: dict[str, Any] = {"type": "static_select", "action_id": "value", "options": options}
    if match is not None:
        element["initial_option"] = _option(_role_label(match), option_value(match, roles))
    # Picking a role sends block_actions, so the durations and the ticket field follow it
    # (https://api.slack.com/reference/block-kit/blocks#input: dispatch_action).
    return {
        "type": "input",
        "block_id": "role",
        "dispatch_action": True,
        "label": plain("Role"),
        "element": element,
    }


def _role_label(e: EligibleRole) -> str:
    """`User Administrator · Whole directory (max 8h) · approval` (plain text)."""
    extra = " · approval" if e.policy.approval_required else ""
    return f"{e.role.display_name} · {e.scope.label} (max {short(e.policy.max_duration)}){extra}"


def _find(roles: list[EligibleRole], wanted: str | None) -> EligibleRole | None:
    """The option `/pim activate <role>[@scope]` names; with several scopes and none
    named, no option is chosen for the user."""
    role_text, hint = split_scope(wanted or "")
    key = role_text.casefold()
    same = [
        e
        for e in roles
        if key
        and key
        in (e.role.id.casefold(), e.role.display_name.casefold(), (e.role.alias or "").casefold())
    ]
    if hint is None:
        return same[0] if len(same) == 1 else None
    try:
        scope = pick_scope([e.scope for e in same], hint, role_text)
    except InputError:
        return None
    return next((e for e in same if e.scope == scope), None)


def _duration_block(cap: timedelta, wanted: timedelta | None) -> Block:
    """The choices up to `cap` (the chosen role's maximum, else the largest), never more."""
    values = [c for c in DURATION_CHOICES if _seconds(c) <= cap.total_seconds()]
    if wanted is not None and short(wanted) not in values and wanted <= cap:
        values = sorted({*values, short(wanted)}, key=_seconds)
    options = [_option(to_human(timedelta(seconds=_seconds(v))), v) for v in values]
    element: dict[str, Any] = {"type": "static_select", "action_id": "value", "options": options}
    if wanted is not None and short(wanted) in values:
        element["initial_option"] = _option(to_human(wanted), short(wanted))
    label = plain("Duration")
    return {"type": "input", "block_id": "duration", "label": label, "element": element}


def _ticket_block(
    cfg: TicketConfig, value: str | None, required: bool | None, needs: list[str]
) -> Block:
    """`required`: what the chosen role says (None: no role chosen yet, so optional, and
    the hint names the roles that need one). Slack marks an optional field "(optional)"."""
    if required is None:
        hint = f"Format: {cfg.example}." + (f" Required for {', '.join(needs)}." if needs else "")
    else:
        hint = ("Required for this role. " if required else "Not needed for this role. ") + (
            f"Format: {cfg.example}."
        )
    element: dict[str, Any] = {
        "type": "plain_text_input",
        "action_id": "value",
        "placeholder": plain(cfg.example, 150),
    }
    if value:
        element["initial_value"] = value
    return {
        "type": "input",
        "block_id": "ticket",
        "optional": not required,
        "label": plain("Ticket number"),
        "hint": plain(hint, 2000),
        "element": element,
    }


def _justification_block(cfg: JustificationConfig, value: str | None) -> Block:
    element: dict[str, Any] = {
        "type": "plain_text_input",
        "action_id": "value",
        "multiline": True,
        "max_length": cfg.max_length,
    }
    if cfg.min_length:
        element["min_length"] = cfg.min_length
    if value:
        element["initial_value"] = value[: cfg.max_length]
    hint = f"Why you need it: {cfg.min_length}–{cfg.max_length} characters."
    return {
        "type": "input",
        "block_id": "justification",
        "label": plain("Justification"),
        "hint": plain(hint, 2000),
        "element": element,
    }
