"""pimbot.yml's `access:` section: guests are refused unless it says `guests: allow`."""

from pathlib import Path

import pytest

from bot.errors import ConfigError
from bot.settings import load_policy_file


def _load(tmp_path: Path, text: str) -> str:
    path = tmp_path / "pimbot.yml"
    path.write_text(text)
    return load_policy_file(path).access.guests


def test_guests_are_refused_by_default(tmp_path: Path) -> None:
    assert _load(tmp_path, "ticket:\n  system: CONTOSO\n") == "refuse"


def test_guests_may_be_allowed(tmp_path: Path) -> None:
    assert _load(tmp_path, "access:\n  guests: allow\n") == "allow"


def test_anything_else_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        _load(tmp_path, "access:\n  guests: yes please\n")
    assert err.value.user_message.startswith("pimbot.yml: access.guests: ")


def test_the_readme_reference_documents_it(tmp_path: Path) -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    section = readme.split("## `pimbot.yml` reference", 1)[1]
    example = section.split("```yaml\n", 1)[1].split("```", 1)[0]

    assert _load(tmp_path, example) == "refuse"
    assert "access:\n  guests: refuse " in example
    assert "`access: guests: allow`" in readme.split("### Who may use the bot", 1)[1]
