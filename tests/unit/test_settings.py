from datetime import timedelta
from pathlib import Path

import pytest

from bot.errors import ConfigError
from bot.settings import PolicyFile, Settings, load_policy_file, load_settings


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "pimbot.yml"
    path.write_text(text, encoding="utf-8")
    return path


def test_missing_file_means_defaults(tmp_path: Path) -> None:
    assert load_policy_file(tmp_path / "absent.yml") == PolicyFile()


def test_reads_roles_durations_and_ticket_system(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
ticket: {system: CONTOSO, pattern: '^CONTOSO:[A-Za-z]+-\\d{6}$'}
channels: {approvals: C123, audit: C456}
reminders: {lead_times: [15m, 1h]}
roles:
  user-admin:
    role: User Administrator
    max_duration: 5h
    approval: required
    approvers: {slack_users: [U1], entra_groups: [g-1]}
""",
    )
    cfg = load_policy_file(path)
    role = cfg.roles["user-admin"]
    assert role.max_duration == timedelta(hours=5)
    assert role.approval == "required"
    assert role.approvers.slack_users == ["U1"]
    assert cfg.reminders.lead_times == [timedelta(minutes=15), timedelta(hours=1)]
    assert cfg.channels.audit == "C456"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "roles:\n  user-admin:\n    role: User Administrator\n    max_duration: 9x\n",
            "pimbot.yml: roles.user-admin.max_duration: '9x' is not a duration",
        ),
        (
            "roles:\n  user-admin:\n    role: User Administrator\n    colour: red\n",
            "pimbot.yml: roles.user-admin.colour is not a known setting",
        ),
        (
            "roles:\n  user-admin:\n    max_duration: 1h\n",
            "pimbot.yml: roles.user-admin.role is required",
        ),
        (
            "ticket:\n  pattern: '(['\n",
            "pimbot.yml: ticket.pattern: '([' is not a regular expression",
        ),
        ("roles: [1, 2\n", "pimbot.yml: not valid YAML"),
        ("- just\n- a list\n", "pimbot.yml: the top level must be a mapping"),
        (
            "approval_timeout: forever\n",
            "pimbot.yml: approval_timeout: 'forever' is not a duration",
        ),
    ],
)
def test_a_bad_file_fails_with_one_line_naming_the_field(
    tmp_path: Path, text: str, message: str
) -> None:
    with pytest.raises(ConfigError) as err:
        load_policy_file(write(tmp_path, text))
    assert err.value.user_message.startswith(message)
    assert "\n" not in err.value.user_message


def test_environment_contract_names_and_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("SLACK_BOT_TOKEN", "AZURE_TENANT_ID", "AZURE_CLIENT_ID", "PIM_PORT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SLACK_SIGNING_SECRET", "s3cret")
    monkeypatch.setenv("PIM_DATABASE_URL", "sqlite:///x.db")
    settings = Settings(_env_file=None)
    assert settings.slack_signing_secret is not None
    assert settings.slack_signing_secret.get_secret_value() == "s3cret"
    assert "s3cret" not in repr(settings)
    assert settings.pim_database_url == "sqlite:///x.db"
    assert settings.slack_api_url == "https://slack.com/api/"
    assert settings.pim_graph_url == "https://graph.microsoft.com"
    assert settings.pim_port == 3000
    assert settings.uses_sandbox and not settings.has_slack


def test_bad_environment_value_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PIM_PORT", "not-a-port")
    with pytest.raises(ConfigError) as err:
        load_settings(_env_file=None)
    assert err.value.user_message.startswith("environment: PIM_PORT:")
