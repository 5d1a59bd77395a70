"""manifest.yml is a valid Slack app manifest and asks for exactly the scopes the code uses."""

from __future__ import annotations

import json
import re
from typing import Any

import jsonschema
import pytest
import yaml

from tests.support.settings import ROOT

SCHEMA = ROOT / "tests" / "data" / "slack-manifest.schema.json"

# Web API method -> the bot scope it needs (views.* and auth.test need none).
SCOPE_OF = {
    "chat_postMessage": "chat:write",
    "chat_update": "chat:write",
    "chat_postEphemeral": "chat:write",
    "conversations_open": "im:write",
    "users_info": "users:read",
    "usergroups_users_list": "usergroups:read",
    "views_open": None,
    "views_update": None,
    "views_publish": None,
    "auth_test": None,
    # Not the Web API: an ack on the Socket Mode connection (the app-level token's
    # connections:write, not a bot scope).
    "send_socket_mode_response": None,
    # Not the Web API either: a post to a response_url (handlers/replies.py), which needs
    # no scope (https://api.slack.com/interactivity/handling#message_responses).
    "send_dict": None,
}


@pytest.fixture(scope="module")
def manifest() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "manifest.yml").read_text())


def used_scopes() -> set[str]:
    """Scopes implied by the Web API calls and listeners in handlers/."""
    source = "\n".join(p.read_text() for p in (ROOT / "handlers").glob("*.py"))
    calls = set(re.findall(r"client\.(\w+)\(", source))
    unknown = calls - SCOPE_OF.keys()
    assert not unknown, f"add these Web API methods to SCOPE_OF: {unknown}"
    scopes = {s for c in calls if (s := SCOPE_OF[c])}
    if "users_info" in calls:
        scopes.add("users:read.email")  # profile.email is what maps a user to Entra
    if "@app.command(" in source:
        scopes.add("commands")
    return scopes


def test_manifest_validates_against_slacks_schema(manifest: dict[str, Any]) -> None:
    jsonschema.validate(manifest, json.loads(SCHEMA.read_text()))


def test_bot_scopes_are_exactly_those_the_code_uses(manifest: dict[str, Any]) -> None:
    assert set(manifest["oauth_config"]["scopes"]["bot"]) == used_scopes()


def test_socket_mode_interactivity_and_home_tab_are_on(manifest: dict[str, Any]) -> None:
    assert manifest["settings"]["socket_mode_enabled"] is True
    assert manifest["settings"]["interactivity"]["is_enabled"] is True
    assert manifest["features"]["app_home"]["home_tab_enabled"] is True
    assert "app_home_opened" in manifest["settings"]["event_subscriptions"]["bot_events"]


def test_pim_command_has_a_usage_hint(manifest: dict[str, Any]) -> None:
    (pim,) = manifest["features"]["slash_commands"]
    assert pim["command"] == "/pim"
    assert "activate" in pim["usage_hint"] and "help" in pim["usage_hint"]
