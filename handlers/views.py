"""The activation modal: open it fast, fill it with the user's roles, validate the submission."""

from __future__ import annotations

import json
import logging
import re
from dataclasses import asdict, dataclass, fields
from datetime import timedelta
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.domain.command_types import Activate, BreakGlass, ListRoles
from bot.domain.durations import parse_duration, to_human
from bot.domain.people import PersonKey, slack
from bot.domain.validation import check_justification, check_ticket
from bot.errors import PimError
from bot.service.dispatch import Pimbot
from bot.service.intake import Acked
from bot.service.outcomes import GlassOutcome, Outcome, Overview
from bot.settings import PolicyFile
from handlers import blocks
from handlers.blocks import modal
from handlers.blocks.breakglass import glass_reply
from handlers.replies import DirectMessages, expect, guarded, new_ref, to_dm

log = logging.getLogger("handlers")


@dataclass(frozen=True, slots=True)
class ActivationForm:
    """A submitted activation modal, as typed."""

    role_id: str
    duration: str
    ticket: str | None
    justification: str


FORM = "activation_form"
_FORM_FIELDS = tuple(f.name for f in fields(ActivationForm))


def _command(form: ActivationForm) -> Activate:
    return Activate(form.role_id, parse_duration(form.duration), form.ticket, form.justification)


async def _activate(bot: Pimbot, dms: DirectMessages, who: PersonKey, form: ActivationForm) -> None:
    """The work after the form's ack; answered by DM (a closed modal has no reply)."""

    async def work() -> blocks.Message:
        return blocks.outcome(expect(Outcome, await bot.handle(who, _command(form))))

    await guarded(to_dm(dms, who), work)


def register(app: AsyncApp, bot: Pimbot, dms: DirectMessages) -> None:
    @app.view(modal.ACTIVATE_CALLBACK)
    async def submit(ack: AsyncAck, body: dict[str, Any], view: dict[str, Any]) -> None:
        who = slack(str(body["user"]["id"]))  # identity from the payload, never from the form
        form = read_form(view)
        errors = form_errors(form, _rules(view), bot.config)
        if errors:
            await ack(response_action="errors", errors=as_plain_text(errors))
            return
        await ack()  # closes the modal; the activation runs after it
        # Kept until done: a replica dying before it is leaves it to a survivor.
        kept = await bot.keep_acked(FORM, {"user_id": who.chat_user_id, **asdict(form)})
        await _activate(bot, dms, who, form)
        await bot.acked_done(kept)

    async def replay(item: Acked) -> None:
        """A form another replica acked and died before carrying out (bot/service/intake.py)."""
        who = slack(str(item.payload["user_id"]))
        form = ActivationForm(**{k: item.payload[k] for k in _FORM_FIELDS})
        if not await bot.stored_since(who, _command(form), item.at):
            await _activate(bot, dms, who, form)

    bot.replay_acked_with(FORM, replay)

    @app.action(modal.BREAK_GLASS_ACTION)
    async def break_glass(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        """The form's Break glass (confirmed in Slack's dialog): the form as it stands is
        the request, its justification the reason; the outcome replaces the form."""
        await ack()
        who, view = slack(str(body["user"]["id"])), body["view"]
        form = read_form(view)
        errors = glass_errors(form, bot.config)
        if errors:
            fixed = modal.with_error(view, " ".join(as_plain_text(errors).values()))
            await _update(client, view, fixed)
            return

        async def work() -> blocks.Message:
            command = BreakGlass(
                form.role_id, parse_duration(form.duration), form.ticket, form.justification
            )
            return glass_reply(expect(GlassOutcome, await bot.handle(who, command)))

        async def into_modal(msg: blocks.Message) -> None:
            await to_dm(dms, who)(msg)  # kept: the modal is gone once closed
            await _update(client, view, modal.notice_modal(msg["text"]))

        await guarded(into_modal, work)

    @app.action({"block_id": "role", "action_id": "value"})
    async def role_chosen(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        """A role was picked in the open form: fit the durations and the ticket field to it."""
        await ack()
        view, chosen = body["view"], body["actions"][0].get("selected_option") or {}
        fitted = modal.refit(view, str(chosen.get("value") or ""), bot.config.ticket)
        try:
            await client.views_update(view_id=view["id"], hash=view.get("hash"), view=fitted)
        except SlackApiError as exc:  # hash_conflict: the form changed meanwhile; it is
            # checked again on submit anyway
            log.info("refitting the activation form failed: %s", exc.response.get("error"))


async def open_activation_form(
    client: AsyncWebClient,
    bot: Pimbot,
    trigger_id: str,
    who: PersonKey,
    prefill: modal.Prefill,
) -> None:
    """views.open a loading modal at once (trigger_id lives 3 s), then views.update it with
    the user's eligible roles; failures land in the modal rather than vanish."""
    opened = await client.views_open(trigger_id=trigger_id, view=modal.loading_modal())
    view_id, view_hash = opened["view"]["id"], opened["view"].get("hash")
    config = bot.config
    glass = any(r.break_glass is not None for r in config.roles.values())
    try:
        overview = expect(Overview, await bot.handle(who, ListRoles()))
        view = modal.activation_modal(
            overview.eligible, prefill, config.ticket, config.justification, break_glass=glass
        )
    except PimError as exc:
        view = modal.notice_modal(f":warning: {exc.user_message}")
    except Exception:  # noqa: BLE001 - the user gets a ref; the trace goes to the log
        ref = new_ref()
        log.exception("loading the activation form failed (ref %s)", ref)
        view = modal.notice_modal(blocks.internal_error(ref)["text"])
    await client.views_update(view_id=view_id, hash=view_hash, view=view)


def read_form(view: dict[str, Any]) -> ActivationForm:
    values = view.get("state", {}).get("values", {})

    def pick(block: str) -> str:
        element = values.get(block, {}).get("value", {})
        chosen = element.get("selected_option") or {}
        return str(chosen.get("value") or element.get("value") or "").strip()

    return ActivationForm(
        pick("role"), pick("duration"), pick("ticket") or None, pick("justification")
    )


def _rules(view: dict[str, Any]) -> dict[str, tuple[timedelta, bool]]:
    """Per-role maximum and ticket rule, written into the modal when it was built."""
    try:
        roles = json.loads(view.get("private_metadata") or "{}").get("roles", {})
        return {k: (timedelta(seconds=int(v[0])), bool(v[1])) for k, v in roles.items()}
    except (ValueError, TypeError, AttributeError, IndexError):
        return {}


def form_errors(
    form: ActivationForm, rules: dict[str, tuple[timedelta, bool]], config: PolicyFile
) -> dict[str, str]:
    """Per-field messages for `response_action: errors`; empty when the form is valid.
    The service checks everything again: these only put the message beside the field."""
    errors: dict[str, str] = {}
    rule = rules.get(form.role_id)  # None: not in the metadata, the service checks it
    if not form.role_id:
        errors["role"] = "Pick one of the roles in the list."
    try:
        duration = parse_duration(form.duration)
        if rule is not None and duration > rule[0]:
            errors["duration"] = f"This role can be active for at most {to_human(rule[0])}."
    except PimError as exc:
        errors["duration"] = exc.user_message
    if form.ticket:
        _check(errors, "ticket", lambda: check_ticket(form.ticket, config.ticket))
    elif rule is not None and rule[1]:
        errors["ticket"] = f"This role needs a ticket number, like {config.ticket.example}."
    _check(
        errors,
        "justification",
        lambda: check_justification(form.justification, config.justification),
    )
    return errors


def glass_errors(form: ActivationForm, config: PolicyFile) -> dict[str, str]:
    """What the form lacks for a break-glass: a role, a duration and a reason; a ticket is
    checked only if typed (the service applies the rest of the role's rules)."""
    errors: dict[str, str] = {}
    if not form.role_id:
        errors["role"] = "Pick the role to break glass for."
    try:
        parse_duration(form.duration)
    except PimError as exc:
        errors["duration"] = exc.user_message
    if form.ticket:
        _check(errors, "ticket", lambda: check_ticket(form.ticket, config.ticket))
    _check(
        errors,
        "justification",
        lambda: check_justification(form.justification, config.justification),
    )
    return errors


async def _update(client: AsyncWebClient, view: dict[str, Any], new: dict[str, Any]) -> None:
    try:
        await client.views_update(view_id=view["id"], view=new)
    except SlackApiError as exc:  # the modal was closed meanwhile: the DM still tells
        log.info("updating the activation form failed: %s", exc.response.get("error"))


_CODE = re.compile(r"`([^`]*)`")


def as_plain_text(errors: dict[str, str]) -> dict[str, str]:
    """Slack shows `response_action: errors` messages as plain text, so the mrkdwn the
    shared messages use (`code`) would show as literal backticks: quote instead
    (https://api.slack.com/surfaces/modals#displaying_errors)."""
    return {field: _CODE.sub(r'"\1"', text) for field, text in errors.items()}


def _check(errors: dict[str, str], field: str, check: Any) -> None:
    try:
        check()
    except PimError as exc:
        errors[field] = exc.user_message
