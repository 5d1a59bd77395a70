"""The `/pim` language: what each line of text parses into, and every refusal's message."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from bot.domain.commands import (
    EXAMPLE,
    Activate,
    Approvals,
    Cancel,
    Command,
    Deactivate,
    Extend,
    Help,
    ListRoles,
    OpenActivationForm,
    Status,
    UsageError,
    parse_command,
)
from bot.errors import InputError
from bot.settings import TicketConfig
from handlers.blocks import help_message
from handlers.blocks.help import help_text, unknown_command, usage
from tests.support.cast import TICKET, USER_ADMIN

PATTERN = re.compile(TicketConfig().pattern)
H5 = timedelta(hours=5)


def parse(text: str) -> Command:
    return parse_command(text, ticket_pattern=PATTERN)


class TestActivate:
    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            (
                "activate user-admin 5h CONTOSO:Security-012345 reset tokens",
                Activate("user-admin", H5, TICKET, "reset tokens"),
            ),
            (
                "activate user-admin 5h reset tokens",
                Activate("user-admin", H5, None, "reset tokens"),
            ),
            (
                "  ACTIVATE   user-admin   5H   why   not  ",
                Activate("user-admin", H5, None, "why not"),
            ),
            (
                'activate "User Administrator" 1h30m fix',
                Activate("User Administrator", timedelta(hours=1, minutes=30), None, "fix"),
            ),
            (
                "activate “User Administrator” PT5H fix",
                Activate("User Administrator", H5, None, "fix"),
            ),
            ("activate User Administrator 5h fix", Activate("User Administrator", H5, None, "fix")),
            (
                f"activate {USER_ADMIN} 1d audit",
                Activate(USER_ADMIN, timedelta(days=1), None, "audit"),
            ),
            (
                "activate user-admin 5h CONTOSO:Security-012345 after CONTOSO:Security-000001",
                Activate("user-admin", H5, TICKET, "after CONTOSO:Security-000001"),
            ),
        ],
    )
    def test_parses_role_duration_ticket_and_justification(
        self, text: str, expected: Activate
    ) -> None:
        assert parse(text) == expected

    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("", OpenActivationForm()),
            ("   ", OpenActivationForm()),
            ("activate", OpenActivationForm()),
            ("activate user-admin", OpenActivationForm("user-admin")),
            ('activate "User Administrator"', OpenActivationForm("User Administrator")),
            ("activate user-admin 5h", OpenActivationForm("user-admin", H5)),
            (
                "activate user-admin 5h CONTOSO:Security-012345",
                OpenActivationForm("user-admin", H5, TICKET),
            ),
        ],
    )
    def test_missing_pieces_open_the_form_prefilled(
        self, text: str, expected: OpenActivationForm
    ) -> None:
        assert parse(text) == expected

    @pytest.mark.parametrize(
        ("text", "says"),
        [
            ("activate user-admin 0h reset tokens", "longer than zero"),
            ("activate user-admin -5h reset tokens", "can't be negative"),
            ("activate user-admin 99d reset tokens", "the most any role allows is 30 days"),
            ("activate user-admin 5 reset tokens", "`5` is not a duration"),
            ("activate user-admin 5x reset tokens", "`5x` is not a duration"),
            ("activate user-admin PT reset tokens", "Give a duration after the role"),
            ("activate user-admin reset tokens", "Give a duration after the role"),
            ("activate 5h user-admin reset", "Start with the role, then the duration"),
            ("activate CONTOSO:Security-012345 user-admin 5h x", "Start with the role"),
            (
                "activate user-admin CONTOSO:Security-012345 5h reset",
                "goes right after the duration",
            ),
            ("activate user-admin CONTOSO:Security-012345", "goes right after the duration"),
            ("activate user-admin 5h reset tokens CONTOSO:Security-012345", "goes right after"),
            ("activate user-admin 5h reset tokens (CONTOSO:Security-012345).", "goes right after"),
            ("activate user-admin 5h CONTOSO:Sec-12 reset", "looks like a ticket number but isn't"),
            ("activate user-admin 5h contoso:security-12345x reset", "should look like `CONTOSO:"),
            ('activate "User Administrator 5h reset', "missing its closing mark"),
            ('activate "" 5h reset', "The quotes are empty"),
        ],
    )
    def test_refuses_malformed_activation_with_a_specific_message(
        self, text: str, says: str
    ) -> None:
        with pytest.raises(InputError) as err:
            parse(text)
        assert says in err.value.user_message

    def test_ticket_errors_show_the_card_example(self) -> None:
        with pytest.raises(InputError) as err:
            parse("activate user-admin CONTOSO:Security-012345 5h reset")
        assert EXAMPLE in err.value.user_message

    def test_custom_ticket_pattern_and_example_are_used(self) -> None:
        jira = re.compile(r"SEC-\d+")
        cmd = parse_command("activate user-admin 1h SEC-42 go", ticket_pattern=jira)
        assert cmd == Activate("user-admin", timedelta(hours=1), "SEC-42", "go")
        with pytest.raises(InputError) as err:
            parse_command(
                "activate user-admin 1h JIRA:4 go", ticket_pattern=jira, ticket_example="SEC-123"
            )
        assert "`SEC-123`" in err.value.user_message


class TestSlackFormatting:
    @pytest.mark.parametrize(
        ("text", "justification"),
        [
            ("activate user-admin 5h see <https://t.example/1|t.example/1>", "see t.example/1"),
            (
                "activate user-admin 5h mail <mailto:sara@contoso.com|sara@contoso.com>",
                "mail sara@contoso.com",
            ),
            ("activate user-admin 5h see <https://t.example/1>", "see https://t.example/1"),
            ("activate user-admin 5h R&amp;D &lt;script&gt;", "R&D <script>"),
            ("activate user-admin 5h '; DROP TABLE requests; --", "'; DROP TABLE requests; --"),
            ("activate user-admin 5h in <#C123|ops>", "in #ops"),
            ("activate user-admin 5h tell <@U123>", "tell <@U123>"),
            ("activate user-admin 5h ping <!channel>", "ping <!channel>"),
            ("activate user-admin 5h &amp;lt; stays", "&lt; stays"),
        ],
    )
    def test_links_are_unwrapped_and_entities_unescaped_but_mentions_kept(
        self, text: str, justification: str
    ) -> None:
        cmd = parse(text)
        assert isinstance(cmd, Activate) and cmd.justification == justification


class TestOtherCommands:
    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("list", ListRoles()),
            ("LIST", ListRoles()),
            ("status", Status()),
            ("status user-admin", Status("user-admin")),
            ('status "User Administrator"', Status("User Administrator")),
            ("deactivate user-admin", Deactivate("user-admin")),
            ("Deactivate User Administrator", Deactivate("User Administrator")),
            ("extend user-admin 1h", Extend("user-admin", timedelta(hours=1))),
            (
                'extend "User Administrator" 30m',
                Extend("User Administrator", timedelta(minutes=30)),
            ),
            (
                "extend User Administrator 1h still resetting tokens",
                Extend("User Administrator", timedelta(hours=1), None, "still resetting tokens"),
            ),
            (
                "extend user-admin 1h CONTOSO:Security-012346 the next ticket",
                Extend(
                    "user-admin", timedelta(hours=1), "CONTOSO:Security-012346", "the next ticket"
                ),
            ),
            ("cancel r-7kq2m9xd", Cancel("R-7KQ2M9XD")),
            ("approvals", Approvals()),
            ("help approvals", Help(topic="approvals")),
            ("aprovals", Help(unknown="aprovals", suggestion="approvals")),
            ("help", Help()),
            ("help Extend", Help(topic="extend")),
            ("?", Help()),
            ("help frobnicate", Help(unknown="frobnicate")),
            ("frobnicate now", Help(unknown="frobnicate")),
            ("activte user-admin 5h", Help(unknown="activte", suggestion="activate")),
            ("help Deactivat", Help(unknown="Deactivat", suggestion="deactivate")),
            ("STAUS", Help(unknown="STAUS", suggestion="status")),
        ],
    )
    def test_parses_each_sub_command(self, text: str, expected: Command) -> None:
        assert parse(text) == expected

    @pytest.mark.parametrize(
        ("text", "says"),
        [
            ("extend user-admin", "`extend` needs a role and a duration"),
            ("extend", "`extend` needs a role and a duration"),
            ("extend user-admin soon", "needs a duration after the role"),
            ("extend user-admin 0h", "longer than zero"),
            ("extend user-admin 40d", "30 days"),
            ("deactivate", "Which role?"),
            ('deactivate "User Administrator" now', "takes one role"),
            ('status "User Administrator" now', "takes one role"),
            ("cancel", "takes one request id"),
            ("cancel R-1 R-2", "takes one request id"),
            ("list everything", "`list` takes nothing after it"),
            ("approvals mine", "`approvals` takes nothing after it"),
            ("help me please", "`help` takes at most one command"),
        ],
    )
    def test_refuses_wrong_arguments_with_an_example(self, text: str, says: str) -> None:
        with pytest.raises(InputError) as err:
            parse(text)
        assert says in err.value.user_message

    @pytest.mark.parametrize(
        ("text", "command"),
        [
            ("extend user-admin soon", "extend"),
            ("activate user-admin 5x fix it now please", "activate"),
            ("deactivate", "deactivate"),
            ("cancel R-1 R-2", "cancel"),
            ("Help me please", "help"),
            ("? a b", "help"),
        ],
    )
    def test_a_refusal_names_the_sub_command_it_concerns(self, text: str, command: str) -> None:
        with pytest.raises(UsageError) as err:
            parse(text)
        assert err.value.command == command

    def test_unknown_command_name_is_shortened_and_cannot_break_formatting(self) -> None:
        cmd = parse("x`<!channel>" + "y" * 100)
        assert isinstance(cmd, Help) and cmd.suggestion is None
        why, more = unknown_command(cmd)
        assert why.count("`") == 2 and "…" in why
        assert "<" not in why and "&lt;!channel&gt;" in why
        assert "`activate`" in more and "/pim help" in more


class TestHelp:
    def test_help_has_an_example_for_every_sub_command(self) -> None:
        text = help_text()
        for name in ("activate", "list", "status", "deactivate", "extend", "cancel", "help"):
            assert f"`/pim {name}" in text
        assert "/pim activate user-admin 5h CONTOSO:Security-012345 reset tokens" in text

    def test_placeholders_are_escaped_so_slack_shows_them(self) -> None:
        # Slack reads `<role>` as a link or mention and shows nothing; `&lt;` shows `<`.
        text = help_text(signin=True)
        assert "<" not in text and ">" not in text
        assert "`/pim activate &lt;role&gt; &lt;duration&gt; [ticket]" in text
        assert "&lt;request id&gt;" in help_text("cancel")

    def test_help_message_text_and_blocks_are_escaped_alike(self) -> None:
        msg = help_message(help_text())
        assert "&lt;role&gt;" in msg["text"]
        assert "&lt;role&gt;" in msg["blocks"][0]["text"]["text"]

    def test_a_mistyped_command_gets_did_you_mean_and_that_usage_only(self) -> None:
        cmd = parse("activte user-admin 5h")
        assert isinstance(cmd, Help)
        why, more = unknown_command(cmd)
        assert why == "There is no command `activte`. Did you mean `activate`?"
        assert more.startswith("`/pim activate &lt;role&gt;")
        assert "/pim list" not in more

    def test_usage_is_one_line_and_its_example(self) -> None:
        assert usage("extend") == (
            "`/pim extend &lt;role&gt; &lt;duration&gt; [justification]`: add time to an "
            "active role, within its maximum from its first start; where approval is needed, "
            "an approver decides.\nExample: `/pim extend user-admin 1h`"
        )

    def test_help_for_one_topic_is_just_that_topic(self) -> None:
        assert help_text("extend").startswith("`/pim extend")
        assert "/pim cancel" not in help_text("extend")
