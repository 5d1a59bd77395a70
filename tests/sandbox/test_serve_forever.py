"""`serve_forever`, what `pimbot sandbox --port N` runs, serves until cancelled."""

from __future__ import annotations

import asyncio
import contextlib
import ssl

import httpx

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
