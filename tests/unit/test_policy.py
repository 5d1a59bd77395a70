"""Effective policy (stricter of Graph and pimbot.yml) and the checks a request must pass."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.domain.models import ApproverKind, ApproverRef, RolePolicy
from bot.domain.policy import (
    CONFIG_APPROVAL,
    GRAPH_APPROVAL,
    check_request,
    effective_policy,
)
from bot.domain.validation import check_justification, check_ticket
from bot.errors import InputError, PolicyViolation
from bot.settings import ApproversConfig, JustificationConfig, PolicyFile, RoleConfig, TicketConfig

H = timedelta(hours=1)
TICKETS = TicketConfig()
WHY = JustificationConfig()
TICKET = "CONTOSO:Security-012345"
REASON = "invalidate refresh tokens for Sara"


def graph(**kw: object) -> RolePolicy:
    return RolePolicy(**{"max_duration": 8 * H, "justification_required": False, **kw})  # type: ignore[arg-type]


class TestEffectivePolicy:
    def test_no_config_uses_the_file_default_maximum(self) -> None:
        file = PolicyFile(default_max_duration=4 * H)
        assert effective_policy(graph(), None, file).policy.max_duration == 4 * H

    @pytest.mark.parametrize(
        ("graph_max", "config_max", "expected"),
        [(8 * H, 4 * H, 4 * H), (2 * H, 4 * H, 2 * H), (8 * H, None, 8 * H)],
    )
    def test_maximum_is_the_smaller_of_graph_and_config(
        self, graph_max: timedelta, config_max: timedelta | None, expected: timedelta
    ) -> None:
        config = RoleConfig(role="User Administrator", max_duration=config_max)
        got = effective_policy(graph(max_duration=graph_max), config, PolicyFile())
        assert got.policy.max_duration == expected

    def test_ticket_is_required_if_either_side_requires_it(self) -> None:
        required = RoleConfig(role="x", ticket="required")
        assert effective_policy(graph(), required, PolicyFile()).policy.ticket_required
        assert effective_policy(
            graph(ticket_required=True), None, PolicyFile()
        ).policy.ticket_required
        assert not effective_policy(
            graph(), RoleConfig(role="x"), PolicyFile()
        ).policy.ticket_required

    def test_justification_is_required_when_the_file_sets_a_minimum(self) -> None:
        lax = PolicyFile(justification=JustificationConfig(min_length=0))
        assert not effective_policy(graph(), None, lax).policy.justification_required
        assert effective_policy(graph(), None, PolicyFile()).policy.justification_required
        strict_graph = graph(justification_required=True)
        assert effective_policy(strict_graph, None, lax).policy.justification_required

    @pytest.mark.parametrize(
        ("graph_says", "config_says", "reasons"),
        [
            (False, "graph", ()),
            (True, "graph", (GRAPH_APPROVAL,)),
            (False, "required", (CONFIG_APPROVAL,)),
            (True, "required", (GRAPH_APPROVAL, CONFIG_APPROVAL)),
        ],
    )
    def test_approval_is_required_if_either_side_says_and_says_why(
        self, graph_says: bool, config_says: str, reasons: tuple[str, ...]
    ) -> None:
        config = RoleConfig(role="x", approval=config_says)
        got = effective_policy(graph(approval_required=graph_says), config, PolicyFile())
        assert got.policy.approval_required is bool(reasons)
        assert got.approval_reasons == reasons

    def test_approvers_are_the_union_of_graph_and_config_without_duplicates(self) -> None:
        entra = ApproverRef(ApproverKind.ENTRA_USER, "u-1", "MOD Administrator")
        config = RoleConfig(
            role="x",
            approvers=ApproversConfig(
                slack_users=["U1"],
                slack_usergroups=["S1"],
                entra_users=["u-1"],
                entra_groups=["g-1"],
            ),
        )
        got = effective_policy(graph(approvers=(entra,)), config, PolicyFile()).policy.approvers
        assert got == (
            entra,
            ApproverRef(ApproverKind.SLACK_USER, "U1"),
            ApproverRef(ApproverKind.SLACK_USERGROUP, "S1"),
            ApproverRef(ApproverKind.ENTRA_GROUP, "g-1"),
        )


def check(
    policy: RolePolicy | None = None,
    *,
    duration: timedelta = H,
    ticket: str | None = TICKET,
    justification: str = REASON,
) -> None:
    check_request(
        policy or graph(justification_required=True),
        role_name="User Administrator",
        duration=duration,
        ticket=ticket,
        justification=justification,
        ticket_cfg=TICKETS,
        justification_cfg=WHY,
    )


class TestCheckRequest:
    def test_a_request_within_the_rules_passes(self) -> None:
        check()
        check(ticket=None)

    def test_duration_over_the_maximum_names_role_limit_and_ask(self) -> None:
        with pytest.raises(PolicyViolation) as err:
            check(duration=10 * H)
        assert err.value.user_message == (
            "User Administrator can be active for at most 8 hours; you asked for 10 hours."
        )

    @pytest.mark.parametrize(
        ("kw", "says"),
        [
            ({"ticket": None}, "needs a CONTOSO ticket number, like `CONTOSO:Security-012345`"),
            ({"ticket": "  "}, "needs a CONTOSO ticket number"),
            ({"ticket": "INC-1"}, "`INC-1` is not a CONTOSO ticket number"),
            (
                {"ticket": "CONTOSO:Security-012345 extra"},
                "should look like `CONTOSO:Security-012345`",
            ),
            ({"ticket": "C" * 101}, "at most 100 characters"),
            ({"justification": ""}, "A justification is required"),
            ({"justification": "fix"}, "too short (3 characters): write at least 10"),
            ({"justification": "x" * 2000}, "too long (2000 characters): keep it to 500"),
            ({"justification": "?!?!?!?!?!?!"}, "not only punctuation"),
            ({"justification": "reset\x00tokens for sara"}, "control characters"),
            ({"justification": "reset tokens \u202efor sara"}, "control characters"),
            ({"justification": "please approve <!channel> now"}, "can't mention people"),
            ({"justification": "ask <@U123ABC> about it"}, "can't mention people"),
            ({"justification": "tell <!subteam^S1> please"}, "can't mention people"),
        ],
    )
    def test_first_problem_is_refused_with_a_specific_message(
        self, kw: dict[str, str | None], says: str
    ) -> None:
        with pytest.raises(PolicyViolation) as err:
            check(graph(ticket_required=True, justification_required=True), **kw)  # type: ignore[arg-type]
        assert says in err.value.user_message

    def test_duration_is_reported_before_ticket_and_justification(self) -> None:
        with pytest.raises(PolicyViolation) as err:
            check(graph(ticket_required=True), duration=9 * H, ticket=None, justification="")
        assert "at most 8 hours" in err.value.user_message

    def test_empty_justification_passes_when_nothing_requires_one(self) -> None:
        check(graph(), justification="")


class TestJustificationText:
    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("  reset   tokens\n for Sara  ", "reset tokens for Sara"),
            ("réinitialiser les jetons 🔑", "réinitialiser les jetons 🔑"),
            ("重置令牌并撤销所有会话", "重置令牌并撤销所有会话"),
            ("<script>alert(1)</script> ok", "<script>alert(1)</script> ok"),
            ("'; DROP TABLE requests; -- yes", "'; DROP TABLE requests; -- yes"),
            ("pair with @here-team in #ops 👩‍💻", "pair with @here-team in #ops 👩‍💻"),
        ],
    )
    def test_unicode_and_injection_looking_text_is_kept_as_plain_text(
        self, text: str, expected: str
    ) -> None:
        assert check_justification(text, WHY) == expected

    def test_ticket_is_stripped(self) -> None:
        assert check_ticket(f"  {TICKET} ", TICKETS) == TICKET

    @pytest.mark.parametrize(
        "digits", ["\u0660\u0661\u0662\u0663\u0664\u0665", "\uff10\uff11\uff12\uff13\uff14\uff15"]
    )
    def test_ticket_digits_are_ascii_digits_only(self, digits: str) -> None:
        """Arabic-Indic or fullwidth digits are digits to Python's \\d, not to a ticket."""
        with pytest.raises(InputError):
            check_ticket(f"CONTOSO:Security-{digits}", TicketConfig())
        assert check_ticket("CONTOSO:Security-012345", TicketConfig()) == "CONTOSO:Security-012345"

    def test_ticket_pattern_without_anchors_still_needs_a_full_match(self) -> None:
        loose = TicketConfig(pattern=r"SEC-\d+", example="SEC-1")
        with pytest.raises(InputError):
            check_ticket("xSEC-12x", loose)
