"""The requests the workspace sends carry Slack's fields and Slack's signature."""

from __future__ import annotations

import time

from slack_sdk.signature import SignatureVerifier

from bot.simulators.workspace.conversations import Channel, Message
from bot.simulators.workspace.delivery import sign
from bot.simulators.workspace.payloads import message_actions, slash_command, view_submission
from bot.simulators.workspace.seed import WorkspaceSeed

SEED = WorkspaceSeed()
ALINE = SEED.users[0]
GENERAL = Channel("C_GENERAL", "general")


def test_a_slash_command_has_exactly_slacks_form_fields() -> None:
    fields = slash_command(SEED, ALINE, GENERAL, "/pim", "list", "http://x/response/t", "1.2.3")
    assert set(fields) == {
        "token", "team_id", "team_domain", "channel_id", "channel_name", "user_id",
        "user_name", "command", "text", "api_app_id", "is_enterprise_install",
        "response_url", "trigger_id",
    }  # fmt: skip
    assert (fields["user_id"], fields["user_name"], fields["text"]) == ("U_ALINE", "aline", "list")


def test_a_direct_message_is_named_directmessage() -> None:
    dm = Channel("D_ALINE", "pimbot", is_im=True, user="U_ALINE")
    assert slash_command(SEED, ALINE, dm, "/pim", "", "u", "t")["channel_name"] == "directmessage"


def test_block_actions_and_view_submission_carry_the_user_and_the_container() -> None:
    message = Message("1.000001", "C_GENERAL", "U_PIMBOT", "hi", bot_id="B_PIMBOT")
    action = {"type": "button", "action_id": "a", "block_id": "b", "value": "R-1"}
    clicked = message_actions(SEED, ALINE, GENERAL, message, action, "http://x/r/t", "1.2.3")
    assert clicked["user"] == {"id": "U_ALINE", "username": "aline", "name": "aline",
                               "team_id": "T_CONTOSO"}  # fmt: skip
    assert clicked["container"] == {"type": "message", "message_ts": "1.000001",
                                    "channel_id": "C_GENERAL", "is_ephemeral": False}  # fmt: skip
    assert clicked["message"]["ts"] == "1.000001" and clicked["actions"] == [action]
    submitted = view_submission(SEED, ALINE, {"id": "V1", "state": {"values": {}}}, "1.2.3")
    assert submitted["type"] == "view_submission" and submitted["view"]["id"] == "V1"


def test_the_signature_verifies_with_slacks_own_verifier() -> None:
    body, now = b"token=x&command=%2Fpim", int(time.time())
    headers = sign("s3cret", body, now)
    verifier = SignatureVerifier("s3cret")
    assert verifier.is_valid(body, headers["X-Slack-Request-Timestamp"],
                             headers["X-Slack-Signature"])  # fmt: skip
    assert not SignatureVerifier("other").is_valid(
        body, headers["X-Slack-Request-Timestamp"], headers["X-Slack-Signature"]
    )
