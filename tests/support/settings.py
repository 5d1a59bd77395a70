"""The one way tests build the bot's Settings, and the pimbot.yml beside them.

    settings = make_settings(tmp_path, sandbox=server)                 # application mode
    settings = make_settings(tmp_path, sandbox=server, identity="user")  # + a token key
    settings = make_settings(tmp_path, sandbox=server, slack_api_url=slack.api_url,
                             policy={**repo_policy(), "approval_timeout": "1h"})
    env = process_env(settings, CRASH_LOG=...)                          # for a subprocess

Settings never read a `.env` file here (`_env_file=None`); a process started with
`process_env` sees only the fields the test set, not the developer's SLACK_/AZURE_/PIM_.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import yaml
from cryptography.fernet import Fernet
from pydantic import SecretStr

from bot.settings import Settings
from bot.simulators.sandbox import (
    SANDBOX_CLIENT_ID,
    SANDBOX_CLIENT_SECRET,
    SANDBOX_TENANT_ID,
    SandboxServer,
)

ROOT = Path(__file__).resolve().parents[2]
PIMBOT_YML = ROOT / "pimbot.yml"  # the repository's policy file
SIGNING_SECRET = "test-signing-secret-0123456789abcdef"
BOT_TOKEN = "xoxb-test-token"
OURS = ("SLACK_", "AZURE_", "PIM_")  # the variables Settings reads

Identity = Literal["application", "user"]
Policy = Path | Mapping[str, Any] | str | None


def repo_policy() -> dict[str, Any]:
    """The repository's pimbot.yml as a dict, for a test to change and pass as `policy`."""
    loaded: dict[str, Any] = yaml.safe_load(PIMBOT_YML.read_text())
    return loaded


def policy_file(
    directory: Path, policy: Policy = None, *, identity: Identity | None = None
) -> Path:
    """Write `directory`/pimbot.yml: the repository's file (None), a dict, YAML text, or a
    copy of a file; `identity` sets `graph.identity` in it."""
    if policy is None:
        data: Any = repo_policy()
    elif isinstance(policy, Path):
        data = yaml.safe_load(policy.read_text()) if policy.exists() else {}
    elif isinstance(policy, str):
        data = yaml.safe_load(policy) or {}
    else:
        data = dict(policy)
    if identity is not None:
        data["graph"] = {**data.get("graph", {}), "identity": identity}
    path = directory / "pimbot.yml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def make_settings(
    tmp: Path | None = None,
    *,
    sandbox: SandboxServer | None = None,
    slack_api_url: str | None = None,
    policy: Policy = None,
    identity: Identity | None = None,
    **fields: Any,
) -> Settings:
    """Settings for a test.

    - `tmp`: where the SQLite database (`tmp`/pimbot.db) and a written pimbot.yml go;
    - `sandbox`: Graph, login host and CA of a running sandbox tenant, with the sandbox's
      client secret in application mode;
    - `slack_api_url`: the fake Slack's Web API, with a bot token and a signing secret;
    - `policy`: a pimbot.yml path used as it is, or a dict / YAML text written to `tmp`;
      None: the repository's pimbot.yml. `identity` writes `graph.identity` into it;
    - `fields`: any Settings field, last word (`pim_token_key=None` means no key).

    In user mode (`graph.identity: user`) there is no client secret and a fresh Fernet
    key seals the users' tokens.
    """
    config = _config_path(tmp, policy, identity)
    user_mode = _identity_of(config) == "user"
    # /readyz answers afresh: tests break a dependency and read /readyz right after
    # (the cache has tests of its own, tests/unit/test_ready_cache.py).
    values: dict[str, Any] = {"pim_config": config, "pim_ready_cache_seconds": 0.0}
    if tmp is not None:
        values["pim_database_url"] = f"sqlite:///{tmp / 'pimbot.db'}"
    if sandbox is not None:
        values.update(
            azure_tenant_id=SANDBOX_TENANT_ID,
            azure_client_id=SANDBOX_CLIENT_ID,
            azure_authority_host=sandbox.url,
            pim_graph_url=sandbox.url,
            pim_ca_file=sandbox.ca_file,
        )
        if not user_mode:
            values["azure_client_secret"] = SANDBOX_CLIENT_SECRET
    if user_mode:
        values["pim_token_key"] = Fernet.generate_key().decode()
    if slack_api_url is not None:
        values.update(
            slack_api_url=slack_api_url,
            slack_bot_token=BOT_TOKEN,
            slack_signing_secret=SIGNING_SECRET,
        )
    values.update(fields)
    return Settings(_env_file=None, **values)


def process_env(settings: Settings, **extra: str) -> dict[str, str]:
    """The environment for a bot subprocess (`pimbot run`, a crash worker): this process's
    environment without any SLACK_/AZURE_/PIM_ variable, then the fields `settings` were
    given, then `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(OURS)}
    env["PYTHONPATH"] = str(ROOT)
    for name in sorted(settings.model_fields_set):
        value = getattr(settings, name)
        if value is None:
            continue
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        env[name.upper()] = str(value)
    env.update(extra)
    return env


def _config_path(tmp: Path | None, policy: Policy, identity: Identity | None) -> Path:
    if isinstance(policy, Path) and identity is None:
        return policy
    if policy is None and identity is None:
        return PIMBOT_YML
    if tmp is None:
        raise ValueError("make_settings: writing a pimbot.yml needs a tmp directory")
    return policy_file(tmp, policy, identity=identity)


def _identity_of(config: Path) -> str:
    """`graph.identity` as the file says (application when absent or unreadable)."""
    try:
        data = yaml.safe_load(config.read_text()) if config.exists() else {}
        return str(data.get("graph", {}).get("identity", "application"))
    except (yaml.YAMLError, AttributeError):
        return "application"
