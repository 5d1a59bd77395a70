"""A BotStack whose services are started as `pimbot run` starts them (`Services.start`:
recovery, the board's first tenant-wide read, the background loops), for measuring "the
first activation after start" (issue 17) as a deployed process has it."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.support.stack import BotStack


class StartedStack(BotStack):
    """`start_services()` runs `Services.start` on the bot's own event loop and waits for
    the board's first redraw; leaving the stack closes the services first."""

    def _asgi(self, http_app: Starlette) -> Starlette:
        app = super()._asgi(http_app)
        routes = [
            Route("/test/start", self._start, methods=["POST"]),
        ]
        return Starlette(routes=[*routes, *app.routes])

    def start_services(self) -> None:
        self.http.post("/test/start").raise_for_status()

    async def _start(self, request: Request) -> JSONResponse:
        # The sweep's first round waits an hour: only start-up's own calls are made.
        await self.services.start(sweep_seconds=3600)
        if self.services.board is not None:
            await self.services.board.settled()
        return JSONResponse({"ok": True})
