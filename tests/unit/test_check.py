"""`pimbot check`: one line per check; a broken setting is named in its line. Slack is
the local workspace's Web API and Graph the sandbox tenant, both over real HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet

from bot.cli.check import run_checks
from bot.clock import SystemClock
from bot.simulators.sandbox import (
    SANDBOX_CLIENT_ID,
    SANDBOX_CLIENT_SECRET,
    SANDBOX_TENANT_ID,
    FaultRule,
    Faults,
    SandboxServer,
    SandboxTenant,
    create_app,
)
from bot.simulators.workspace import WORKSPACE_BOT_TOKEN, create_workspace_app
from tests.support.live import LiveServer
from tests.support.settings import ROOT, make_settings, policy_file

FAULTS = Faults()


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxServer]:
    tenant = SandboxTenant.from_seed(SystemClock())
    with SandboxServer(create_app(tenant, faults=FAULTS), tls=True) as server:
        yield server


@pytest.fixture(scope="module")
def slack_api() -> Iterator[str]:
    server = LiveServer()
    app = create_workspace_app(
        bot_events_url="http://127.0.0.1:9/slack/events",  # never called by a check
        signing_secret="check-signing-secret",
        bot_token=WORKSPACE_BOT_TOKEN,
    )
    server.start(app)
    try:
        yield f"{server.url}/api/"
    finally:
        server.stop()


@pytest.fixture
def good(sandbox: SandboxServer, slack_api: str, tmp_path: Path) -> dict[str, Any]:
    """A working setup: the workspace's Slack API and the sandbox tenant as Entra."""
    return {
        "slack_bot_token": WORKSPACE_BOT_TOKEN,
        "slack_signing_secret": "check-signing-secret",
        "slack_api_url": slack_api,
        "azure_tenant_id": SANDBOX_TENANT_ID,
        "azure_client_id": SANDBOX_CLIENT_ID,
        "azure_client_secret": SANDBOX_CLIENT_SECRET,
        "azure_authority_host": sandbox.url,
        "pim_graph_url": sandbox.url,
        "pim_ca_file": sandbox.ca_file,
        "pim_database_url": f"sqlite:///{tmp_path / 'pimbot.db'}",
        "pim_config": ROOT / "pimbot.yml",
    }


async def _check(**values: Any) -> tuple[int, dict[str, str]]:
    lines: list[str] = []
    status = await run_checks(make_settings(**values), out=lines.append)
    by_name = {line[5:].split(":", 1)[0]: line for line in lines}  # "FAIL name: detail"
    assert len(by_name) == len(lines) == 4, lines  # one line per check
    return status, by_name


async def test_a_good_setup_passes_every_check(good: dict[str, Any]) -> None:
    status, lines = await _check(**good)
    assert status == 0, lines
    assert all(line.startswith("ok   ") for line in lines.values()), lines
    assert "authenticated as" in lines["slack"]
    assert "role definitions" in lines["graph"]


async def test_graph_lists_the_roles_whose_mfa_application_mode_waives_or_refuses(
    good: dict[str, Any], tmp_path: Path
) -> None:
    """Privileged Role Administrator's policy asks for authentication context c1, which
    adminAssign skips: refused unless pimbot.yml waives it, and the graph line says which."""
    _, lines = await _check(**good)
    assert "refused in application mode (their policy asks for MFA): " in lines["graph"]
    assert "Exchange Administrator (multi-factor authentication on activation)" in lines["graph"]
    assert (
        "Privileged Role Administrator (Conditional Access authentication context `c1`)"
        in (lines["graph"])
    )

    waiver = tmp_path / "waived.yml"
    waiver.write_text(
        "roles:\n  pra:\n    role: Privileged Role Administrator\n"
        "    application_mode: allow_without_mfa\n"
    )
    _, lines = await _check(**good | {"pim_config": waiver})
    waived, _, refused = lines["graph"].partition(". refused in application mode")
    assert "application mode activates WITHOUT what their policy asks: Privileged Role" in waived
    assert "Privileged Role" not in refused and "Exchange Administrator" in refused


async def test_a_bad_field_in_pimbot_yml_is_named(good: dict[str, Any], tmp_path: Path) -> None:
    bad = tmp_path / "pimbot.yml"
    bad.write_text("roles:\n  user-admin:\n    role: User Administrator\n    max_duration: 9x\n")
    status, lines = await _check(**good | {"pim_config": bad})
    assert status == 1
    assert lines["config"] == (
        "FAIL config: pimbot.yml: roles.user-admin.max_duration: '9x' is not a duration"
    )
    assert [name for name, line in lines.items() if line.startswith("FAIL")] == ["config"]
    assert lines["graph"].startswith("skip graph: not checked until the config loads")


async def test_an_unknown_setting_in_pimbot_yml_is_named(
    good: dict[str, Any], tmp_path: Path
) -> None:
    bad = tmp_path / "pimbot.yml"
    bad.write_text("channels:\n  approval: C123\n")
    _, lines = await _check(**good | {"pim_config": bad})
    assert lines["config"] == "FAIL config: pimbot.yml: channels.approval is not a known setting"


async def test_a_wrong_slack_bot_token_fails_slack_with_invalid_auth(
    good: dict[str, Any],
) -> None:
    status, lines = await _check(**good | {"slack_bot_token": "xoxb-not-the-token"})
    assert status == 1
    assert lines["slack"].startswith("FAIL slack: auth.test failed (invalid_auth)")
    assert "SLACK_BOT_TOKEN" in lines["slack"]
    assert lines["graph"].startswith("ok   graph")


@pytest.mark.slow
async def test_http_mode_without_a_signing_secret_is_named(good: dict[str, Any]) -> None:
    _, lines = await _check(**good | {"slack_signing_secret": None})
    assert lines["slack"].startswith("FAIL slack:")
    assert "SLACK_SIGNING_SECRET" in lines["slack"]


@pytest.mark.slow
async def test_a_wrong_client_secret_fails_graph_naming_azure_client_secret(
    good: dict[str, Any],
) -> None:
    status, lines = await _check(**good | {"azure_client_secret": "not-the-secret"})
    assert status == 1
    assert lines["graph"].startswith("FAIL graph:")
    assert "AZURE_CLIENT_SECRET" in lines["graph"]
    assert lines["slack"].startswith("ok   slack")


async def test_an_unreachable_graph_fails_graph_naming_the_host(good: dict[str, Any]) -> None:
    gone = "https://127.0.0.1:9"
    status, lines = await _check(**good | {"azure_authority_host": gone, "pim_graph_url": gone})
    assert status == 1
    assert lines["graph"].startswith("FAIL graph:")
    assert "127.0.0.1:9" in lines["graph"]


async def test_a_missing_credential_is_named(good: dict[str, Any]) -> None:
    _, lines = await _check(**good | {"azure_client_secret": None})
    assert "AZURE_CLIENT_SECRET" in lines["graph"] and lines["graph"].startswith("FAIL")


async def test_an_unusable_database_url_fails_database(good: dict[str, Any]) -> None:
    _, lines = await _check(**good | {"pim_database_url": "sqlite:////nonexistent/dir/x.db"})
    assert lines["database"].startswith("FAIL database:")


@pytest.mark.slow
async def test_the_readme_reference_example_passes_the_config_check(
    good: dict[str, Any], tmp_path: Path
) -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## `pimbot.yml` reference", 1)[1]
    example = section.split("```yaml\n", 1)[1].split("```", 1)[0]
    config = tmp_path / "pimbot.yml"
    config.write_text(example)
    _, lines = await _check(**good | {"pim_config": config})
    assert lines["config"].startswith("ok   config:"), lines["config"]
    every_field = ["url_template", "min_length", "lead_times", "identity", "approval_timeout"]
    every_field += ["default_max_duration", "users:", "slack_usergroups", "entra_groups"]
    assert [f for f in every_field if f not in example] == []


@pytest.mark.slow
async def test_a_graph_403_names_the_missing_permission(good: dict[str, Any]) -> None:
    path = "/v1.0/roleManagement/directory/roleDefinitions"
    FAULTS.add(FaultRule("status", times=1, path=path, status=403))
    status, lines = await _check(**good)
    assert status == 1
    assert lines["graph"].startswith("FAIL graph:")
    assert "RoleManagement.Read.Directory" in lines["graph"]
    assert "admin consent" in lines["graph"] and "Registering the Entra app" in lines["graph"]


# Signed-in-user mode (graph.identity: user): no app credential, PIM_TOKEN_KEY required.

TOKEN_KEY = Fernet.generate_key().decode()


@pytest.fixture
def user_mode(good: dict[str, Any], tmp_path: Path) -> dict[str, Any]:
    """The good setup in user mode: a public client, so no client secret; a token key."""
    config = policy_file(tmp_path, identity="user")
    values = good | {"pim_config": config, "pim_token_key": TOKEN_KEY}
    del values["azure_client_secret"]
    return values


async def test_user_mode_checks_entra_sign_in_instead_of_an_app_token(
    user_mode: dict[str, Any],
) -> None:
    FAULTS.clear_log()
    status, lines = await _check(**user_mode)
    assert status == 0, lines
    assert lines["config"].startswith("ok   config:") and "PIM_TOKEN_KEY" in lines["config"]
    assert lines["graph"] == (
        f"ok   graph: Entra sign-in for tenant {SANDBOX_TENANT_ID} answers at "
        f"{user_mode['azure_authority_host']} (users sign in with /pim login; the bot "
        "holds no application credential)"
    )
    discovery = f"/{SANDBOX_TENANT_ID}/v2.0/.well-known/openid-configuration"
    assert FAULTS.count("GET", discovery) == 1
    assert FAULTS.count("POST", f"/{SANDBOX_TENANT_ID}/oauth2/v2.0/token") == 0  # no app token
    assert FAULTS.count(path="/v1.0/") == 0


async def test_user_mode_without_pim_token_key_names_it(user_mode: dict[str, Any]) -> None:
    status, lines = await _check(**user_mode | {"pim_token_key": None})
    assert status == 1
    assert lines["config"].startswith("FAIL config:")
    assert "PIM_TOKEN_KEY" in lines["config"] and "Fernet.generate_key()" in lines["config"]
    assert lines["graph"].startswith("ok   graph:")


async def test_user_mode_with_a_malformed_pim_token_key_names_it(
    user_mode: dict[str, Any],
) -> None:
    status, lines = await _check(**user_mode | {"pim_token_key": "not-a-fernet-key"})
    assert status == 1
    assert lines["config"] == (
        "FAIL config: PIM_TOKEN_KEY must be a urlsafe-base64 32-byte key. Generate one "
        'with: python -c "from cryptography.fernet import Fernet; '
        'print(Fernet.generate_key().decode())"'
    )
    assert "not-a-fernet-key" not in "".join(lines.values())  # the key is never echoed


async def test_user_mode_with_only_one_app_id_names_the_other(
    user_mode: dict[str, Any],
) -> None:
    _, lines = await _check(**user_mode | {"azure_client_id": None})
    assert lines["config"].startswith("FAIL config:") and "AZURE_CLIENT_ID" in lines["config"]


async def test_user_mode_on_the_sandbox_tenant_only_needs_the_key(
    user_mode: dict[str, Any],
) -> None:
    values = user_mode | {"azure_tenant_id": None, "azure_client_id": None, "pim_sandbox": True}
    status, lines = await _check(**values)
    assert status == 0, lines
    assert "embedded sandbox tenant" in lines["graph"]
    _, lines = await _check(**values | {"pim_token_key": None})
    assert lines["config"].startswith("FAIL config:") and "PIM_TOKEN_KEY" in lines["config"]


async def test_slack_with_no_entra_tenant_fails_the_graph_line_unless_pim_sandbox(
    good: dict[str, Any],
) -> None:
    """As `pimbot run` refuses to start, so `pimbot check` fails, naming both ways out."""
    values = good | {"azure_tenant_id": None, "azure_client_id": None}
    status, lines = await _check(**values)
    assert status == 1
    assert lines["graph"].startswith("FAIL graph: Slack credentials are set but")
    assert "AZURE_TENANT_ID" in lines["graph"] and "PIM_SANDBOX=1" in lines["graph"]
    status, lines = await _check(**values | {"pim_sandbox": True})
    assert lines["graph"].startswith("ok   graph:") and "sandbox tenant" in lines["graph"]


async def test_user_mode_with_an_unreachable_authority_names_the_host(
    user_mode: dict[str, Any],
) -> None:
    status, lines = await _check(**user_mode | {"azure_authority_host": "https://127.0.0.1:9"})
    assert status == 1
    assert lines["graph"].startswith("FAIL graph: cannot reach Entra sign-in at")
    assert "127.0.0.1:9" in lines["graph"] and "AZURE_AUTHORITY_HOST" in lines["graph"]


async def test_user_mode_without_the_sandbox_ca_says_to_trust_it(
    user_mode: dict[str, Any],
) -> None:
    _, lines = await _check(**user_mode | {"pim_ca_file": None})
    assert lines["graph"].startswith("FAIL graph: cannot reach Entra sign-in at")
    assert "PIM_CA_FILE" in lines["graph"]


async def test_user_mode_with_an_unknown_tenant_names_azure_tenant_id(
    user_mode: dict[str, Any],
) -> None:
    other = "00000000-0000-4000-8000-000000000000"
    _, lines = await _check(**user_mode | {"azure_tenant_id": other})
    assert lines["graph"].startswith("FAIL graph:")
    assert other in lines["graph"] and "AZURE_TENANT_ID" in lines["graph"]


@pytest.mark.slow
async def test_user_mode_notes_a_leftover_client_secret(user_mode: dict[str, Any]) -> None:
    status, lines = await _check(**user_mode | {"azure_client_secret": SANDBOX_CLIENT_SECRET})
    assert status == 0
    assert lines["graph"].endswith("is set but not used in this mode")
