"""Serve ASGI apps over real HTTP on 127.0.0.1 in background threads."""

from __future__ import annotations

import json
import socket
import threading
import time
from typing import Any

import httpx
import uvicorn


class LiveServer:
    """Bind first (so the URL is known before the app exists), then serve the app."""

    def __init__(self) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(64)
        self.url = f"http://127.0.0.1:{self._sock.getsockname()[1]}"
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    def start(self, app: Any) -> LiveServer:
        config = uvicorn.Config(app, lifespan="off", log_level="warning", access_log=False)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._sock]}, daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=3)
            if self._thread.is_alive():
                self._server.force_exit = True  # a long poll still open: no need to wait
                self._thread.join(timeout=5)
        self._sock.close()


def wait_for_state(url: str, user: str, check: Any, timeout: float = 6.0) -> dict[str, Any]:
    """Poll /ui/state until `check(state)` is truthy (the bot answers after its ack)."""
    deadline = time.monotonic() + timeout
    state: dict[str, Any] = {}
    while time.monotonic() < deadline:
        state = httpx.get(f"{url}/ui/state", params={"user": user}).json()
        if check(state):
            return state
        time.sleep(0.05)
    raise AssertionError(f"state never matched; last: {json.dumps(state)[:3000]}")
