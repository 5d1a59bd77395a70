"""Benches with every party in its own process, as in production: the sandbox tenant
(Graph + login, over TLS), the fake Slack Web API, and the bot as a real `pimbot run`;
the load generator stays in the bench process.

    with Harness(Path(tmp), users=1000) as h:
        h.bot_url, h.slack_url       # the bot's /slack/events, Slack's response_url host
        h.people[0]                  # ("U_B00000", 4 roles it may activate without approval)
        h.confirmation(response_url) # what the bot posted there (long poll on the fake Slack)
        h.cpu()                      # CPU seconds of each process so far

Seed: the sandbox's Contoso seed plus `users` bench people (mail bench{n}@domain), each
directly eligible for `ROLES` (no approval, no ticket: Entra's default policy), and the
same people in the fake Slack with that email, so the bot maps Slack user → Entra user by
the verified profile email (bot/service/identity.py). Each activation in a bench is a
distinct (user, role): Entra refuses a deactivation within 5 minutes, so a load that had
to cycle one pair would measure that refusal, not the bot.

`python -m bench.procs sandbox SEED` and `python -m bench.procs slack PROFILES` are the
child processes; each prints one JSON line (where it listens) once it is ready.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import IO, Any
from urllib.parse import parse_qs, urlsplit

import httpx
import yaml

from bot.simulators.sandbox import SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET, SANDBOX_TENANT_ID
from bot.simulators.sandbox.seed import SEED_FILE
from tests.support.settings import BOT_TOKEN, ROOT, SIGNING_SECRET, repo_policy
from tests.support.slack import FakeSlack

# (pimbot.yml name, Entra display name, template id): roles on Entra's default policy in
# the seed (justification only: no approval, no ticket, no MFA).
ROLES = (
    ("user-admin", "User Administrator", "fe930be7-5e62-47db-91af-98c3a49a38b1"),
    ("helpdesk-admin", "Helpdesk Administrator", "729827e3-9c14-49f7-bb1b-9608f156bbb8"),
    ("security-reader", "Security Reader", "5d6b6bb7-de71-4623-b4af-96380a352509"),
    ("sharepoint-admin", "SharePoint Administrator", "f28a1f50-f6e7-4571-818b-6a12f2af6b6c"),
)
BENCH_NS = uuid.UUID("6f2b1c9e-0d4a-4b8e-9a51-3c7d2e8f1a00")  # stable object ids per run
READY_SECONDS = 60


def slack_id(n: int) -> str:
    return f"U_B{n:05d}"


def write_seed(directory: Path, users: int) -> Path:
    """The Contoso seed plus `users` bench people, each eligible for every `ROLES` role."""
    raw: dict[str, Any] = yaml.safe_load(SEED_FILE.read_text(encoding="utf-8"))
    domain = raw["tenant"]["domain"]
    for n in range(users):
        oid = str(uuid.uuid5(BENCH_NS, slack_id(n)))
        mail = f"bench{n:05d}@{domain}"
        raw["users"].append({"id": oid, "upn": mail, "mail": mail, "displayName": f"Bench {n:05d}"})
        for _, _, role_id in ROLES:
            raw["eligibilities"].append({"principal": oid, "role": role_id, "duration": "P365D"})
    path = directory / "bench-seed.yml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    return path


def slack_profile(name: str, real_name: str, email: str) -> dict[str, Any]:
    """A full member of the workspace with a confirmed email, as users.info shows one."""
    return {
        "name": name,
        "real_name": real_name,
        "tz": "Europe/Paris",
        "email": email,
        "user": {
            "deleted": False,
            "is_bot": False,
            "is_restricted": False,
            "is_ultra_restricted": False,
            "is_email_confirmed": True,
            "team_id": "T_CONTOSO",
        },
    }


def write_profiles(directory: Path, users: int, domain: str) -> Path:
    """What the fake Slack's users.info answers for the bench people (a confirmed email)."""
    profiles = {
        slack_id(n): slack_profile(slack_id(n).lower(), f"Bench {n:05d}", f"bench{n:05d}@{domain}")
        for n in range(users)
    }
    path = directory / "bench-profiles.json"
    path.write_text(json.dumps(profiles), encoding="utf-8")
    return path


def bench_policy() -> dict[str, Any]:
    """The repository's pimbot.yml with the bench roles (Entra's policy decides: none
    needs approval or a ticket)."""
    policy = repo_policy()
    roles = dict(policy.get("roles") or {})
    for name, display, _ in ROLES:
        roles[name] = {"role": display, "max_duration": "8h"}
    policy["roles"] = roles
    return policy


# ----- child processes ------------------------------------------------------------------


def _announce(info: dict[str, Any]) -> None:
    print(json.dumps(info), flush=True)


def serve_sandbox(seed: Path) -> None:
    """The sandbox tenant over TLS on a free port, until SIGTERM."""
    from bot.clock import OffsetClock
    from bot.simulators.sandbox import SandboxTenant, serve_forever

    tenant = SandboxTenant.from_seed(OffsetClock(), seed)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    asyncio.run(
        serve_forever(
            port=0,
            tenant=tenant,
            on_ready=lambda url, ca: _announce({"url": url, "ca_file": ca}),
        )
    )


class IndexedSlack(FakeSlack):
    """The fast fake Slack (one asyncio loop, the same answers as the threaded one: both
    go through `FakeSlack.serve`), with a per-method signal and the bodies posted to each
    response_url kept apart, so a waiter in another process can long poll one
    response_url without scanning every call: the fake's own CPU per activation stays flat
    however long the run."""

    def __init__(self, profiles: dict[str, dict[str, Any]]) -> None:
        super().__init__(profiles, fast=True)
        self._seen: dict[str, threading.Event] = defaultdict(threading.Event)
        self._bodies: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self._seen_lock = threading.Lock()
        self.counts: dict[str, int] = defaultdict(int)

    def _record(self, method: str, body: dict[str, Any]) -> bool:
        limited = super()._record(method, body)
        with self._seen_lock:
            self.counts[method.split(":", 1)[0]] += 1
            if method.startswith("response_url:"):
                self._bodies[method].append(body)
            self._seen[method].set()
        return limited

    def wait_response(self, key: str, timeout: float) -> list[dict[str, Any]]:
        with self._seen_lock:
            event = self._seen[key]
        event.wait(timeout)
        with self._seen_lock:
            self._seen.pop(key, None)
            bodies = self._bodies.pop(key, [])
        return bodies if event.is_set() else []


def serve_slack(profiles: Path) -> None:
    """The fake Slack on a free port, and beside it a control port answering
    `GET /wait?url=RESPONSE_URL&timeout=S` (the bodies posted there, long poll) and
    `GET /counts` (calls per method)."""
    fake = IndexedSlack(json.loads(profiles.read_text(encoding="utf-8")))
    fake.__enter__()

    class Control(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body go out in two writes; with Nagle on, the body waits for the
        # client's delayed ACK of the headers (about 40 ms on Linux) on every answer.
        disable_nagle_algorithm = True

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib name
            return None

        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            query = {k: v[0] for k, v in parse_qs(parts.query).items()}
            if parts.path == "/wait":
                answer: Any = fake.wait_response(query["url"], float(query.get("timeout", 30)))
            else:
                with fake._seen_lock:
                    answer = dict(fake.counts)
            payload = json.dumps(answer).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

    control = ThreadingHTTPServer(("127.0.0.1", 0), Control)
    control.daemon_threads = True
    host, port = control.server_address[:2]
    _announce({"url": fake.url, "api_url": fake.api_url, "control": f"http://{host}:{port}"})
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    control.serve_forever(poll_interval=0.2)


# ----- the harness, in the bench process --------------------------------------------------


class Child:
    """A child process that prints one JSON line when ready."""

    def __init__(self, args: Sequence[str], log: Path, env: dict[str, str] | None = None) -> None:
        self._log: IO[bytes] = log.open("ab")
        self.proc = subprocess.Popen(  # noqa: S603 - our own interpreter and code
            list(args),
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=self._log,
        )
        self.pid = self.proc.pid
        line = self.proc.stdout.readline() if self.proc.stdout else b""
        if not line:
            self.stop()
            raise RuntimeError(f"{args[2:]} did not start:\n{log.read_text()[-3000:]}")
        self.info: dict[str, Any] = json.loads(line)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process (and its reaped children: none here), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


def self_cpu() -> float:
    t = os.times()
    return t.user + t.system


class Harness:
    """Sandbox, fake Slack and `pimbot run`, each its own process. `profile`: a path the
    bot process writes cProfile stats to when it stops (SIGTERM: a graceful exit)."""

    def __init__(
        self,
        tmp: Path,
        *,
        users: int,
        profile: Path | None = None,
        extra_env: dict[str, str] | None = None,
        bare: bool = False,
    ) -> None:
        self.tmp, self.users, self.profile, self.bare = tmp, users, profile, bare
        self.bare_url = ""
        self.extra_env = extra_env or {}
        self.children: dict[str, Child] = {}
        self.people = [(slack_id(n), [name for name, _, _ in ROLES]) for n in range(users)]

    def __enter__(self) -> Harness:
        try:
            self._start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _start(self) -> None:
        py = sys.executable
        seed = write_seed(self.tmp, self.users)
        domain = yaml.safe_load(SEED_FILE.read_text(encoding="utf-8"))["tenant"]["domain"]
        profiles = write_profiles(self.tmp, self.users, domain)
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        self.children["sandbox"] = Child(
            [py, "-m", "bench.procs", "sandbox", str(seed)], self.tmp / "sandbox.log", env
        )
        self.children["slack"] = Child(
            [py, "-m", "bench.procs", "slack", str(profiles)], self.tmp / "slack.log", env
        )
        sandbox, slack = self.children["sandbox"].info, self.children["slack"].info
        self.slack_url, self.control = slack["url"], slack["control"]
        self.bot_url = self._start_bot(sandbox, slack["api_url"])
        if self.bare:
            self.children["bare"] = Child(
                [py, "-m", "bench.procs", "bare", slack["api_url"]], self.tmp / "bare.log", env
            )
            self.bare_url = self.children["bare"].info["url"]
            wait_healthy(self.bare_url, self.children["bare"], self.tmp / "bare.log")

    def _start_bot(self, sandbox: dict[str, Any], api_url: str) -> str:
        from tests.support.processes import free_port
        from tests.support.settings import policy_file

        port = free_port()
        config = policy_file(self.tmp, bench_policy())
        env = {
            k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "AZURE_", "PIM_"))
        }
        env.update(
            PYTHONPATH=str(ROOT),
            PIM_CONFIG=str(config),
            PIM_DATABASE_URL=f"sqlite:///{self.tmp / 'pimbot.db'}",
            PIM_PORT=str(port),
            AZURE_TENANT_ID=SANDBOX_TENANT_ID,
            AZURE_CLIENT_ID=SANDBOX_CLIENT_ID,
            AZURE_CLIENT_SECRET=SANDBOX_CLIENT_SECRET,
            AZURE_AUTHORITY_HOST=sandbox["url"],
            PIM_GRAPH_URL=sandbox["url"],
            PIM_CA_FILE=sandbox["ca_file"],
            SLACK_API_URL=api_url,
            SLACK_BOT_TOKEN=BOT_TOKEN,
            SLACK_SIGNING_SECRET=SIGNING_SECRET,
            **self.extra_env,
        )
        wrapper = ["-m", "cProfile", "-o", str(self.profile)] if self.profile else []
        args = [sys.executable, *wrapper, "-m", "bench.procs", "bot"]
        self.children["bot"] = Child(args, self.tmp / "bot.log", env)
        url = f"http://127.0.0.1:{port}"
        wait_healthy(url, self.children["bot"], self.tmp / "bot.log")
        return url

    def close(self) -> None:
        for name in ("bare", "bot", "slack", "sandbox"):
            child = self.children.pop(name, None)
            if child is not None:
                child.stop()

    def pids(self) -> dict[str, int]:
        return {name: child.pid for name, child in self.children.items()}

    def cpu(self) -> dict[str, float]:
        """CPU seconds so far of each child, and of this (load-generating) process."""
        out = {name: cpu_seconds(child.pid) for name, child in self.children.items()}
        out["load"] = self_cpu()
        return out

    async def confirmation(
        self, http: httpx.AsyncClient, response_url: str, wait: float = 60
    ) -> list[dict[str, Any]]:
        """What the bot posted to `response_url` (empty if nothing within `wait` s)."""
        key = "response_url:" + response_url.rsplit("/", 1)[-1]
        answer = await http.get(
            f"{self.control}/wait",
            params={"url": key, "timeout": str(wait)},
            timeout=wait + 10,
        )
        answer.raise_for_status()
        found: list[dict[str, Any]] = answer.json()
        return found

    def slack_counts(self) -> dict[str, int]:
        counts: dict[str, int] = httpx.get(f"{self.control}/counts", timeout=10).json()
        return counts


def wait_healthy(url: str, child: Child, log: Path) -> None:
    deadline = time.monotonic() + READY_SECONDS
    while True:
        try:
            if httpx.get(f"{url}/healthz", timeout=5).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if child.proc.poll() is not None or time.monotonic() > deadline:
            child.stop()
            raise RuntimeError(f"pimbot run did not come up:\n{log.read_text()[-3000:]}")
        time.sleep(0.1)


def profile_thread(name: str, out: Path) -> None:
    """cProfile the thread called `name` (cProfile alone sees only the main thread):
    the acks' loop of `pimbot run` (handlers/app.py `serve_apart`). Stats go to `out`
    when the thread ends."""
    import cProfile

    original = threading.Thread.run

    def run(thread: threading.Thread) -> None:
        if thread.name != name:
            original(thread)
            return
        profiler = cProfile.Profile()
        profiler.enable()
        try:
            original(thread)
        finally:
            profiler.disable()
            profiler.dump_stats(out)

    threading.Thread.run = run  # type: ignore[method-assign]


def run_bot() -> None:
    """`pimbot run`, saying once (on stdout, for `Child`) that it was started; SIGTERM
    ends it gracefully, so a cProfile wrapper writes its stats."""
    from bot.cli import main as pimbot

    acks_profile = os.environ.get("PIM_BENCH_ACKS_PROFILE")
    if acks_profile:
        profile_thread("pimbot-acks", Path(acks_profile))
    _announce({"pid": os.getpid()})
    sys.stdout = sys.stderr  # anything the bot prints goes to its log, not our pipe
    status = pimbot(["run"])
    sys.stdout.flush()
    if status:
        raise SystemExit(status)


def run_bare(api_url: str) -> None:
    """A bare Bolt app whose /pim only acks, served as `pimbot run` serves the bot
    (uvicorn, the same logging set-up, Starlette route, Bolt's signature check): the
    baseline of the ack bench."""
    import uvicorn

    from bench.concurrency import bare_app
    from bot.logs import configure_logging
    from tests.support.processes import free_port

    configure_logging("text")
    port = free_port()
    _announce({"url": f"http://127.0.0.1:{port}"})
    config = uvicorn.Config(
        bare_app(api_url),
        host="127.0.0.1",
        port=port,
        log_level="info",
        log_config=None,  # noqa: S104
    )
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    uvicorn.Server(config).run()


def main(argv: Sequence[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.procs")
    parser.add_argument("role", choices=("sandbox", "slack", "bot", "bare"))
    parser.add_argument("path", nargs="?", help="the seed, the profiles, or Slack's API URL")
    args = parser.parse_args(argv)
    if args.role == "sandbox":
        serve_sandbox(Path(args.path))
    elif args.role == "slack":
        serve_slack(Path(args.path))
    elif args.role == "bare":
        run_bare(str(args.path))
    else:
        run_bot()


if __name__ == "__main__":
    main(sys.argv[1:])
