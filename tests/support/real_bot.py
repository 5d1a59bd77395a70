"""The real bot as `pimbot run` starts it without credentials: sandbox tenant (TLS), local
Slack workspace, Bolt app and services in one ASGI app, served from a background thread
on a free port with a temporary SQLite database."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from pathlib import Path
from typing import Any

from bot.clock import OffsetClock
from tests.support.settings import Identity, Policy, make_settings


class RealBot:
    """`pimbot run`'s local stack on its own event loop; `tenant` is the sandbox tenant.
    `policy` and `identity` are as for `make_settings` (the repository's pimbot.yml by
    default; `identity="user"` for signed-in-user mode, with a token key), `settings` are
    extra Settings fields."""

    def __init__(
        self,
        tmp: Path,
        policy: Policy = None,
        identity: Identity | None = None,
        **settings: Any,
    ) -> None:
        self.settings = make_settings(tmp, policy=policy, identity=identity, **settings)
        self.clock = OffsetClock()
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(64)
        self.url = f"http://127.0.0.1:{self._sock.getsockname()[1]}"
        self.tenant: Any = None
        self._server: Any = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=lambda: asyncio.run(self._main()), daemon=True)

    def __enter__(self) -> RealBot:
        self._thread.start()
        if not self._ready.wait(30) or self._error is not None:
            raise RuntimeError(f"the bot did not start: {self._error!r}")
        return self

    def __exit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.should_exit = True
        self._thread.join(timeout=10)
        self._sock.close()

    async def _main(self) -> None:
        import uvicorn

        from bot.cli.run import build_local_stack, start_sandbox

        port = self._sock.getsockname()[1]
        with contextlib.ExitStack() as stack:
            try:
                settings, self.tenant = start_sandbox(self.settings, self.clock, stack)
                local = await build_local_stack(settings, self.clock, port)
                config = uvicorn.Config(
                    local.app, lifespan="off", log_level="warning", access_log=False
                )
                self._server = uvicorn.Server(config)
                serving = asyncio.create_task(self._server.serve(sockets=[self._sock]))
                while not self._server.started:  # noqa: ASYNC110 - uvicorn offers only a flag
                    await asyncio.sleep(0.01)
            except BaseException as exc:
                self._error = exc
                self._ready.set()
                raise
            self._ready.set()
            try:
                await serving
            finally:
                await local.services.aclose()
