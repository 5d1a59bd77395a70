"""The real bot as `pimbot run` starts it without credentials — sandbox tenant (TLS), local
Slack workspace, Bolt app and services in one ASGI app — served from a background thread
on a free port with a temporary SQLite database; and one headless Chromium per module."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.clock import OffsetClock
from bot.settings import Settings
from tests.support.browser import ARGS, CHROMIUM, requires_chromium

ROOT = Path(__file__).resolve().parents[2]


class RealBot:
    """`pimbot run`'s local stack on its own event loop; `tenant` is the sandbox tenant.
    `config` replaces the repo's pimbot.yml and `settings` are extra Settings fields, e.g.
    `RealBot(tmp, config=tmp / "pimbot.yml", pim_token_key=key)` for signed-in-user mode."""

    def __init__(self, tmp: Path, config: Path | None = None, **settings: Any) -> None:
        self.settings = Settings(
            _env_file=None,
            pim_database_url=f"sqlite:///{tmp / 'pimbot.db'}",
            pim_config=config or ROOT / "pimbot.yml",
            **settings,
        )
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


@pytest.fixture(scope="module")
def real_bot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RealBot]:
    with RealBot(tmp_path_factory.mktemp("real-bot")) as bot:
        yield bot


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One headless Chromium for the module (Debian's, never a downloaded one)."""
    if requires_chromium.args[0]:  # the skip condition holds: no /usr/bin/chromium
        pytest.skip(requires_chromium.kwargs["reason"])
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="playwright is not installed (pip install -e '.[test]')"
    )
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        yield context.new_page()
    finally:
        context.close()
