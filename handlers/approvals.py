"""Approve / Deny on the approvals-channel card, Ratify / Revoke on a break-glass alert.
The button carries only the request id; whether the clicker may decide is checked by the
approval service at click time. Each decision is kept in the intake from its ack until
it is made (bot/service/intake.py): a replica that dies in between leaves it to a
survivor, as an acked `/pim` command is."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from bot.domain.command_types import Approve, Deny, Ratify, Revoke
from bot.domain.durations import to_human
from bot.domain.people import PersonKey, slack
from bot.domain.requests import RequestState
from bot.errors import InputError
from bot.service.approvals import AlreadyApproved, AlreadyDecided
from bot.service.dispatch import Pimbot
from bot.service.intake import Acked
from bot.service.outcomes import Decision, GlassDecision
from handlers import blocks
from handlers.blocks import breakglass, cards, plain
from handlers.blocks.approvers import APPROVE_FOR_ACTION, parse_approve_for
from handlers.replies import DirectMessages, Reply, expect, guarded, kept_respond, to_dm

DENY_CALLBACK = "approval_deny_reason"
MIN_REASON = 5


def register(app: AsyncApp, bot: Pimbot, dms: DirectMessages) -> None:
    async def decide(who: PersonKey, command: Decide, respond: AsyncRespond | None) -> None:
        """Kept until done (a replica dying first leaves it to a survivor: replay below),
        run, and answered to the clicker (`respond`) or, from a modal, by DM."""
        kept = await bot.keep_acked(DECISION, _kept(who, command, respond))
        reply = _to_clicker(respond) if respond is not None else to_dm(dms, who)
        await guarded(reply, lambda: _decided(bot, who, command))
        await bot.acked_done(kept)

    @app.action(cards.APPROVE_ACTION)
    async def approve(ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        await ack()
        who, request_id = slack(str(body["user"]["id"])), str(body["actions"][0]["value"])
        await decide(who, Approve(request_id), respond)

    @app.action(APPROVE_FOR_ACTION)
    async def approve_for(ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        """ "Approve for…" a shorter time: the option names the request and the duration;
        the service re-checks both (a forged value is refused, never trusted)."""
        await ack()
        who = slack(str(body["user"]["id"]))
        chosen = parse_approve_for(str(body["actions"][0]["selected_option"]["value"]))
        if chosen is None:

            async def refused() -> blocks.Message:
                raise InputError("That choice is not one the card offered.")

            await guarded(_to_clicker(respond), refused)
            return
        await decide(who, Approve(chosen[0], chosen[1]), respond)

    def on_glass(action_id: str, make: type[Ratify] | type[Revoke]) -> None:
        """Ratify / Revoke on a break-glass alert: the value is the request id alone; the
        service decides whether the clicker may, from the store."""

        @app.action(action_id)
        async def clicked(ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
            await ack()
            who, request_id = slack(str(body["user"]["id"])), str(body["actions"][0]["value"])
            await decide(who, make(request_id), respond)

    on_glass(breakglass.RATIFY_ACTION, Ratify)
    on_glass(breakglass.REVOKE_ACTION, Revoke)

    @app.action(cards.DENY_ACTION)
    async def deny(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        # The reason comes from a modal, opened inside trigger_id's 3 s ("Pass a valid
        # trigger_id within 3 seconds of receiving it":
        # https://docs.slack.dev/tools/bolt-python/concepts/opening-modals): so this
        # click is not kept for a replay; the submitted reason is (`decide`).
        await ack()
        request_id = str(body["actions"][0]["value"])
        await client.views_open(trigger_id=str(body["trigger_id"]), view=reason_modal(request_id))

    @app.view(DENY_CALLBACK)
    async def deny_reason(ack: AsyncAck, body: dict[str, Any], view: dict[str, Any]) -> None:
        who = slack(str(body["user"]["id"]))  # the decider is whoever submitted, per Slack
        request_id = str(json.loads(view.get("private_metadata") or "{}").get("request_id", ""))
        reason = str(view["state"]["values"]["reason"]["value"].get("value") or "").strip()
        if len(reason) < MIN_REASON:
            await ack(response_action="errors", errors={"reason": "Say briefly why."})
            return
        await ack()
        await decide(who, Deny(request_id, reason), None)

    async def replay(item: Acked) -> None:
        """A decision another replica acked and died before making: made here, answered
        as the click would have been. Where the dead replica had already counted it (the
        request's lease carries the rest on), the replay's "already" says nothing."""
        payload = item.payload
        who, command = slack(str(payload["user_id"])), _command(payload)
        url = payload.get("response_url")
        respond = kept_respond(app.client, str(url)) if url else None
        answer = _to_clicker(respond) if respond is not None else to_dm(dms, who)
        made_already = False

        async def work() -> blocks.Message:
            nonlocal made_already
            try:
                return await _decided(bot, who, command)
            except AlreadyApproved:
                made_already = True
                raise
            except AlreadyDecided as exc:
                made_already = exc.decided_by == who
                raise

        async def reply(msg: blocks.Message) -> None:
            if not made_already:
                await answer(msg)

        await guarded(reply, work)

    bot.replay_acked_with(DECISION, replay)


DECISION = "decision"
Decide = Approve | Deny | Ratify | Revoke


def _kept(who: PersonKey, command: Decide, respond: AsyncRespond | None) -> dict[str, Any]:
    """What a decision needs to be made again: who, what, and where to answer; the
    clicker is the signed payload's, as for the click itself."""
    kept: dict[str, Any] = {
        "user_id": who.chat_user_id,
        "action": type(command).__name__.lower(),
        "request_id": command.request_id,
        "response_url": respond.response_url if respond is not None else None,
    }
    if isinstance(command, Approve) and command.duration is not None:
        kept["seconds"] = command.duration.total_seconds()
    if isinstance(command, Deny):
        kept["reason"] = command.reason
    return kept


def _command(kept: dict[str, Any]) -> Decide:
    request_id = str(kept["request_id"])
    match kept["action"]:
        case "approve":
            seconds = kept.get("seconds")
            return Approve(request_id, None if seconds is None else timedelta(seconds=seconds))
        case "deny":
            return Deny(request_id, str(kept["reason"]))
        case "ratify":
            return Ratify(request_id)
        case "revoke":
            return Revoke(request_id)
    raise ValueError(f"not a kept decision: {kept['action']!r}")


async def _decided(bot: Pimbot, who: PersonKey, command: Decide) -> blocks.Message:
    """Make the decision; the clicker's line."""
    result = await bot.handle(who, command)
    if isinstance(command, Ratify | Revoke):
        return blocks.message(breakglass.decided_line(expect(GlassDecision, result)))
    decision = expect(Decision, result)
    if isinstance(command, Deny):
        return blocks.message(f"You denied `{decision.record.id}`.")
    return blocks.message(approved_line(decision))


def approved_line(decision: Decision) -> str:
    record, tally = decision.record, decision.tally
    if tally is not None and not tally.complete:  # four eyes: more approvals needed
        return (
            f"You approved `{record.id}` ({len(tally.approvals)} of {tally.required} "
            "approvals): it waits for another approver, and nothing is active yet."
        )
    if record.state is RequestState.APPROVED:  # user mode: waiting for the requester's sign-in
        return (
            f"You approved `{record.id}`. The requester's Microsoft Entra sign-in has expired: "
            "they've been sent a sign-in code, and the role is activated once they use it."
        )
    if record.state is RequestState.PENDING_APPROVAL:  # user mode: Entra's approval too
        return (
            f"You approved `{record.id}`. Microsoft Entra's own policy for the role needs "
            "its approvers too: a new card waits for them."
        )
    shorter = f" for {to_human(record.duration)}" if record.asked else ""
    return f"You approved `{record.id}`{shorter}."


def reason_modal(request_id: str) -> dict[str, Any]:
    element = {
        "type": "plain_text_input",
        "action_id": "value",
        "multiline": True,
        "min_length": MIN_REASON,
        "max_length": 500,
    }
    return {
        "type": "modal",
        "callback_id": DENY_CALLBACK,
        "title": plain("Deny request", 24),
        "submit": plain("Deny", 24),
        "close": plain("Cancel", 24),
        "private_metadata": json.dumps({"request_id": request_id}),
        "blocks": [
            blocks.section(f"Deny request `{request_id}`? The requester sees your reason."),
            {"type": "input", "block_id": "reason", "label": plain("Reason"), "element": element},
        ],
    }


def _to_clicker(respond: AsyncRespond) -> Reply:
    """An ephemeral line for the clicker only; the card itself is redrawn by the service."""

    async def reply(msg: blocks.Message) -> None:
        await respond(response_type="ephemeral", replace_original=False, **msg)

    return reply
