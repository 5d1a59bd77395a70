"""`serve_forever`, what `pimbot sandbox --port N` runs, serves until cancelled."""

from __future__ import annotations

import asyncio
import contextlib
import os
import queue
import re
import ssl
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from bot.simulators.sandbox import SANDBOX_TENANT_ID
from bot.simulators.sandbox.server import serve_forever


async def test_serves_the_seeded_tenant_until_cancelled() -> None:
    ready: asyncio.Future[tuple[str, str | None]] = asyncio.get_running_loop().create_future()
    task = asyncio.create_task(
        serve_forever(port=0, on_ready=lambda url, ca: ready.set_result((url, ca)))
    )
    url, ca_file = await asyncio.wait_for(ready, timeout=10)
    assert url.startswith("https://127.0.0.1:") and ca_file
    trust = ssl.create_default_context(cafile=ca_file)
    async with httpx.AsyncClient(verify=trust) as http:
        config = await http.get(f"{url}/{SANDBOX_TENANT_ID}/v2.0/.well-known/openid-configuration")
    assert config.json()["token_endpoint"].startswith(url)
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await asyncio.wait_for(task, timeout=10)
    assert task.done()


@pytest.mark.slow
def test_pimbot_sandbox_prints_lines_that_point_a_graph_client_at_it() -> None:
    """`pimbot sandbox` says, flushed at once, where it is and the env lines to paste; a
    client configured from just those lines gets a token, calls Graph, and sees its own
    calls in /sandbox/calls."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AZURE_", "PIM_", "SLACK_"))}
    proc = subprocess.Popen(  # noqa: S603 - our own interpreter and code
        [
            sys.executable,
            "-c",
            "import sys; from bot.cli import main; sys.exit(main())",
            "sandbox",
            "--port",
            "0",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        printed = _read_until(proc, "What the bot did")
        pass_env = dict(line.split("=", 1) for line in printed if re.match(r"^[A-Z_]+=", line))
        assert set(pass_env) == {
            "AZURE_TENANT_ID",
            "AZURE_CLIENT_ID",
            "AZURE_CLIENT_SECRET",
            "AZURE_AUTHORITY_HOST",
            "PIM_GRAPH_URL",
            "PIM_CA_FILE",
        }
        assert Path(pass_env["PIM_CA_FILE"]).is_absolute()
        trust = ssl.create_default_context(cafile=pass_env["PIM_CA_FILE"])
        with httpx.Client(verify=trust) as http:
            token = http.post(
                f"{pass_env['AZURE_AUTHORITY_HOST']}/{pass_env['AZURE_TENANT_ID']}"
                "/oauth2/v2.0/token",
                data={
                    "grant_type": "client_credentials",
                    "client_id": pass_env["AZURE_CLIENT_ID"],
                    "client_secret": pass_env["AZURE_CLIENT_SECRET"],
                    "scope": "https://graph.microsoft.com/.default",
                },
            )
            bearer = {"Authorization": f"Bearer {token.json()['access_token']}"}
            roles = http.get(
                f"{pass_env['PIM_GRAPH_URL']}/v1.0/roleManagement/directory/roleDefinitions",
                headers=bearer,
            )
            assert roles.status_code == 200 and roles.json()["value"]
            calls = http.get(f"{pass_env['PIM_GRAPH_URL']}/sandbox/calls").json()
        assert [(c["method"], c["status"]) for c in calls["value"]] == [
            ("POST", 200),
            ("GET", 200),
        ]
    finally:
        proc.kill()
        proc.wait(timeout=10)


def _read_until(proc: subprocess.Popen[str], last: str, timeout: float = 30) -> list[str]:
    """Lines the process prints, up to the one starting with `last` (a reader thread, so
    a silent process fails the test instead of hanging it)."""
    lines: queue.Queue[str] = queue.Queue()
    assert proc.stdout is not None
    out = proc.stdout
    threading.Thread(target=lambda: [lines.put(x.rstrip("\n")) for x in out], daemon=True).start()
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while not seen or not seen[-1].startswith(last):
        try:
            seen.append(lines.get(timeout=max(0.0, deadline - time.monotonic())))
        except queue.Empty:
            raise AssertionError(f"pimbot sandbox printed only {seen}") from None
    return seen
