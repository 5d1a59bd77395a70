"""`pimbot run`: pick the Slack transport and the tenant, wire everything, serve until stopped.

- No `AZURE_TENANT_ID`/`AZURE_CLIENT_ID`: the embedded sandbox tenant is started (TLS, own
  thread) and the bot reaches it through its production Graph code path.
- `SLACK_APP_TOKEN`: Socket Mode. `SLACK_BOT_TOKEN` alone: HTTP mode on `PIM_PORT`.
- No Slack credentials: the local Slack workspace is served on `PIM_PORT` beside the bot's
  `/slack/events`, and it drives the bot with signed requests exactly as Slack does.
"""

from __future__ import annotations

import contextlib
import logging
import socket
from dataclasses import dataclass
from typing import Any

from pydantic import SecretStr

from bot.clock import OffsetClock
from bot.errors import ConfigError
from bot.settings import Settings
from bot.store.single import single_instance

log = logging.getLogger("pimbot")
LOCAL_HOST = "127.0.0.1"  # the local workspace is for this machine only
ALL_INTERFACES = "0.0.0.0"  # noqa: S104 - HTTP mode: Slack (or the ingress) must reach it


async def run(settings: Settings) -> int:
    """Serve until SIGINT/SIGTERM; returns the exit status."""
    if (refusal := settings.sandbox_refusal()) is not None:
        raise ConfigError(refusal)
    if settings.uses_sandbox and settings.has_slack:
        log.warning(
            "PIM_SANDBOX=1: Slack users reach the embedded sandbox tenant, not your Entra "
            "tenant; nothing they activate is real"
        )
    user_mode = settings.policy().graph.identity == "user"
    if user_mode:
        from bot.signin.crypto import check_signin_config, cipher_from_settings

        cipher_from_settings(settings)  # no usable PIM_TOKEN_KEY: stop before anything starts
    clock = OffsetClock()
    demo = settings.uses_sandbox and settings.has_slack  # PIM_SANDBOX=1: replies say so
    with contextlib.ExitStack() as stack:
        stack.enter_context(single_instance(settings.pim_database_url))  # SQLite: one process
        listener = _claim_listener(settings, stack)  # a busy port is named before anything
        if settings.uses_sandbox:
            settings, _tenant = start_sandbox(settings, clock, stack)
        if user_mode:
            check_signin_config(settings)  # the AZURE_* ids (the sandbox fills its own)
        if listener is None:
            await _serve_slack(settings, clock, sandbox_mark=demo)
        else:
            await _serve_local_workspace(settings, clock, listener)
    return 0


def _claim_listener(settings: Settings, stack: contextlib.ExitStack) -> socket.socket | None:
    """The local workspace's socket, bound now (closed with `stack`); None for Slack, after
    checking that the port is free (HTTP mode's, or Socket Mode's probes and metrics)."""
    if not settings.has_slack:
        return stack.enter_context(claim_port(settings.pim_port, LOCAL_HOST))
    claim_port(settings.pim_port, ALL_INTERFACES).close()
    return None


def claim_port(port: int, host: str) -> socket.socket:
    """A socket bound to `port`, or a ConfigError naming PIM_PORT if it is taken."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ConfigError(
            f"port {port} is already in use ({exc.strerror}): stop what holds it, or set "
            "PIM_PORT to a free port"
        ) from None
    return sock


def start_sandbox(
    settings: Settings, clock: OffsetClock, stack: contextlib.ExitStack
) -> tuple[Settings, Any]:
    """Serve the seeded sandbox tenant over TLS (closed with `stack`); the settings that
    point the bot's production Graph code at it, and the `SandboxTenant`."""
    from bot.simulators.sandbox import SandboxServer, SandboxTenant, create_app
    from bot.simulators.sandbox.seed import (
        SANDBOX_CLIENT_ID,
        SANDBOX_CLIENT_SECRET,
        SANDBOX_TENANT_ID,
    )

    tenant = SandboxTenant.from_seed(clock)
    server = stack.enter_context(SandboxServer(create_app(tenant), tls=True))
    log.info("sandbox tenant (Contoso) serving Graph and login at %s", server.url)
    updated = settings.model_copy(
        update={
            "azure_tenant_id": SANDBOX_TENANT_ID,
            "azure_client_id": SANDBOX_CLIENT_ID,
            "azure_client_secret": SecretStr(SANDBOX_CLIENT_SECRET),
            "azure_authority_host": server.url,
            "pim_graph_url": server.url,
            "pim_ca_file": server.ca_file,
        }
    )
    return updated, tenant


async def _serve_slack(
    settings: Settings, clock: OffsetClock, *, sandbox_mark: bool = False
) -> None:
    from handlers.replies import kept_responses

    if settings.slack_app_token is None and not _has(settings.slack_signing_secret):
        # Fail closed: an HTTP endpoint that cannot check Slack's signature serves anyone.
        raise ConfigError(
            "HTTP mode needs SLACK_SIGNING_SECRET (or set SLACK_APP_TOKEN for Socket Mode)"
        )

    services, bolt = await _build(settings, clock, sandbox_mark=sandbox_mark)
    await services.start()
    deliveries = services.deliveries  # one payload handled once across replicas
    # The work after each ack runs on this loop (HTTP mode hops it here; Socket Mode runs
    # here): its response_url replies share one kept session (handlers/replies.py).
    try:
        async with kept_responses():
            await _serve(settings, services, bolt, deliveries)
    finally:
        await services.aclose()


async def _serve(settings: Settings, services: Any, bolt: Any, deliveries: Any) -> None:
    """Slack's requests, over Socket Mode or HTTP, until stopped."""
    from handlers.app import Once, run_http, run_socket_and_ops

    if settings.slack_app_token is not None:
        log.info("Slack Socket Mode; /healthz, /readyz, /metrics on port %s", settings.pim_port)
        await run_socket_and_ops(
            settings,
            services.pimbot,
            bolt,
            port=settings.pim_port,
            metrics=services.metrics,
            once=Once(deliveries, services.clock.now) if deliveries else None,
        )
    else:
        log.info("Slack HTTP mode on port %s (POST /slack/events)", settings.pim_port)
        await run_http(
            settings,
            services.pimbot,
            bolt,
            port=settings.pim_port,
            metrics=services.metrics,
            once=Once(deliveries, services.clock.now) if deliveries else None,
        )


@dataclass
class LocalStack:
    """The bot and the local Slack workspace as one ASGI app (`pimbot run`, `pimbot demo`)."""

    app: Any  # Starlette: the bot's `/slack/events` + `/healthz`, the workspace at `/`
    services: Any  # bot.wiring.Services, started
    workspace: Any  # bot.simulators.workspace.Workspace
    url: str


async def build_local_stack(settings: Settings, clock: OffsetClock, port: int) -> LocalStack:
    """Wire the bot to a local workspace served at http://127.0.0.1:{port}; start services.
    The caller serves `app` on that port and closes `services` (`aclose`)."""
    from starlette.applications import Starlette
    from starlette.routing import Mount

    from bot.simulators.workspace import (
        WORKSPACE_BOT_TOKEN,
        WORKSPACE_SIGNING_SECRET,
        create_workspace_app,
    )
    from handlers.app import build_http_app

    base = f"http://127.0.0.1:{port}"
    settings = settings.model_copy(
        update={
            "slack_bot_token": SecretStr(WORKSPACE_BOT_TOKEN),
            "slack_signing_secret": SecretStr(WORKSPACE_SIGNING_SECRET),
            "slack_api_url": f"{base}/api/",
        }
    )
    services, bolt = await _build(settings, clock)
    await services.start()

    async def fast_forward(seconds: float) -> None:
        # Moves the bot's and the sandbox's shared clock, then sends what fell due.
        clock.advance(seconds)
        await services.sweep(reconcile=True)

    workspace = create_workspace_app(
        bot_events_url=f"{base}/slack/events",
        signing_secret=WORKSPACE_SIGNING_SECRET,
        bot_token=WORKSPACE_BOT_TOKEN,
        on_fast_forward=fast_forward,
    )
    bot_http = build_http_app(settings, services.pimbot, bolt, services.metrics)
    app = Starlette(routes=[*bot_http.routes, Mount("/", workspace)])
    return LocalStack(app, services, workspace.state.workspace, base)


async def _serve_local_workspace(
    settings: Settings, clock: OffsetClock, listener: socket.socket
) -> None:
    import uvicorn

    local = await build_local_stack(settings, clock, settings.pim_port)
    # No access log: response_url paths work like passwords, and the page polls often.
    config = uvicorn.Config(local.app, access_log=False)
    listener.listen(config.backlog)
    print(f"\n  pimbot is running. Open {local.url} — the local Slack workspace.\n", flush=True)
    server = uvicorn.Server(config)
    try:
        await server.serve(sockets=[listener])
    finally:
        await local.services.aclose()


async def _build(
    settings: Settings, clock: OffsetClock, *, sandbox_mark: bool = False
) -> tuple[Any, Any]:
    """The services and the Bolt app on them; Slack messages go through the outbox."""
    from bot.store import SqlStore
    from bot.store.outbox import SqlOutbox
    from bot.wiring import build_services
    from handlers.app import build_app
    from handlers.notify import SlackNotifier
    from handlers.outbox import READ_RETRIES, Courier, web_client
    from handlers.people import SlackUserDirectory
    from handlers.sandbox_mark import mark as sandbox_marker

    token = settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else None
    client = web_client(token, settings.slack_api_url)
    config = settings.policy()
    store = SqlStore.from_url(settings.pim_database_url, clock=clock)
    mark = sandbox_marker if sandbox_mark else None
    courier = Courier(client, SqlOutbox(store.engine, clock), store, config, clock, mark=mark)
    directory = SlackUserDirectory(
        web_client(token, settings.slack_api_url, rate_limit_retries=READ_RETRIES)
    )
    # One directory: a reminder's DM names the time zone seen when its activation was
    # made, without a users.info of its own.
    notifier = SlackNotifier(client, config, courier, profiles=directory)
    services = build_services(
        settings,
        directory=directory,
        notifier=notifier,
        store=store,
        clock=clock,
        config=config,
        background=(courier,),
    )
    bolt = build_app(
        settings, services.pimbot, dms=notifier, client=client, sandbox_mark=sandbox_mark
    )
    return services, bolt


def _has(secret: SecretStr | None) -> bool:
    return secret is not None and bool(secret.get_secret_value())
