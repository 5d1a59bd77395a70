"""`pimbot audit`: the audit trail exported from the database, filtered, as JSONL or CSV."""

from __future__ import annotations

import csv
import io
import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.cli import main
from bot.cli.audit import COLUMNS, FIELDS
from bot.domain.audit import AuditEvent, AuditKind
from bot.domain.people import slack
from bot.store import SqlStore
from tests.support.cast import ALINE, GLOBAL_ADMIN

DAY1 = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def database(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    for name in list(os.environ):
        if name.startswith(("SLACK_", "AZURE_", "PIM_")):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)  # no .env from the repository
    url = f"sqlite:///{tmp_path / 'pimbot.db'}"
    monkeypatch.setenv("PIM_DATABASE_URL", url)
    store = SqlStore.from_url(url)
    for i, (kind, user) in enumerate(
        [
            (AuditKind.REQUESTED, "U_ALINE"),
            (AuditKind.APPROVED, "U_ADMIN"),
            (AuditKind.ACTIVATED, "U_ALINE"),
        ]
    ):
        at = DAY1 + timedelta(days=i)
        store.append_audit(
            AuditEvent(
                at=at,
                kind=kind,
                person=slack(user),
                subject=slack("U_ALINE"),
                start=at if kind is AuditKind.ACTIVATED else None,
                end=at + timedelta(hours=1) if kind is AuditKind.ACTIVATED else None,
                entra_user_id=ALINE.id,
                role_id=GLOBAL_ADMIN,
                role_name="Global Administrator",
                duration=timedelta(hours=1),
                ticket="CONTOSO:Security-012345",
                justification="need tenant-wide settings change",
                graph_request_id="g-1" if kind is AuditKind.ACTIVATED else None,
                request_id="R-1",
            )
        )
    store.close()
    return url


def test_exports_every_event_as_json_lines_with_all_facts(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["audit"]) == 0

    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["kind"] for r in rows] == ["requested", "approved", "activated"]
    last = rows[-1]
    assert last["actor"] == "slack:U_ALINE" and last["entra_user_id"].startswith("7146")
    assert rows[1]["actor"] == "slack:U_ADMIN" and rows[1]["subject"] == "slack:U_ALINE"
    assert last["start"] == (DAY1 + timedelta(days=2)).isoformat()
    assert last["end"] == (DAY1 + timedelta(days=2, hours=1)).isoformat()
    assert last["held"] is None  # still running: known once it ends
    assert last["role_name"] == "Global Administrator" and last["duration"] == 3600
    assert last["ticket"] == "CONTOSO:Security-012345" and last["graph_request_id"] == "g-1"
    assert last["justification"] == "need tenant-wide settings change"
    assert last["at"] == (DAY1 + timedelta(days=2)).isoformat()


def test_since_and_user_filter_the_export(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["audit", "--since", "2026-11-03", "--user", "U_ALINE"]) == 0

    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["kind"] for r in rows] == ["activated"]


def test_a_user_filter_finds_what_they_did_and_what_was_done_about_their_access(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["audit", "--user", "U_ALINE"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["kind"] for r in rows] == ["requested", "approved", "activated"]

    assert main(["audit", "--user", "U_ADMIN"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(r["kind"], r["actor"]) for r in rows] == [("approved", "slack:U_ADMIN")]


def test_every_exported_column_is_documented_in_help_and_readme(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit):
        main(["audit", "--help"])
    described = capsys.readouterr().out
    assert main(["audit", "--format", "csv"]) == 0
    header = capsys.readouterr().out.splitlines()[0].split(",")
    assert header == FIELDS
    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    for name, text in COLUMNS:
        assert f"  {name} " in described, name
        assert f"| `{name}` | {text} |" in readme, name  # the same words as --help


def test_csv_has_a_header_and_one_row_per_event(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["audit", "--format", "csv", "--user", "U_ADMIN"]) == 0

    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert (
        len(rows) == 1 and rows[0]["kind"] == "approved" and rows[0]["ticket"].startswith("CONTOSO")
    )


def test_a_bad_since_is_one_clean_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["audit", "--since", "last tuesday"]) == 2

    captured = capsys.readouterr()
    assert captured.out == ""
    err = captured.err.strip()
    assert (
        err.startswith("pimbot: --since 'last tuesday' is not a date")
        and len(err.splitlines()) == 1
    )
