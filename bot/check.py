"""`pimbot check`: validate the configuration and reach Slack, Graph and the database."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from bot.errors import ConfigError, GraphError, PimError
from bot.settings import Settings


class Skipped(Exception):  # noqa: N818 - a check's outcome, not an error
    """A check that cannot run until another one passes."""


@dataclass(frozen=True, slots=True)
class CheckResult:
    name: str
    ok: bool
    detail: str
    skipped: bool = False


Check = Callable[[Settings], Awaitable[str]]


async def run_checks(settings: Settings, *, out: Callable[[str], None] = print) -> int:
    """Print one line per check (with what to fix); exit status 0 only if all pass."""
    results = [await _run(name, check, settings) for name, check in CHECKS]
    for result in results:
        mark = "ok  " if result.ok else "skip" if result.skipped else "FAIL"
        out(f"{mark} {result.name}: {result.detail}")
    return 0 if all(r.ok for r in results) else 1


async def _run(name: str, check: Check, settings: Settings) -> CheckResult:
    try:
        return CheckResult(name, True, await check(settings))
    except Skipped as exc:
        return CheckResult(name, False, str(exc), skipped=True)
    except PimError as exc:
        return CheckResult(name, False, exc.user_message)
    except Exception as exc:  # noqa: BLE001 - a check reports any failure as a line, not a trace
        return CheckResult(name, False, f"{type(exc).__name__}: {exc}")


async def _config(settings: Settings) -> str:
    policy = settings.policy()
    from bot.domain.roles import RoleCatalog

    RoleCatalog(policy)  # resolves every configured role name, naming a bad one
    return f"{settings.pim_config} is valid ({len(policy.roles)} role aliases)"


async def _slack(settings: Settings) -> str:
    if settings.slack_bot_token is None:
        return "no SLACK_BOT_TOKEN: `pimbot run` will serve the local Slack workspace"
    from slack_sdk.errors import SlackApiError
    from slack_sdk.web.async_client import AsyncWebClient

    client = AsyncWebClient(
        token=settings.slack_bot_token.get_secret_value(), base_url=settings.slack_api_url
    )
    try:
        auth = await client.auth_test()
    except SlackApiError as exc:
        error = exc.response.get("error", "unknown_error")
        raise PimError(
            f"auth.test failed ({error}): check SLACK_BOT_TOKEN is the app's xoxb- bot token"
        ) from None
    if settings.slack_app_token is None and settings.slack_signing_secret is None:
        raise PimError(
            "HTTP mode needs SLACK_SIGNING_SECRET (or set SLACK_APP_TOKEN for Socket Mode)"
        )
    return f"authenticated as {auth.get('user')} in {auth.get('team')}"


async def _graph(settings: Settings) -> str:
    if settings.uses_sandbox:
        return "no AZURE_TENANT_ID/AZURE_CLIENT_ID: `pimbot run` uses the embedded sandbox tenant"
    if settings.azure_client_secret is None and settings.azure_client_certificate_path is None:
        raise PimError("set AZURE_CLIENT_SECRET or AZURE_CLIENT_CERTIFICATE_PATH")
    from bot.graph import build_graph

    try:
        settings.policy()  # the Graph identity (graph.identity) comes from the policy file
    except ConfigError:
        raise Skipped("not checked until the config loads (see the config line)") from None
    graph = build_graph(settings)
    try:
        await graph.check_token()
        roles = await graph.list_role_definitions()
    except GraphError as exc:
        raise PimError(_graph_fix(settings, exc)) from None
    finally:
        await graph.aclose()
    return f"token acquired; read {len(roles)} role definitions from {settings.pim_graph_url}"


def _graph_fix(settings: Settings, exc: GraphError) -> str:
    """Graph's refusal, with the setting or permission that fixes it."""
    if exc.code == "invalid_client":
        credential = (
            "AZURE_CLIENT_CERTIFICATE_PATH"
            if settings.azure_client_secret is None
            else "AZURE_CLIENT_SECRET"
        )
        return (
            f"Entra refused the app's credential (invalid_client): check {credential}"
            " (expired, or from another app registration than AZURE_CLIENT_ID)"
        )
    if exc.status == 403:
        return f"{exc.user_message} README, 'Registering the Entra app', lists them all."
    return exc.user_message


async def _database(settings: Settings) -> str:
    from bot.store import SqlStore

    store = SqlStore.from_url(settings.pim_database_url)
    store.list_requests(states=frozenset())
    return f"reachable and migrated ({_redact(settings.pim_database_url)})"


def _redact(url: str) -> str:
    """Hide a password in a database URL."""
    head, sep, tail = url.partition("@")
    if not sep or "://" not in head:
        return url
    scheme, _, creds = head.partition("://")
    user = creds.split(":", 1)[0]
    return f"{scheme}://{user}:***@{tail}" if ":" in creds else url


CHECKS: list[tuple[str, Check]] = [
    ("config", _config),
    ("slack", _slack),
    ("graph", _graph),
    ("database", _database),
]
