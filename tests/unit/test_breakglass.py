"""Break-glass in the domain: `/pim breakglass` parsing, the rolling daily limit, the
pimbot.yml settings, and the alert's builders."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.domain.breakglass import BreakGlassRecord, GlassState, uses_left
from bot.domain.commands import BreakGlass, UsageError, parse_command
from bot.domain.models import ApproverKind, ApproverRef, RolePolicy
from bot.domain.people import slack
from bot.domain.targets import Role, Scope, Target, TargetKind
from bot.errors import ConfigError
from bot.service.outcomes import EligibleRole
from bot.settings import (
    BreakGlassConfig,
    JustificationConfig,
    RoleConfig,
    TicketConfig,
    load_policy_file,
)
from handlers.blocks import modal
from handlers.blocks.breakglass import approver_mentions, status_line
from handlers.blocks.help import help_text
from tests.support.cast import TICKET

PATTERN = re.compile(TicketConfig().pattern)
NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
H = timedelta(hours=1)


def parse(text: str) -> object:
    return parse_command(text, ticket_pattern=PATTERN)


class TestParse:
    def test_role_duration_and_reason(self) -> None:
        assert parse("breakglass security-admin 1h attacker inside") == BreakGlass(
            "security-admin", H, None, "attacker inside"
        )

    def test_ticket_after_the_duration(self) -> None:
        assert parse(f"breakglass security-admin 1h {TICKET} attacker inside") == BreakGlass(
            "security-admin", H, TICKET, "attacker inside"
        )

    def test_quoted_role(self) -> None:
        parsed = parse('breakglass "Security Administrator" 30m lock the attacker out')
        assert parsed == BreakGlass(
            "Security Administrator", timedelta(minutes=30), None, "lock the attacker out"
        )

    @pytest.mark.parametrize(
        "text", ["breakglass", "breakglass security-admin", "breakglass security-admin 1h"]
    )
    def test_never_opens_a_form_it_asks_for_what_is_missing(self, text: str) -> None:
        with pytest.raises(UsageError) as caught:
            parse(text)
        assert caught.value.command == "breakglass"


class TestDailyLimit:
    def test_under_the_limit_the_next_is_now(self) -> None:
        assert uses_left([NOW - 2 * H], 2, NOW) == (1, None)

    def test_at_the_limit_the_next_is_a_day_after_the_oldest_that_counts(self) -> None:
        used = [NOW - 30 * H, NOW - 5 * H, NOW - 1 * H]
        assert uses_left(used, 2, NOW) == (2, NOW - 5 * H + timedelta(hours=24))

    def test_rolling_24_hours_not_the_calendar_day(self) -> None:
        assert uses_left([NOW - 24 * H, NOW - 25 * H], 1, NOW) == (0, None)


class TestSettings:
    def test_defaults(self) -> None:
        cfg = BreakGlassConfig()
        assert (cfg.ratify_within, cfg.ratifications_required, cfg.max_per_day) == (
            timedelta(minutes=30),
            1,
            2,
        )
        assert RoleConfig(role="Security Administrator").break_glass is None

    def test_the_repository_pimbot_yml_makes_security_admin_break_glass_able(self) -> None:
        roles = load_policy_file(Path("pimbot.yml")).roles
        glass = roles["security-admin"].break_glass
        assert glass is not None and glass.ratify_within == timedelta(minutes=30)
        assert roles["user-admin"].break_glass is None

    def test_a_wrong_value_names_its_field(self, tmp_path: Path) -> None:
        path = tmp_path / "pimbot.yml"
        path.write_text("roles:\n  a:\n    role: X\n    break_glass: {max_per_day: 0}\n")
        with pytest.raises(ConfigError, match=r"roles\.a\.break_glass\.max_per_day"):
            load_policy_file(path)


class TestBlocks:
    def test_slack_approvers_are_mentioned_entra_ones_named(self) -> None:
        refs = (
            ApproverRef(ApproverKind.SLACK_USER, "U_ADMIN"),
            ApproverRef(ApproverKind.SLACK_USERGROUP, "S_PIM"),
            ApproverRef(ApproverKind.ENTRA_USER, "id-1", "Megan <b>"),
        )
        assert approver_mentions(refs) == "<@U_ADMIN>, <!subteam^S_PIM>, Megan &lt;b&gt;"

    def test_a_revoke_inside_the_floor_says_when_it_ends(self) -> None:
        glass = BreakGlassRecord(
            "R-1",
            slack("U_ALINE"),
            NOW,
            NOW + 30 * timedelta(minutes=1),
            1,
            GlassState.REVOKED,
            settled_by=slack("U_ADMIN"),
            end_at=NOW + timedelta(minutes=5),
        )
        line = status_line(glass)
        assert line.startswith(":no_entry: Revoked by <@U_ADMIN>") and "first 5 minutes" in line


class TestHelpAndForm:
    def test_help_names_breakglass(self) -> None:
        assert "/pim breakglass" in help_text("breakglass") and "breakglass" in help_text()

    def test_the_form_offers_break_glass_only_when_a_role_allows_it(self) -> None:
        role = Role("r1", "Security Administrator", "security-admin")
        eligible = EligibleRole(
            Target(TargetKind.DIRECTORY_ROLE, role, Scope("/")),
            RolePolicy(max_duration=timedelta(hours=8)),
            (),
            None,
            None,
        )

        def ids(glass: bool) -> list[str]:
            view = modal.activation_modal(
                [eligible],
                modal.Prefill(),
                TicketConfig(),
                JustificationConfig(),
                break_glass=glass,
            )
            return [b.get("block_id", "") for b in view["blocks"]]

        assert "break_glass" in ids(True) and "break_glass" not in ids(False)
