"""HTTP mode serves requests on a loop of its own (handlers/app.py `serve_apart`): a
request is answered from another thread than the services' loop, the work it hands over
runs back on the services' loop, and stopping the server unbinds the hop."""

from __future__ import annotations

import asyncio
import threading

import httpx
import uvicorn
from slack_sdk.web.async_client import AsyncWebClient
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from handlers.app import serve_apart
from handlers.work import LoopHop, WorkQueue
from tests.support.processes import free_port


async def test_requests_are_served_apart_and_work_runs_on_the_services_loop() -> None:
    services_loop = asyncio.get_running_loop()
    hop = LoopHop()
    queue = WorkQueue(workers=2, depth=2, hop=hop)
    client = AsyncWebClient(token="xoxb-test")
    seen: dict[str, object] = {}

    async def on_services_loop() -> int:
        seen["work_loop"] = asyncio.get_running_loop()
        return threading.get_ident()

    async def route(request: Request) -> Response:
        seen["served_on"] = threading.get_ident()
        seen["had_session"] = client.session is not None
        worked_on = await queue.submit(on_services_loop)
        return JSONResponse({"worked_on": worked_on})

    port = free_port()
    app = Starlette(routes=[Route("/work", route, methods=["POST"])])
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, access_log=False)
    server = uvicorn.Server(config)
    serving = asyncio.create_task(serve_apart(server, hop, client))
    for _ in range(500):  # until it listens (bounded turns of this loop)
        if server.started:
            break
        await asyncio.sleep(0.01)
    assert server.started
    assert hop.loop is services_loop
    async with httpx.AsyncClient() as http:
        answer = await http.post(f"http://127.0.0.1:{port}/work")
    assert answer.status_code == 200
    assert seen["served_on"] != threading.get_ident()  # not the services' thread
    assert answer.json()["worked_on"] == threading.get_ident()
    assert seen["work_loop"] is services_loop
    assert seen["had_session"] is True  # the Bolt client had its own session meanwhile
    server.should_exit = True
    await serving
    assert hop.loop is None
    assert client.session is None
