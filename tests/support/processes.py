"""Bot processes for tests: `pimbot run` (start it, wait for /healthz, kill it) and the
crash-test worker (tests/support/worker.py)."""

from __future__ import annotations

import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.support.settings import ROOT


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def pimbot_run(env: dict[str, str], log: Path) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """One `pimbot run` process in HTTP mode; killed (not stopped) on exit if still alive."""
    port = free_port()
    code = "import sys; from bot.cli import main; sys.exit(main(['run']))"
    proc = subprocess.Popen(  # noqa: S603 - our own interpreter and code
        [sys.executable, "-c", code],
        cwd=log.parent,
        env={**env, "PIM_PORT": str(port)},
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(f"{url}/healthz", timeout=5).status_code in (200, 503):
                break
        except httpx.TransportError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"pimbot run did not come up:\n{log.read_text()[-3000:]}")
        time.sleep(0.1)
    try:
        yield proc, url
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


class Worker:
    """`python -m tests.support.worker MODE [ARG]` (see tests/support/worker.py) as a
    subprocess, started once it says `ready`; `expect` reads what it says next."""

    def __init__(self, env: dict[str, str], *args: str) -> None:
        self.proc = subprocess.Popen(  # noqa: S603 - our own interpreter and code
            [sys.executable, "-m", "tests.support.worker", *args],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.pid = self.proc.pid
        self._lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        try:
            self.expect("ready", timeout=60)
        except AssertionError:
            self.kill()
            stderr = self.proc.stderr.read() if self.proc.stderr else ""
            raise AssertionError(f"the worker did not start: {stderr[-3000:]}") from None

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._lines.put(line.rstrip("\n"))

    def line(self, timeout: float = 30) -> str:
        """The next line the worker prints."""
        try:
            return self._lines.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"the worker said nothing for {timeout} s") from None

    def expect(self, word: str, timeout: float = 30) -> str:
        """The next line starting with `word`, skipping others."""
        deadline = time.monotonic() + timeout
        while True:
            line = self.line(max(0.0, deadline - time.monotonic()))
            if line.split(" ", 1)[0] == word:
                return line

    def kill(self) -> None:
        """SIGKILL: the process dies wherever it is."""
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)


def log_lines(path: Path, kind: str | None = None) -> list[str]:
    """The lines a worker wrote to $CRASH_LOG (only those of one kind: settled, remind, ended)."""
    lines = path.read_text().splitlines() if path.exists() else []
    return [line for line in lines if kind is None or line.startswith(kind + " ")]


def wait_for_log(path: Path, kind: str, count: int = 1, timeout: float = 30) -> list[str]:
    """Until the log holds `count` lines of `kind`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = log_lines(path, kind)
        if len(found) >= count:
            return found
        time.sleep(0.05)
    raise AssertionError(f"{path.name} has {log_lines(path)}, wanted {count} {kind} line(s)")
