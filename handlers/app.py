"""The Bolt app on the services, and its transports: HTTP (Starlette + uvicorn) or Socket Mode."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import aiohttp
import uvicorn
from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, request_response
from starlette.types import ASGIApp, Receive, Scope, Send

from bot.errors import ConfigError
from bot.metrics import CONTENT_TYPE, Metrics
from bot.service.deliveries import Deliveries
from bot.service.dispatch import Pimbot
from bot.settings import Settings
from handlers import blocks, observe, register, work
from handlers import sandbox_mark as sandbox_mark_module
from handlers.early_ack import answer_at_ack
from handlers.http_once import HttpOnce
from handlers.outbox import replica_id
from handlers.ready import Ready, ReadyCache
from handlers.replies import DirectMessages, new_ref
from handlers.work import LoopHop, WorkQueue, on_loop

log = logging.getLogger("handlers")


def build_app(
    settings: Settings,
    bot: Pimbot,
    *,
    dms: DirectMessages,
    client: AsyncWebClient,
    sandbox_mark: bool = False,
    work_queue: WorkQueue | None = None,
) -> AsyncApp:
    """The Bolt app with every listener; Bolt verifies each HTTP request's signature.
    `sandbox_mark`: every ack and reply says it comes from the sandbox tenant.
    `work_queue`: bounds the work after each ack (default: PIM_WORKERS, PIM_WORK_QUEUE)."""
    secret = settings.slack_signing_secret
    app = AsyncApp(
        # Its own client object: the outbox courier gives `client` an HTTP session on the
        # services' loop, and in HTTP mode the listeners run on another (`serve_apart`).
        client=own_client(client),
        signing_secret=secret.get_secret_value() if secret else "",
        # Listeners ack first and work after; Bolt answers Slack as soon as ack() runs.
        process_before_response=False,
    )
    observe.install(app)
    queue = work_queue or WorkQueue(settings.pim_workers, settings.pim_work_queue)
    work.install(app, queue)
    if sandbox_mark:
        sandbox_mark_module.install(app)
    # The core and the DM sender run on the services' loop once `run_http` binds it.
    register(app, on_loop(bot, queue.hop), on_loop(dms, queue.hop))

    @app.error
    async def last_net(error: Exception, body: dict[str, Any]) -> None:
        # Listeners already turn errors into replies; this catches what escaped them.
        ref = new_ref()
        log.error("unhandled error in a listener (ref %s)", ref, exc_info=error)
        response_url = body.get("response_url")
        if response_url:
            msg = blocks.internal_error(ref)
            try:
                await AsyncWebhookClient(response_url).send(response_type="ephemeral", **msg)
            except Exception:  # noqa: BLE001 - Slack itself is failing; the log has the ref
                log.warning("could not report ref %s to the user", ref)

    return app


def own_client(client: AsyncWebClient) -> AsyncWebClient:
    """A client like `client` (token, URL, timeout, retries) without its HTTP session;
    Bolt copies the app client's session into each request's client."""
    return AsyncWebClient(
        token=client.token,
        base_url=client.base_url,
        timeout=client.timeout,
        ssl=client.ssl,
        proxy=client.proxy,
        headers=dict(client.headers),
        retry_handlers=list(client.retry_handlers),
    )


def build_http_app(
    settings: Settings,
    bot: Pimbot,
    bolt_app: AsyncApp,
    metrics: Metrics | None = None,
    once: HttpOnce | None = None,
) -> Starlette:
    """`POST /slack/events`, and for operators `GET /healthz` (alive), `GET /readyz`
    (ready) and `GET /metrics` (Prometheus). Every event's signature is checked here,
    before anything reads its body: an unsigned request is a 401 whatever it holds, and a
    signed one Bolt could not read is a 400, so nobody can flood the log with tracebacks.
    `once`: the replicas' claims: Slack's resend of an event acts once (handlers/http_once.py)."""
    secret = settings.slack_signing_secret
    if secret is None or not secret.get_secret_value():
        raise ConfigError(
            "HTTP mode needs SLACK_SIGNING_SECRET (or set SLACK_APP_TOKEN for Socket Mode)"
        )
    # Slack's scheme: v0=HMAC-SHA256 of "v0:{timestamp}:{body}", timestamp within 5 min
    # (https://api.slack.com/authentication/verifying-requests-from-slack).
    verifier = SignatureVerifier(secret.get_secret_value())
    handler = AsyncSlackRequestHandler(bolt_app)
    metrics = metrics or Metrics()
    queue = work.queue_of(bolt_app)
    acks = queue.acks if queue is not None else work.AckGate()

    async def events(request: Request) -> Response:
        started = time.perf_counter()
        body = await request.body()  # Starlette keeps it: Bolt reads the same bytes
        stamp = request.headers.get("X-Slack-Request-Timestamp", "")
        signature = request.headers.get("X-Slack-Signature", "")
        if not _signed(verifier, body, stamp, signature):
            return JSONResponse({"error": "invalid request signature"}, 401)
        content_type = request.headers.get("Content-Type", "")
        kind = observe.kind_of_raw(body, content_type)  # the one parse before Bolt's
        if kind is None:
            return JSONResponse({"error": "unreadable payload"}, 400)
        key, early = await once.claim(body, content_type) if once else (None, None)
        if early is not None:
            return early
        answer = await answer_at_ack(handler, request)
        if key is not None and once is not None:
            await once.settle(key)  # acked (Bolt answers once the listener acks)
        metrics.ack_seconds.labels(kind).observe(time.perf_counter() - started)
        return answer

    return Starlette(
        routes=[
            # Gated as an ASGI app, around the sending too: an ack counts as in flight
            # until its answer is written, so no work starts while it is on its way.
            Route("/slack/events", AckGated(request_response(events), acks), methods=["POST"]),
            *ops_routes(bot, bolt_app, metrics, ready_ttl=settings.pim_ready_cache_seconds),
        ]
    )


def ops_routes(
    bot: Pimbot, bolt_app: AsyncApp, metrics: Metrics, *, ready_ttl: float
) -> list[Route]:
    """`/healthz`: the process answers (no dependency is asked: a restart would not mend
    Graph or the database, https://kubernetes.io/docs/concepts/configuration/liveness-readiness-startup-probes).
    `/readyz`: 503 while Graph or the database is unreachable, so the replica takes no
    traffic; Slack's state is in the body but never makes it unready (no replica could
    do better); answered from a `ready_ttl`-second single-flight cache (handlers/ready.py).
    `/metrics`: this app's registry."""

    async def check() -> Ready:
        checks, slack = await asyncio.gather(bot.health(), _slack_state(bolt_app.client))
        ok = all(v == "ok" for v in checks.values())
        return Ready(ok, {"status": "ok" if ok else "failing", **checks, "slack": slack})

    ready = ReadyCache(check, ttl=ready_ttl)

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(request: Request) -> Response:
        answer = await ready.answer()
        return JSONResponse(answer.body, 200 if answer.ok else 503)

    async def exposition(request: Request) -> Response:
        return Response(metrics.exposition(), media_type=CONTENT_TYPE)

    return [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        Route("/metrics", exposition, methods=["GET"]),
    ]


class AckGated:
    """The ASGI app `app`, each request `enter`ing `gate` on arrival and `leave`ing once
    the app returned, that is once its answer was sent (Starlette's `request_response`
    sends the response before returning), or it failed."""

    def __init__(self, app: ASGIApp, gate: work.AckGate) -> None:
        self.app, self.gate = app, gate

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.gate.enter()
        try:
            await self.app(scope, receive, send)
        finally:
            self.gate.leave()


SLACK_CHECK_SECONDS = 3.0
ACK_SWITCH_SECONDS = 0.001


async def _slack_state(client: AsyncWebClient) -> str:
    """Whether Slack answers auth.test for the bot's token: "ok", else why not."""
    try:
        await asyncio.wait_for(client.auth_test(), SLACK_CHECK_SECONDS)
    except Exception as exc:  # noqa: BLE001 - readiness reports the failure, it does not raise
        return f"failing: {type(exc).__name__}"
    return "ok"


def _signed(verifier: SignatureVerifier, body: bytes, stamp: str, signature: str) -> bool:
    """Slack's signature, checked; missing or malformed headers are simply not signed."""
    if not (stamp.isdigit() and signature.startswith("v0=")):
        return False
    return verifier.is_valid(body, stamp, signature)


async def run_http(
    settings: Settings,
    bot: Pimbot,
    bolt_app: AsyncApp,
    *,
    port: int,
    metrics: Metrics,
    once: Once | None = None,
) -> None:
    """Serve until SIGINT/SIGTERM; uvicorn stops accepting, then lets in-flight requests
    finish (bounded) before returning, so no Slack request is cut off mid-ack.

    The server, Bolt and the acks run on a loop of their own in a thread; the services
    stay on this (the caller's) loop, and the work after each ack is carried here
    (handlers/work.py), so no database call or Graph work ever runs on the acks' loop."""
    queue = work.queue_of(bolt_app)
    hop = queue.hop if queue is not None else LoopHop()
    claims = HttpOnce(once.deliveries, once.now, replica_id()) if once else None
    app = build_http_app(settings, on_loop(bot, hop), bolt_app, metrics, claims)
    # All interfaces: in HTTP mode Slack (or the ingress in front) must reach this port.
    host = "0.0.0.0"  # noqa: S104
    # log_config=None: uvicorn's lines go through the root handler, so PIM_LOG_FORMAT=json
    # makes them JSON too (uvicorn's own config would give them text formatters).
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="info",
        log_config=None,
        timeout_graceful_shutdown=10,
    )
    await serve_apart(_GracefulServer(config), hop, bolt_app.client)


async def serve_apart(
    server: uvicorn.Server,
    hop: LoopHop,
    client: AsyncWebClient,
    beside: Callable[[], Coroutine[Any, Any, None]] | None = None,
) -> None:
    """Run `server` on a new event loop in a thread until it stops, with `hop` bound to
    this loop meanwhile. SIGINT/SIGTERM (only the main thread receives signals) ask the
    server to stop as uvicorn's own handler would; it then drains in-flight requests.
    `client` (the Bolt app's) gets an HTTP session on the server's loop while it runs.
    `beside`: run on that loop too (Socket Mode's connection); when it ends the server
    stops, and its error, if any, is raised here."""
    here = asyncio.get_running_loop()
    stopped: asyncio.Future[None] = here.create_future()
    # The services' thread, busy with CPU, hands the GIL over only every switch interval
    # (5 ms by default, https://docs.python.org/3/library/sys.html#sys.setswitchinterval):
    # every time the acks' thread wakes (a request read, Bolt's 10 ms ack poll) it may
    # wait that long. A shorter interval lets the acks through sooner.
    switch = sys.getswitchinterval()
    sys.setswitchinterval(ACK_SWITCH_SECONDS)
    # What start-up made (modules, the settings, the services, their caches' shells) lives
    # as long as the process: frozen, it is left out of every later collection, whose
    # full passes had scanned it all and held the GIL for 50-150 ms, stalling the acks'
    # thread mid-burst (measured, bench/concurrency.py). "freeze() ... to speed up
    # collection": https://docs.python.org/3/library/gc.html#gc.freeze
    gc.collect()
    gc.freeze()

    def settle(error: BaseException | None) -> None:
        if stopped.done():
            return
        if error is None:
            stopped.set_result(None)
        else:
            stopped.set_exception(error)

    async def serving() -> None:
        async with keep_alive(client):
            if beside is None:
                await server.serve()
                return
            other = asyncio.create_task(beside())
            other.add_done_callback(lambda _: setattr(server, "should_exit", True))
            try:
                await server.serve()
            finally:
                other.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await other  # re-raises what ended it, if not the shutdown

    def serve() -> None:
        try:
            asyncio.run(serving())
        except BaseException as exc:  # noqa: BLE001 - handed to the awaiting loop
            here.call_soon_threadsafe(settle, exc)
        else:
            here.call_soon_threadsafe(settle, None)

    signals = (signal.SIGINT, signal.SIGTERM)
    for sig in signals:
        here.add_signal_handler(sig, server.handle_exit, sig, None)
    hop.bind(here)
    thread = threading.Thread(target=serve, name="pimbot-acks", daemon=True)
    thread.start()
    try:
        await stopped
    finally:
        server.should_exit = True
        for sig in signals:
            here.remove_signal_handler(sig)
        await asyncio.to_thread(thread.join, 30)
        hop.bind(None)
        sys.setswitchinterval(switch)


@contextlib.asynccontextmanager
async def keep_alive(client: AsyncWebClient) -> AsyncIterator[None]:
    """One HTTP session (on this loop) for `client`'s calls meanwhile, so a burst of
    listener calls reuses connections instead of opening one each."""
    session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=client.timeout))
    client.session = session
    try:
        yield
    finally:
        client.session = None
        await session.close()


class _GracefulServer(uvicorn.Server):
    """uvicorn re-raises SIGTERM/SIGINT once it has drained, which kills the process
    before the caller closes its services (scheduler, Graph client); here the signal
    only makes `serve()` return, and the process exits normally afterwards."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        with super().capture_signals():
            try:
                yield
            finally:
                self._captured_signals.clear()


@dataclass(frozen=True, slots=True)
class Once:
    """What Socket Mode needs to handle each payload once across replicas."""

    deliveries: Deliveries
    now: Callable[[], datetime]


async def run_socket_and_ops(
    settings: Settings,
    bot: Pimbot,
    bolt_app: AsyncApp,
    *,
    port: int,
    metrics: Metrics,
    once: Once | None = None,
) -> None:
    """Socket Mode, and on `port` only `/healthz`, `/readyz` and `/metrics` (for the
    probes and Prometheus: Slack's requests come over the socket). Until SIGINT/SIGTERM,
    or until the socket fails, whose error is raised then.

    As in HTTP mode, the socket, Bolt and the acks run on a loop of their own in a
    thread (`serve_apart`) and the work after each ack is carried to the services' loop:
    before, a burst's acks waited behind the services' database and Graph work on the
    one loop (bench/socket_ack.py: 4.8 times bare Bolt's ack time for a burst of 50)."""
    queue = work.queue_of(bolt_app)
    hop = queue.hop if queue is not None else LoopHop()
    routes = ops_routes(
        on_loop(bot, hop), bolt_app, metrics, ready_ttl=settings.pim_ready_cache_seconds
    )
    host = "0.0.0.0"  # noqa: S104 - the probes and Prometheus reach it from outside
    server = _GracefulServer(
        uvicorn.Config(Starlette(routes=routes), host=host, port=port, log_config=None,
                       access_log=False)
    )  # fmt: skip

    async def socket_mode() -> None:
        await run_socket(settings, bolt_app, once=once, metrics=metrics)

    await serve_apart(server, hop, bolt_app.client, beside=socket_mode)


async def run_socket(
    settings: Settings,
    bolt_app: AsyncApp,
    *,
    once: Once | None = None,
    metrics: Metrics | None = None,
) -> None:
    """Socket Mode: Slack pushes over a websocket, so nothing needs to be reachable.
    `once`: the replicas' shared claims, so a payload Slack redelivers to another
    replica's connection is handled once (handlers/socket_once.py); `metrics`: where its
    acks are timed (with `once`)."""
    from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

    from handlers.socket_once import OnceSocketModeHandler

    if settings.slack_app_token is None:
        raise ValueError("Socket Mode needs SLACK_APP_TOKEN")
    token = settings.slack_app_token.get_secret_value()
    handler = (
        OnceSocketModeHandler(
            bolt_app,
            token,
            deliveries=once.deliveries,
            holder=replica_id(),
            now=once.now,
            metrics=metrics,
        )
        if once is not None
        else AsyncSocketModeHandler(bolt_app, token)
    )
    try:
        await handler.start_async()  # type: ignore[no-untyped-call]  # untyped in slack_bolt
    finally:
        # On cancellation (shutdown) say goodbye on the socket instead of dropping it.
        await handler.close_async()  # type: ignore[no-untyped-call]
