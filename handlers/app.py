"""The Bolt app on the services, and its transports: HTTP (Starlette + uvicorn) or Socket Mode."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs

import uvicorn
from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.errors import ConfigError
from bot.metrics import CONTENT_TYPE, Metrics
from bot.service.dispatch import Pimbot
from bot.settings import Settings
from handlers import blocks, observe, register
from handlers import sandbox_mark as sandbox_mark_module
from handlers.replies import DirectMessages, new_ref

log = logging.getLogger("handlers")


def build_app(
    settings: Settings,
    bot: Pimbot,
    *,
    dms: DirectMessages,
    client: AsyncWebClient,
    sandbox_mark: bool = False,
) -> AsyncApp:
    """The Bolt app with every listener; Bolt verifies each HTTP request's signature.
    `sandbox_mark`: every ack and reply says it comes from the sandbox tenant."""
    secret = settings.slack_signing_secret
    app = AsyncApp(
        client=client,
        signing_secret=secret.get_secret_value() if secret else "",
        # Listeners ack first and work after; Bolt answers Slack as soon as ack() runs.
        process_before_response=False,
    )
    observe.install(app)
    if sandbox_mark:
        sandbox_mark_module.install(app)
    register(app, bot, dms)

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


def build_http_app(
    settings: Settings, bot: Pimbot, bolt_app: AsyncApp, metrics: Metrics | None = None
) -> Starlette:
    """`POST /slack/events`, and for operators `GET /healthz` (alive), `GET /readyz`
    (ready) and `GET /metrics` (Prometheus). Every event's signature is checked here,
    before anything reads its body: an unsigned request is a 401 whatever it holds, and a
    signed one Bolt could not read is a 400, so nobody can flood the log with tracebacks."""
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

    async def events(request: Request) -> Response:
        started = time.perf_counter()
        body = await request.body()  # Starlette keeps it: Bolt reads the same bytes
        stamp = request.headers.get("X-Slack-Request-Timestamp", "")
        signature = request.headers.get("X-Slack-Signature", "")
        if not _signed(verifier, body, stamp, signature):
            return JSONResponse({"error": "invalid request signature"}, 401)
        content_type = request.headers.get("Content-Type", "")
        if not readable(body, content_type):
            return JSONResponse({"error": "unreadable payload"}, 400)
        answer = await handler.handle(request)
        kind = observe.kind_of_raw(body, content_type)
        metrics.ack_seconds.labels(kind).observe(time.perf_counter() - started)
        return answer

    return Starlette(
        routes=[
            Route("/slack/events", events, methods=["POST"]),
            *ops_routes(bot, bolt_app, metrics),
        ]
    )


def ops_routes(bot: Pimbot, bolt_app: AsyncApp, metrics: Metrics) -> list[Route]:
    """`/healthz`: the process answers (no dependency is asked: a restart would not mend
    Graph or the database, https://kubernetes.io/docs/concepts/configuration/liveness-readiness-startup-probes).
    `/readyz`: 503 while Graph or the database is unreachable, so the replica takes no
    traffic; Slack's state is in the body but never makes it unready (no replica could
    do better). `/metrics`: this app's registry."""

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(request: Request) -> Response:
        checks, slack = await asyncio.gather(bot.health(), _slack_state(bolt_app.client))
        ok = all(v == "ok" for v in checks.values())
        body = {"status": "ok" if ok else "failing", **checks, "slack": slack}
        return JSONResponse(body, 200 if ok else 503)

    async def exposition(request: Request) -> Response:
        return Response(metrics.exposition(), media_type=CONTENT_TYPE)

    return [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        Route("/metrics", exposition, methods=["GET"]),
    ]


SLACK_CHECK_SECONDS = 3.0


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


def readable(body: bytes, content_type: str) -> bool:
    """Whether Bolt can read the body: JSON (events) or a form (commands), and an
    interaction's `payload` field a JSON object."""
    try:
        if content_type.startswith("application/json"):
            return isinstance(json.loads(body), dict)
        form = parse_qs(body.decode("utf-8"), strict_parsing=False)
        payload = form.get("payload")
        return payload is None or isinstance(json.loads(payload[0]), dict)
    except (ValueError, UnicodeDecodeError):
        return False


async def run_http(
    settings: Settings, bot: Pimbot, bolt_app: AsyncApp, *, port: int, metrics: Metrics
) -> None:
    """Serve until SIGINT/SIGTERM; uvicorn stops accepting, then lets in-flight requests
    finish (bounded) before returning, so no Slack request is cut off mid-ack."""
    app = build_http_app(settings, bot, bolt_app, metrics)
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
    await _GracefulServer(config).serve()


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


async def run_socket_and_ops(
    settings: Settings, bot: Pimbot, bolt_app: AsyncApp, *, port: int, metrics: Metrics
) -> None:
    """Socket Mode, and on `port` only `/healthz`, `/readyz` and `/metrics` (for the
    probes and Prometheus: Slack's requests come over the socket). Until SIGINT/SIGTERM,
    or until the socket fails, whose error is raised then."""
    app = Starlette(routes=ops_routes(bot, bolt_app, metrics))
    host = "0.0.0.0"  # noqa: S104 - the probes and Prometheus reach it from outside
    server = _GracefulServer(
        uvicorn.Config(app, host=host, port=port, log_config=None, access_log=False)
    )
    socket_mode = asyncio.create_task(run_socket(settings, bolt_app))
    socket_mode.add_done_callback(lambda _: setattr(server, "should_exit", True))
    try:
        await server.serve()
    finally:
        socket_mode.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await socket_mode  # re-raises what stopped the socket, if not the shutdown


async def run_socket(settings: Settings, bolt_app: AsyncApp) -> None:
    """Socket Mode: Slack pushes over a websocket, so nothing needs to be reachable."""
    from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

    if settings.slack_app_token is None:
        raise ValueError("Socket Mode needs SLACK_APP_TOKEN")
    handler = AsyncSocketModeHandler(bolt_app, settings.slack_app_token.get_secret_value())
    try:
        await handler.start_async()  # type: ignore[no-untyped-call]  # untyped in slack_bolt
    finally:
        # On cancellation (shutdown) say goodbye on the socket instead of dropping it.
        await handler.close_async()  # type: ignore[no-untyped-call]
