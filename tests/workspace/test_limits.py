"""Block Kit limits: what Slack would refuse is refused here too, judged by slack_sdk's own
models (`Block.parse`, `View`, `to_dict()`) plus the few checks the library leaves out."""

from __future__ import annotations

import httpx

from bot.simulators.workspace import WORKSPACE_BOT_TOKEN
from bot.simulators.workspace.limits import check_blocks, check_view
from tests.support.workspace import Rig

PLAIN = {"type": "plain_text", "text": "ok"}


def test_accepts_the_blocks_a_request_card_uses() -> None:
    blocks = [
        {"type": "header", "text": PLAIN},
        {"type": "section", "fields": [{"type": "mrkdwn", "text": "*Role*\\nUser Admin"}]},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": "request R-1"}]},
        {"type": "divider"},
        {
            "type": "actions",
            "elements": [{"type": "button", "text": PLAIN, "style": "primary", "value": "R-1"}],
        },
    ]
    assert check_blocks(blocks, "message") == []


def test_names_each_problem_with_its_json_pointer() -> None:
    confirm = {"title": {"type": "plain_text", "text": "t" * 101}, "text": PLAIN}
    blocks = [
        {"type": "header", "text": {"type": "mrkdwn", "text": "x"}},
        {"type": "section", "text": {"type": "mrkdwn", "text": "y" * 3001}},
        {
            "type": "actions",
            "block_id": "a",
            "elements": [{"type": "button", "text": {"type": "plain_text", "text": "z" * 76}}],
        },
        {"type": "divider", "block_id": "a"},
        {"type": "carousel"},
        {"type": "nope"},
        {
            "type": "actions",
            "elements": [
                {"type": "button", "text": PLAIN, "confirm": confirm | {"confirm": PLAIN}}
            ],
        },
        {"type": "input", "label": PLAIN, "element": {"type": "static_select", "options": []}},
    ]
    assert check_blocks(blocks, "message") == [
        "[ERROR] must be plain_text [json-pointer:/blocks/0/text/type]",
        "[ERROR] text attribute cannot exceed 3000 characters [json-pointer:/blocks/1]",
        "[ERROR] text attribute cannot exceed 75 characters [json-pointer:/blocks/2]",
        "[ERROR] must be unique within the surface [json-pointer:/blocks/3/block_id]",
        "[ERROR] missing required field: 'elements' [json-pointer:/blocks/4]",
        "[ERROR] must be a known block type [json-pointer:/blocks/5/type]",
        "[ERROR] title attribute cannot exceed 100 characters [json-pointer:/blocks/6]",
        "[ERROR] must have at least 1 item [json-pointer:/blocks/7/options]",
    ]
    assert check_blocks([{"type": "divider"}] * 51, "message") == [
        "[ERROR] must have at most 50 items [json-pointer:/blocks]"
    ]


def test_a_modal_needs_a_short_title_and_a_submit_for_its_inputs() -> None:
    view = {
        "type": "modal",
        "title": {"type": "plain_text", "text": "A title that is too long to fit"},
        "blocks": [{"type": "input", "label": PLAIN, "element": {"type": "plain_text_input"}}],
    }
    assert check_view(view) == [
        "[ERROR] title must be between 1 and 24 characters [json-pointer:/view]",
        "[ERROR] is required when the view has input blocks [json-pointer:/view/submit]",
    ]
    home = {"type": "home", "blocks": [{"type": "divider"}], "private_metadata": "x" * 3001}
    assert check_view(home) == [
        "[ERROR] private_metadata cannot exceed 3000 characters [json-pointer:/view]"
    ]


def test_the_web_api_answers_invalid_blocks_like_slack(workspace: Rig) -> None:
    answer = httpx.post(
        f"{workspace.url}/api/chat.postMessage",
        headers={"Authorization": f"Bearer {WORKSPACE_BOT_TOKEN}"},
        json={
            "channel": "C_PIM_APPROVALS",
            "text": "t",
            "blocks": [{"type": "header", "text": PLAIN}, {"type": "nope"}],
        },
    ).json()
    assert answer == {
        "ok": False,
        "error": "invalid_blocks",
        "response_metadata": {
            "messages": ["[ERROR] must be a known block type [json-pointer:/blocks/1/type]"]
        },
    }


def test_the_web_api_refuses_a_message_too_large_in_all(workspace: Rig) -> None:
    """Each block within its limits, the whole past what Slack takes in one message
    (`msg_blocks_too_long`, https://github.com/slackapi/bolt-js/issues/2509)."""
    line = {"type": "context", "elements": [{"type": "mrkdwn", "text": "x" * 1900}]}

    def post(count: int) -> dict[str, object]:
        return dict(
            httpx.post(
                f"{workspace.url}/api/chat.postMessage",
                headers={"Authorization": f"Bearer {WORKSPACE_BOT_TOKEN}"},
                json={"channel": "C_PIM_AUDIT", "text": "t", "blocks": [line] * count},
            ).json()
        )

    assert post(8) == {"ok": False, "error": "msg_blocks_too_long"}
    assert post(6)["ok"] is True
