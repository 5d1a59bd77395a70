"""The container files, checked without a Docker engine: the compose file parses and wires
PostgreSQL; the Dockerfile copies what exists, installs the postgres extra, runs as a
non-root user and health-checks /healthz."""

from __future__ import annotations

import re

import yaml

from tests.support.settings import ROOT


def _instructions() -> list[tuple[str, str]]:
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    lines = [line.strip() for line in text.splitlines()]
    return [
        (line.split(None, 1)[0].upper(), line.split(None, 1)[1])
        for line in lines
        if line and not line.startswith("#")
    ]


def test_the_compose_file_runs_the_bot_on_postgresql() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    bot, db = compose["services"]["pimbot"], compose["services"]["db"]
    assert bot["build"] == "."
    assert bot["environment"]["PIM_DATABASE_URL"].startswith("postgresql+psycopg://pimbot:")
    assert bot["environment"]["PIM_DATABASE_URL"].endswith("@db:5432/pimbot")
    assert bot["depends_on"]["db"]["condition"] == "service_healthy"
    assert db["image"].startswith("postgres:")
    assert "pg_isready" in " ".join(db["healthcheck"]["test"])
    assert "pimbot-db" in compose["volumes"]


def test_the_dockerfile_builds_a_non_root_image_that_runs_pimbot() -> None:
    steps = _instructions()
    kinds = [kind for kind, _ in steps]
    assert steps[0] == ("FROM", "python:3.11-slim")
    assert ("RUN", 'pip install ".[postgres]"') in steps
    user = kinds.index("USER")
    assert steps[user][1] not in ("root", "0")
    assert user < kinds.index("CMD")
    assert steps[-1] == ("CMD", '["pimbot", "run"]')
    health = dict(steps)["HEALTHCHECK"]
    assert "/healthz" in health and "SLACK_APP_TOKEN" in health


def test_every_copied_path_exists_and_is_not_docker_ignored() -> None:
    ignored = {
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    for kind, args in _instructions():
        if kind != "COPY":
            continue
        *sources, _dest = args.split()
        for source in sources:
            assert (ROOT / source).exists(), source
            assert source not in ignored, source


def test_the_health_check_command_is_valid_python() -> None:
    health = dict(_instructions())["HEALTHCHECK"]
    command = re.search(r'"-c", "(.*)"\]', health)
    assert command is not None
    compile(command.group(1), "HEALTHCHECK", "exec")
