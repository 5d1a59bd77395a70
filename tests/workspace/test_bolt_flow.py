"""The workspace driving a real Bolt app over HTTP: Bolt verifies every signature, so a
passing flow proves the requests are signed and shaped as Slack's."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.support.cast import ALINE
from tests.support.live import wait_for_state
from tests.support.workspace import Rig

pytestmark = pytest.mark.slow  # its tests take over ~0.5 s each (see pyproject.toml)

State = dict[str, Any]


def ui(rig: Rig, path: str, **body: Any) -> dict[str, Any]:
    answer: dict[str, Any] = httpx.post(f"{rig.url}/ui/{path}", json=body, timeout=10).json()
    assert answer["ok"], answer
    return answer


def dm(state: State) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = state["messages"]["D_ALINE"]
    return messages


def texts(state: State) -> list[str]:
    return [m["text"] for m in dm(state)]


def _command_answered(state: State) -> bool:
    return len(dm(state)) == 4 and dm(state)[3]["blocks"] != []


def _run_command(rig: Rig) -> State:
    ui(rig, "send", user="U_ALINE", channel="D_ALINE", text="/pim hello")
    return wait_for_state(rig.url, "U_ALINE", _command_answered)


def test_slash_command_ack_stays_and_replace_original_posts_a_new_message(
    with_bolt: Rig,
) -> None:
    """A command's ack cannot be replaced: `replace_original` on its response_url posts a
    second message, as real Slack does (slackapi/bolt-js#2287, bolt-python#1268)."""
    state = _run_command(with_bolt)
    echo, ack, answer, card = dm(state)
    assert (echo["kind"], echo["text"], echo["ephemeral"]) == ("command", "/pim hello", True)
    assert (ack["text"], ack["ephemeral"]) == ("Working on `hello`…", True)
    assert answer == answer | {
        "user": "U_PIMBOT",
        "ephemeral": True,
        "text": f"Hello {ALINE.upn}, you said *hello*",
    }
    assert card["ephemeral"] is False and card["blocks"][1]["elements"][0]["action_id"] == (
        "open_form"
    )
    # The admin sees neither Aline's DM nor her ephemerals.
    admin = httpx.get(f"{with_bolt.url}/ui/state", params={"user": "U_ADMIN"}).json()
    assert "D_ALINE" not in admin["messages"]


def test_button_opens_a_modal_whose_errors_show_inline_then_submission_updates_the_dm(
    with_bolt: Rig,
) -> None:
    card = dm(_run_command(with_bolt))[3]
    ui(
        with_bolt,
        "action",
        user="U_ALINE",
        channel="D_ALINE",
        ts=card["ts"],
        block_id="act",
        action_id="open_form",
    )
    state = wait_for_state(with_bolt.url, "U_ALINE", lambda s: s["modal"] is not None)
    clicked = with_bolt.seen[0]
    assert clicked["actions"][0] | {"value": "42", "type": "button"} == clicked["actions"][0]
    assert clicked["user"]["id"] == "U_ALINE" and clicked["container"]["message_ts"] == card["ts"]
    view = state["modal"]
    assert view["title"]["text"] == "Tell us more" and view["errors"] == {}

    values = {"reason": {"text": "short"}, "size": {"pick": "large"}}
    ui(with_bolt, "submit", user="U_ALINE", view_id=view["id"], values=values)
    state = httpx.get(f"{with_bolt.url}/ui/state", params={"user": "U_ALINE"}).json()
    assert state["modal"]["errors"] == {"reason": "Say a bit more, please."}
    assert state["modal"]["state"]["values"]["size"]["pick"]["selected_option"]["value"] == "large"

    values["reason"]["text"] = "a long enough reason"
    ui(with_bolt, "submit", user="U_ALINE", view_id=view["id"], values=values)
    state = wait_for_state(with_bolt.url, "U_ALINE", lambda s: texts(s)[3] == "Submitted")
    assert state["modal"] is None
    assert dm(state)[3]["blocks"][0]["text"]["text"] == (
        ":white_check_mark: Submitted (large): a long enough reason"
    )


def test_closing_a_modal_notifies_the_app(with_bolt: Rig) -> None:
    card = dm(_run_command(with_bolt))[3]
    ui(
        with_bolt,
        "action",
        user="U_ALINE",
        channel="D_ALINE",
        ts=card["ts"],
        block_id="act",
        action_id="open_form",
    )
    view = wait_for_state(with_bolt.url, "U_ALINE", lambda s: s["modal"] is not None)["modal"]
    ui(with_bolt, "close", user="U_ALINE", view_id=view["id"])
    assert with_bolt.seen[-1]["type"] == "view_closed"
    assert with_bolt.seen[-1]["view"]["id"] == view["id"]


def test_opening_the_home_tab_lets_the_app_publish_it(with_bolt: Rig) -> None:
    ui(with_bolt, "home", user="U_MEGAN", tab="home")
    state = wait_for_state(with_bolt.url, "U_MEGAN", lambda s: s["home"] is not None)
    assert state["home"]["blocks"][0]["text"]["text"] == "Your roles"


def test_a_bot_with_another_signing_secret_rejects_the_command(with_forger: Rig) -> None:
    ui(with_forger, "send", user="U_ALINE", channel="C_GENERAL", text="/pim hello")
    state = httpx.get(f"{with_forger.url}/ui/state", params={"user": "U_ALINE"}).json()
    complaint = state["messages"]["C_GENERAL"][-1]
    assert complaint["user"] == "USLACKBOT" and complaint["ephemeral"]
    assert complaint["text"] == '/pim failed with the error "dispatch_failed"'


def test_an_in_channel_answer_shows_the_command_and_reply_to_everyone(with_bolt: Rig) -> None:
    ui(with_bolt, "send", user="U_ALINE", channel="C_GENERAL", text="/pim shout")
    state = wait_for_state(with_bolt.url, "U_MEGAN", lambda s: len(s["messages"]["C_GENERAL"]) == 2)
    shown = [(m["user"], m["text"], m["ephemeral"]) for m in state["messages"]["C_GENERAL"]]
    assert shown == [("U_ALINE", "/pim shout", False), ("U_PIMBOT", "Heard by everyone", False)]


def test_plain_text_is_a_message_and_unknown_commands_get_slackbots_note(
    workspace: Rig,
) -> None:
    ui(workspace, "send", user="U_ADMIN", channel="C_GENERAL", text="hello all")
    ui(workspace, "send", user="U_ADMIN", channel="C_GENERAL", text="/deploy now")
    seen_by_alex = httpx.get(f"{workspace.url}/ui/state", params={"user": "U_ALEX"}).json()
    assert [m["text"] for m in seen_by_alex["messages"]["C_GENERAL"]] == ["hello all"]


def _open_form(rig: Rig) -> dict[str, Any]:
    card = dm(_run_command(rig))[3]
    ui(
        rig,
        "action",
        user="U_ALINE",
        channel="D_ALINE",
        ts=card["ts"],
        block_id="act",
        action_id="open_form",
    )
    modal: dict[str, Any] = wait_for_state(rig.url, "U_ALINE", lambda s: s["modal"] is not None)[
        "modal"
    ]
    return modal


def test_a_select_in_a_message_reaches_the_app_and_it_answers_through_response_url(
    with_bolt: Rig,
) -> None:
    card = dm(_run_command(with_bolt))[3]
    ui(
        with_bolt,
        "action",
        user="U_ALINE",
        channel="D_ALINE",
        ts=card["ts"],
        block_id="pick",
        action_id="size_pick",
        value="large",
    )
    state = wait_for_state(with_bolt.url, "U_ALINE", lambda s: len(dm(s)) == 5)
    assert (texts(state)[4], dm(state)[4]["ephemeral"]) == ("You picked large", True)


def test_a_button_in_a_modal_sends_what_is_typed_and_the_app_updates_the_view(
    with_bolt: Rig,
) -> None:
    view = _open_form(with_bolt)
    ui(
        with_bolt,
        "action",
        user="U_ALINE",
        view_id=view["id"],
        block_id="tools",
        action_id="retitle",
        values={"reason": {"text": "typed so far"}},
    )
    state = wait_for_state(
        with_bolt.url, "U_ALINE", lambda s: s["modal"]["title"]["text"] == "Tell us more (2)"
    )
    clicked = with_bolt.seen[-1]
    assert clicked["container"] == {"type": "view", "view_id": view["id"]}
    assert clicked["view"]["state"]["values"]["reason"]["text"]["value"] == "typed so far"
    assert "response_url" not in clicked
    assert state["modal"]["id"] == view["id"] and state["modal"]["hash"] != view["hash"]


def test_a_submission_can_update_push_and_clear_the_modal_stack(with_bolt: Rig) -> None:
    view = _open_form(with_bolt)
    values = {"reason": {"text": "update the form please"}, "size": {"pick": "small"}}
    ui(with_bolt, "submit", user="U_ALINE", view_id=view["id"], values=values)
    modal = httpx.get(f"{with_bolt.url}/ui/state", params={"user": "U_ALINE"}).json()["modal"]
    assert (modal["id"], modal["title"]["text"], modal["depth"]) == (view["id"], "Updated", 1)

    values["reason"]["text"] = "push another view"
    ui(with_bolt, "submit", user="U_ALINE", view_id=view["id"], values=values)
    modal = httpx.get(f"{with_bolt.url}/ui/state", params={"user": "U_ALINE"}).json()["modal"]
    assert (modal["title"]["text"], modal["depth"], modal["root_view_id"]) == (
        "Are you sure?",
        2,
        view["id"],
    )

    ui(with_bolt, "submit", user="U_ALINE", view_id=modal["id"], values={})
    state = httpx.get(f"{with_bolt.url}/ui/state", params={"user": "U_ALINE"}).json()
    assert state["modal"] is None
