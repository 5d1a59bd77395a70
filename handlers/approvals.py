"""Approve / Deny on the approvals-channel card. The button carries only the request id;
whether the clicker may decide is checked by the approval service at click time."""

from __future__ import annotations

import json
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from bot.domain.command_types import Approve, Command, Deny, Ratify, Revoke
from bot.domain.durations import to_human
from bot.domain.people import slack
from bot.domain.requests import RequestState
from bot.errors import InputError
from bot.service.dispatch import Pimbot
from bot.service.outcomes import Decision, GlassDecision
from handlers import blocks
from handlers.blocks import breakglass, cards, plain
from handlers.blocks.approvers import APPROVE_FOR_ACTION, parse_approve_for
from handlers.replies import DirectMessages, Reply, expect, guarded, to_dm

DENY_CALLBACK = "approval_deny_reason"
MIN_REASON = 5


def register(app: AsyncApp, bot: Pimbot, dms: DirectMessages) -> None:
    @app.action(cards.APPROVE_ACTION)
    async def approve(ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        await ack()
        who, request_id = slack(str(body["user"]["id"])), str(body["actions"][0]["value"])

        async def work() -> blocks.Message:
            decision = expect(Decision, await bot.handle(who, Approve(request_id)))
            return blocks.message(approved_line(decision))

        await guarded(_to_clicker(respond), work)

    @app.action(APPROVE_FOR_ACTION)
    async def approve_for(ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        """ "Approve for…" a shorter time: the option names the request and the duration;
        the service re-checks both (a forged value is refused, never trusted)."""
        await ack()
        who = slack(str(body["user"]["id"]))
        chosen = parse_approve_for(str(body["actions"][0]["selected_option"]["value"]))

        async def work() -> blocks.Message:
            if chosen is None:
                raise InputError("That choice is not one the card offered.")
            command = Approve(chosen[0], chosen[1])
            return blocks.message(approved_line(expect(Decision, await bot.handle(who, command))))

        await guarded(_to_clicker(respond), work)

    def on_glass(action_id: str, make: type[Ratify] | type[Revoke]) -> None:
        """Ratify / Revoke on a break-glass alert: the value is the request id alone; the
        service decides whether the clicker may, from the store."""

        @app.action(action_id)
        async def clicked(ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
            await ack()
            who, request_id = slack(str(body["user"]["id"])), str(body["actions"][0]["value"])
            command: Command = make(request_id)

            async def work() -> blocks.Message:
                decision = expect(GlassDecision, await bot.handle(who, command))
                return blocks.message(breakglass.decided_line(decision))

            await guarded(_to_clicker(respond), work)

    on_glass(breakglass.RATIFY_ACTION, Ratify)
    on_glass(breakglass.REVOKE_ACTION, Revoke)

    @app.action(cards.DENY_ACTION)
    async def deny(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()  # the reason comes from a modal, opened inside trigger_id's 3 s
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

        async def work() -> blocks.Message:
            decision = expect(Decision, await bot.handle(who, Deny(request_id, reason)))
            return blocks.message(f"You denied `{decision.record.id}`.")

        await guarded(to_dm(dms, who), work)


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
