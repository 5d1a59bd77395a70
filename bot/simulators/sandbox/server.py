"""Serve the sandbox over real HTTP(S): a background-thread server for tests, and
`serve_forever` for `pimbot sandbox --port N`."""

from __future__ import annotations

import asyncio
import socket
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

import uvicorn
from starlette.applications import Starlette

from bot.clock import Clock, OffsetClock
from bot.simulators.sandbox.app import DEFAULT_PAGE_SIZE, create_app
from bot.simulators.sandbox.faults import Faults
from bot.simulators.sandbox.seed import SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET, SANDBOX_TENANT_ID
from bot.simulators.sandbox.tenant import SandboxTenant
from bot.simulators.sandbox.tls import write_self_signed


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def _config(app: Starlette, cert: tuple[Path, Path] | None) -> uvicorn.Config:
    # h11 (not httptools) because the drop-connection fault relies on its request cycle.
    return uvicorn.Config(
        app,
        http="h11",
        lifespan="off",
        log_level="warning",
        access_log=False,
        ssl_certfile=str(cert[0]) if cert else None,
        ssl_keyfile=str(cert[1]) if cert else None,
    )


def _url(sock: socket.socket, tls: bool) -> str:
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    return f"{'https' if tls else 'http'}://{shown}:{port}"


class SandboxServer:
    """Run `app` with uvicorn in a background thread (its own event loop).

    with SandboxServer(create_app(tenant)) as server:
        server.url      # "https://127.0.0.1:54321" (login host and Graph base URL)
        server.ca_file  # PEM to trust (None without TLS)
    """

    def __init__(
        self, app: Starlette, host: str = "127.0.0.1", port: int = 0, tls: bool = True
    ) -> None:
        self.app = app
        self.host, self.port, self.tls = host, port, tls
        self.url = ""
        self.ca_file: str | None = None
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def tenant(self) -> SandboxTenant:
        tenant: SandboxTenant = self.app.state.tenant
        return tenant

    @property
    def faults(self) -> Faults:
        faults: Faults = self.app.state.faults
        return faults

    def start(self) -> SandboxServer:
        self._tmp = tempfile.TemporaryDirectory(prefix="pimbot-sandbox-")
        cert = write_self_signed(Path(self._tmp.name)) if self.tls else None
        self.ca_file = str(cert[0]) if cert else None
        sock = _bind(self.host, self.port)
        self.url = _url(sock, self.tls)
        self._server = uvicorn.Server(_config(self.app, cert))
        self._thread = threading.Thread(
            target=self._server.run,
            kwargs={"sockets": [sock]},
            daemon=True,
            name="pimbot-sandbox",
        )
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the sandbox server did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            # No graceful drain: idle keep-alive TLS clients would hold it until they hang
            # up, and a test double's in-flight calls need no courtesy.
            self._server.should_exit = self._server.force_exit = True
            self._thread.join(timeout=10)
        if self._tmp is not None:
            self._tmp.cleanup()
        self._server = self._thread = self._tmp = None

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def print_usage(url: str, ca_file: str | None) -> None:
    """What `pimbot sandbox` prints once it listens: where it is, its credentials, and lines
    to paste into an environment so pimbot (or any Graph client) talks to it. Flushed at
    once: a script reading the pipe must not wait for a buffer to fill."""
    ca = str(Path(ca_file).resolve()) if ca_file else ""
    lines = [
        f"sandbox tenant (Contoso) listening on {url}",
        f"tenant id: {SANDBOX_TENANT_ID}",
        f"client id: {SANDBOX_CLIENT_ID}   client secret: {SANDBOX_CLIENT_SECRET}",
        f"CA file (its certificate is self-signed): {ca or 'none (plain HTTP)'}",
        "Paste these to point pimbot or another Graph client at it:",
        f"AZURE_TENANT_ID={SANDBOX_TENANT_ID}",
        f"AZURE_CLIENT_ID={SANDBOX_CLIENT_ID}",
        f"AZURE_CLIENT_SECRET={SANDBOX_CLIENT_SECRET}",
        f"AZURE_AUTHORITY_HOST={url}",
        f"PIM_GRAPH_URL={url}",
        f"PIM_CA_FILE={ca}",
        f"What the bot did: GET {url}/sandbox/calls",
    ]
    print("\n".join(lines), flush=True)


async def serve_forever(
    *,
    host: str = "127.0.0.1",
    port: int = 8765,
    tls: bool = True,
    clock: Clock | None = None,
    tenant: SandboxTenant | None = None,
    faults: Faults | None = None,
    page_size: int = DEFAULT_PAGE_SIZE,
    on_ready: Callable[[str, str | None], None] | None = None,
) -> None:
    """Serve the seeded sandbox until cancelled or interrupted (Ctrl-C).

    The tenant defaults to the seed on an `OffsetClock` (so /sandbox/clock can fast-forward).
    `on_ready(url, ca_file)` is called once the port is bound, e.g. to print them.
    """
    tenant = tenant or SandboxTenant.from_seed(clock or OffsetClock())
    app = create_app(tenant, faults=faults, page_size=page_size)
    with tempfile.TemporaryDirectory(prefix="pimbot-sandbox-") as tmp:
        cert = write_self_signed(Path(tmp)) if tls else None
        sock = _bind(host, port)
        if on_ready is not None:
            on_ready(_url(sock, tls), str(cert[0]) if cert else None)
        server = uvicorn.Server(_config(app, cert))
        try:
            await server.serve(sockets=[sock])
        except asyncio.CancelledError:
            server.should_exit = True
            raise
