"""`pimbot check`: validate the configuration and reach Slack, Graph and the database.

In signed-in-user mode (`graph.identity: user`) the bot holds no application credential,
so the Graph line checks that Entra's sign-in service answers for the tenant instead of
acquiring an app token, and the config line checks PIM_TOKEN_KEY."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from bot.domain.models import RolePolicy
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
    valid = f"{settings.pim_config} is valid ({len(policy.roles)} role aliases)"
    if not settings.pim_config.exists():
        valid = f"no {settings.pim_config} here: every setting at its default"
    if policy.graph.identity != "user":
        return valid
    _check_user_mode_config(settings)
    return f"{valid}; signed-in-user mode, PIM_TOKEN_KEY is usable"


def _check_user_mode_config(settings: Settings) -> None:
    """`graph.identity: user`: PIM_TOKEN_KEY, AZURE_TENANT_ID and AZURE_CLIENT_ID, as
    start-up demands them. With neither id set `pimbot run` fills both from the sandbox
    tenant, so only the key is checked then."""
    from bot.signin.crypto import check_signin_config

    tenant, client = settings.azure_tenant_id, settings.azure_client_id
    if bool(tenant) != bool(client):
        missing = "AZURE_CLIENT_ID" if tenant else "AZURE_TENANT_ID"
        raise ConfigError(
            f"graph.identity is 'user': {missing} is not set (set both AZURE_TENANT_ID and "
            "AZURE_CLIENT_ID, or neither for the sandbox tenant)"
        )
    if settings.uses_sandbox:
        from bot.simulators.sandbox.seed import SANDBOX_CLIENT_ID, SANDBOX_TENANT_ID

        update = {"azure_tenant_id": SANDBOX_TENANT_ID, "azure_client_id": SANDBOX_CLIENT_ID}
        settings = settings.model_copy(update=update)
    check_signin_config(settings)


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
    if (refusal := settings.sandbox_refusal()) is not None:
        raise PimError(refusal)
    if settings.uses_sandbox:
        return "no AZURE_TENANT_ID/AZURE_CLIENT_ID: `pimbot run` uses the embedded sandbox tenant"
    try:
        policy = settings.policy()  # the Graph identity (graph.identity) comes from it
    except ConfigError:
        raise Skipped("not checked until the config loads (see the config line)") from None
    if policy.graph.identity == "user":
        return await _entra_sign_in(settings)
    if settings.azure_client_secret is None and settings.azure_client_certificate_path is None:
        raise PimError("set AZURE_CLIENT_SECRET or AZURE_CLIENT_CERTIFICATE_PATH")
    from bot.graph import build_graph

    graph = build_graph(settings)
    try:
        await graph.check_token()
        roles = await graph.list_role_definitions()
        policies = await graph.list_policies()
    except GraphError as exc:
        raise PimError(_graph_fix(settings, exc)) from None
    finally:
        await graph.aclose()
    line = f"token acquired; read {len(roles)} role definitions from {settings.pim_graph_url}"
    names = {r.id: r.display_name for r in roles}
    return line + _application_mode_summary(settings, policies, names)


def _application_mode_summary(
    settings: Settings, policies: dict[str, RolePolicy], names: dict[str, str]
) -> str:
    """Which roles' activation rules application mode skips (MFA, authentication context),
    and for each whether pimbot.yml waives them or pimbot refuses the role."""
    from bot.domain.policy import waived_rules
    from bot.domain.roles import RoleCatalog

    config = settings.policy()
    catalog = RoleCatalog(config)
    waived_roles = {
        catalog.resolve(cfg.role).id
        for cfg in config.roles.values()
        if cfg.application_mode == "allow_without_mfa"
    }
    every = config.graph.application_mode == "allow_without_mfa"
    waived: list[str] = []
    refused: list[str] = []
    for role_id, policy in sorted(policies.items(), key=lambda kv: names.get(kv[0], kv[0])):
        skipped = waived_rules(policy)
        if skipped:
            entry = f"{names.get(role_id, role_id)} ({', '.join(skipped)})"
            (waived if every or role_id in waived_roles else refused).append(entry)
    parts = []
    if waived:
        parts.append(
            "application mode activates WITHOUT what their policy asks: " + "; ".join(waived)
        )
    if refused:
        parts.append(
            "refused in application mode (their policy asks for MFA): " + "; ".join(refused)
        )
    return "".join(f". {p}" for p in parts)


async def _entra_sign_in(settings: Settings) -> str:
    """User mode holds no app credential to try: check instead that Entra's sign-in
    service answers for the tenant and offers the device code flow (`/pim login`)."""
    import httpx

    from bot.graph.tls import trust

    host = settings.azure_authority_host.rstrip("/")
    tenant = settings.azure_tenant_id
    url = f"{host}/{tenant}/v2.0/.well-known/openid-configuration"
    try:
        async with httpx.AsyncClient(verify=trust(settings.pim_ca_file), timeout=10) as http:
            response = await http.get(url)
    except httpx.HTTPError as exc:
        reason = str(exc) or type(exc).__name__
        fix = "check AZURE_AUTHORITY_HOST and the network"
        if "CERTIFICATE" in reason.upper():
            fix = "check AZURE_AUTHORITY_HOST, or PIM_CA_FILE for a private CA"
        raise PimError(f"cannot reach Entra sign-in at {host} ({reason}): {fix}") from None
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise PimError(
            f"{url} answered HTTP {response.status_code} without OpenID metadata: "
            "check AZURE_AUTHORITY_HOST"
        )
    if response.status_code == 400 or body.get("error") == "invalid_tenant":
        raise PimError(
            f"Entra does not know the tenant {tenant!r} at {host} "
            f"({body.get('error', response.status_code)}): check AZURE_TENANT_ID"
        )
    if response.status_code != 200:
        raise PimError(f"{url} answered HTTP {response.status_code}: check AZURE_AUTHORITY_HOST")
    if not body.get("device_authorization_endpoint"):
        raise PimError(
            f"Entra sign-in for tenant {tenant} offers no device code endpoint: check "
            "AZURE_AUTHORITY_HOST points at Microsoft Entra (e.g. https://login.microsoftonline.com)"
        )
    line = (
        f"Entra sign-in for tenant {tenant} answers at {host} (users sign in with /pim login; "
        "the bot holds no application credential)"
    )
    if settings.azure_client_secret or settings.azure_client_certificate_path:
        line += (
            "; AZURE_CLIENT_SECRET/AZURE_CLIENT_CERTIFICATE_PATH is set but not used in this mode"
        )
    return line


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
