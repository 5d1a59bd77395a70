"""`pimbot` entry point: a bad setting stops it with one line naming the setting."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.cli import main
from tests.support.settings import ROOT


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import os

    for name in list(os.environ):
        if name.startswith(("SLACK_", "AZURE_", "PIM_")):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)  # no .env from the repository
    monkeypatch.setenv("PIM_DATABASE_URL", f"sqlite:///{tmp_path / 'pimbot.db'}")


def test_a_bad_environment_variable_is_named(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PIM_PORT", "99999")
    assert main(["check"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("pimbot: environment: PIM_PORT:")
    assert len(err.splitlines()) == 1


def test_a_bad_policy_file_stops_start_up_naming_the_field(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "pimbot.yml"
    config.write_text("roles:\n  user-admin:\n    role: User Administrator\n    max_duration: 9x\n")
    monkeypatch.setenv("PIM_CONFIG", str(config))
    assert main(["run"]) == 2
    assert capsys.readouterr().err.strip() == (
        "pimbot: pimbot.yml: roles.user-admin.max_duration: '9x' is not a duration"
    )


def test_a_policy_file_pim_config_names_but_missing_stops_start_up(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Not all defaults in its stead: a mount gone wrong would drop every cap and approver."""
    missing = tmp_path / "etc" / "pimbot.yml"
    monkeypatch.setenv("PIM_CONFIG", str(missing))
    assert main(["run"]) == 2
    assert capsys.readouterr().err.strip() == f"pimbot: PIM_CONFIG: {missing} is not a file"


def test_a_policy_file_that_is_a_directory_stops_start_up_in_one_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """What Docker leaves where a bind mount's file is missing: a directory."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "pimbot.yml").mkdir()
    monkeypatch.delenv("PIM_CONFIG", raising=False)
    assert main(["run"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("pimbot: pimbot.yml: cannot be read (") and len(err.splitlines()) == 1


def test_without_pimbot_yml_in_the_working_directory_check_says_all_defaults(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("PIM_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)
    main(["check"])
    [config] = [line for line in capsys.readouterr().out.splitlines() if "config" in line]
    assert config.startswith("ok   config") and "no pimbot.yml here" in config, config


def test_user_mode_refuses_to_start_without_the_token_key(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "pimbot.yml"
    config.write_text("graph:\n  identity: user\n")
    monkeypatch.setenv("PIM_CONFIG", str(config))

    assert main(["run"]) == 2

    err = capsys.readouterr().err.strip()
    assert err.startswith("pimbot: ") and "PIM_TOKEN_KEY" in err
    assert len(err.splitlines()) == 1


def test_check_on_embedded_defaults_passes(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PIM_CONFIG", str(ROOT / "pimbot.yml"))
    assert main(["check"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in lines] == [
        "ok   config",
        "ok   slack",
        "ok   graph",
        "ok   database",
    ]


def test_an_unknown_command_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["frobnicate"])
    assert exit_info.value.code == 2
    assert "invalid choice" in capsys.readouterr().err
