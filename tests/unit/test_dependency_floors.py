"""The dependency floors. pyproject.toml's `>=` floors and constraints/minimum.txt (what
`make test-minimum` installs into .venv-min before running the fast tests) name the same
versions, so they cannot drift apart; and the APIs that floors were raised for are there in
whatever is installed (under `make test-minimum`, the floors themselves)."""

from __future__ import annotations

import inspect
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]
CONSTRAINTS = ROOT / "constraints" / "minimum.txt"
# Lint-only tools, and playwright (only the slow browser tests use it): they float.
FLOATING = {"ruff", "mypy", "types-pyyaml", "import-linter", "playwright"}


def declared() -> list[Requirement]:
    """Every requirement in [project].dependencies and each optional extra."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    lines = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        lines += extra
    return [Requirement(line) for line in lines]


def floor(requirement: Requirement) -> str:
    (lowest,) = [s.version for s in requirement.specifier if s.operator == ">="]
    return lowest


def pins() -> dict[str, str]:
    pinned: dict[str, str] = {}
    for raw in CONSTRAINTS.read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        name, sep, version = line.partition("==")
        assert sep and version.strip(), f"not a `package==version` pin: {raw!r}"
        key = canonicalize_name(name.strip())
        assert key not in pinned, f"{key} is pinned twice"
        pinned[key] = version.strip()
    return pinned


def test_every_direct_dependency_but_the_lint_tools_is_pinned_to_its_floor() -> None:
    pinned = pins()
    floors: dict[str, set[str]] = {}
    for requirement in declared():
        name = canonicalize_name(requirement.name)
        if name not in FLOATING:
            floors.setdefault(name, set()).add(floor(requirement))

    assert set(pinned) == set(floors), "constraints/minimum.txt and pyproject.toml differ"
    for name, versions in floors.items():
        assert len(versions) == 1, f"{name} has two floors in pyproject.toml: {versions}"
        (lowest,) = versions
        assert pinned[name] == lowest, f"{name}: pinned {pinned[name]}, floor {lowest}"


def test_the_floating_tools_are_still_declared() -> None:
    names = {canonicalize_name(r.name) for r in declared()}

    assert names >= FLOATING


def test_the_installed_versions_are_at_least_the_floors() -> None:
    from importlib.metadata import version

    for name, pinned in pins().items():
        assert Version(version(name)) >= Version(pinned), name


def test_msal_initiate_device_flow_takes_a_claims_challenge() -> None:
    """msal < 1.34 passes claims_challenge on to requests: step-up sign-in fails."""
    import msal

    parameters = inspect.signature(msal.PublicClientApplication.initiate_device_flow).parameters

    assert parameters["claims_challenge"].kind is inspect.Parameter.KEYWORD_ONLY


@pytest.mark.parametrize("secret", ["", "   "])
def test_slack_sdk_refuses_an_empty_signing_secret(secret: str) -> None:
    from slack_sdk.signature import SignatureVerifier

    with pytest.raises(ValueError, match="empty"):
        SignatureVerifier(secret)


def test_a_socket_mode_bolt_app_starts_without_a_signing_secret() -> None:
    """handlers.app.build_app passes "" in Socket Mode; slack-bolt < 1.29 builds the
    verifier at once, which the slack-sdk floor refuses."""
    from slack_bolt.async_app import AsyncApp
    from slack_sdk.web.async_client import AsyncWebClient

    app = AsyncApp(client=AsyncWebClient(token="xoxb-test"), signing_secret="")

    assert app.client.token == "xoxb-test"
