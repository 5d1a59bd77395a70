"""Other web pages cannot drive the page's endpoints (CSRF, DNS rebinding)."""

from __future__ import annotations

import httpx
import pytest

from tests.support.workspace import Rig

SEND = {"user": "U_ALINE", "channel": "C_GENERAL", "text": "hi"}


@pytest.mark.parametrize(
    ("headers", "error"),
    [
        ({"Content-Type": "text/plain"}, "unsupported_media_type"),
        (
            {"Content-Type": "application/json", "Origin": "https://evil.example"},
            "forbidden_origin",
        ),
        ({"Content-Type": "application/json", "Host": "rebound.evil.example"}, "forbidden_host"),
    ],
)
def test_refuses_cross_site_posts(workspace: Rig, headers: dict[str, str], error: str) -> None:
    answer = httpx.post(
        f"{workspace.url}/ui/send",
        content=b'{"user": "U_ALINE", "channel": "C_GENERAL", "text": "hi"}',
        headers=headers,
    )
    assert (answer.status_code, answer.json()["error"]) == (403, error)
    assert workspace.workspace.conversations.messages["C_GENERAL"] == []


def test_accepts_the_page_itself(workspace: Rig) -> None:
    answer = httpx.post(f"{workspace.url}/ui/send", json=SEND, headers={"Origin": workspace.url})
    assert answer.json()["ok"]
    page = httpx.get(f"{workspace.url}/", headers={"Host": "localhost"})
    assert page.status_code == 200 and "<title>" in page.text
