"""Ack latency of `/pim activate` under 1, 10 and 50 concurrent signed requests over real
HTTP against the sandbox, next to a bare Bolt app whose handler only acks, served the same
way (Starlette + uvicorn on 127.0.0.1) in the same run. Ratio = pimbot / bare."""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx
from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bench.common import save, summary, table
from bot.simulators.sandbox import SandboxServer
from tests.support.cast import CARD
from tests.support.settings import BOT_TOKEN, SIGNING_SECRET
from tests.support.signing import command_body, signed_headers
from tests.support.stack import BotStack

LEVELS = (1, 10, 50)
ROUNDS = 6  # bursts per level


def bare_app(api_url: str) -> Starlette:
    bolt = AsyncApp(
        signing_secret=SIGNING_SECRET,
        client=AsyncWebClient(token=BOT_TOKEN, base_url=api_url),
        process_before_response=False,
    )

    @bolt.command("/pim")
    async def only_ack(ack: Any) -> None:
        await ack("Working on it…")

    handler = AsyncSlackRequestHandler(bolt)

    async def events(request: Request) -> Response:
        return await handler.handle(request)

    return Starlette(routes=[Route("/slack/events", events, methods=["POST"])])


async def burst(url: str, n: int, response_url: str) -> list[float]:
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:

        async def one() -> float:
            body = command_body(CARD, user_id="U_ALINE", response_url=response_url)
            headers = signed_headers(SIGNING_SECRET, body)
            started = time.perf_counter()
            answer = await http.post("/slack/events", content=body, headers=headers)
            took = time.perf_counter() - started
            if answer.status_code != 200:
                raise RuntimeError(f"ack {answer.status_code}: {answer.text[:200]}")
            return took

        return list(await asyncio.gather(*(one() for _ in range(n))))


def measure(url: str, response_url: str, settle: Any) -> dict[int, list[float]]:
    out: dict[int, list[float]] = {}
    for n in LEVELS:
        samples: list[float] = []
        for _ in range(max(ROUNDS, 30 // n)):
            samples += asyncio.run(burst(url, n, response_url))
            settle()
        out[n] = samples
    return out


def main(argv: Sequence[str] = ()) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="pimbot-bench-") as tmp, BotStack(Path(tmp)) as stack:
        stack.final(stack.command("list"))  # warm: token, user link, policy cache
        url = stack.slack.response_url()

        def drain() -> None:  # let the bot's Graph work finish before the next burst
            time.sleep(0.5)
            stack.reset()

        # The bare app first: the bot's Graph work from its bursts would otherwise still
        # be running in this process (every server here shares one interpreter).
        with SandboxServer(bare_app(stack.slack.api_url), tls=False) as bare_server:
            bare = measure(bare_server.url, url, lambda: None)
        bot = measure(stack.bot.url, url, drain)
    rows, data = [], {}
    for n in LEVELS:
        b, p = summary(bare[n]), summary(bot[n])
        ratio = p["median_ms"] / b["median_ms"]
        ratio99 = p["p99_ms"] / b["p99_ms"]
        rows.append(
            (
                n,
                p["n"],
                p["median_ms"],
                p["p99_ms"],
                b["median_ms"],
                b["p99_ms"],
                f"{ratio:.2f}",
                f"{ratio99:.2f}",
            )
        )
        data[str(n)] = {"pimbot": p, "bare_bolt": b, "ratio_median": ratio, "ratio_p99": ratio99}
    table(
        "/pim activate ack latency, concurrent signed requests over real HTTP (ms)",
        [
            "concurrency",
            "n",
            "pimbot median",
            "pimbot p99",
            "bare median",
            "bare p99",
            "ratio median",
            "ratio p99",
        ],
        rows,
    )
    save("ack_concurrency", data)
    return data
