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
