"""Bad input of every kind gets its own plain message, and none of it writes to Graph."""

from __future__ import annotations

import pytest

from tests.support.stack import BotStack

T = "CONTOSO:Security-012345"
J = "need to reset a locked account"
ZERO = "A duration must be longer than zero"
UNKNOWN_ROLE = "I don't know the role"
NOT_ACTIVE = "User Administrator is not active for you right now"

# (case id, Slack user, /pim text, a fragment of the message that user must get)
CASES = [
    ("unknown-role", "U_ALINE", f"activate foo-admin 1h {T} {J}", UNKNOWN_ROLE + " `foo-admin`"),
    ("zero-duration", "U_ALINE", f"activate user-admin 0h {T} {J}", ZERO),
    ("zero-iso-duration", "U_ALINE", f"activate user-admin PT0S {T} {J}", ZERO),
    ("negative-duration", "U_ALINE", f"activate user-admin -5h {T} {J}", "can't be negative"),
    ("99-days", "U_ALINE", f"activate user-admin 99d {T} {J}", "`99d` is too long"),
    ("garbage-duration", "U_ALINE", f"activate user-admin 5x {J}", "`5x` is not a duration"),
    ("unicode-role", "U_ALINE", f"activate ユーザー管理者 1h {T} {J}", "`ユーザー管理者`"),
    (
        "2000-char-justification",
        "U_ALINE",
        f"activate user-admin 1h {T} {'a' * 2000}",
        "justification is too long (2000 characters)",
    ),
    ("short-justification", "U_ALINE", f"activate user-admin 1h {T} fix", "too short"),
    ("sql-injection-role", "U_ALINE", f"activate user-admin' OR '1'='1 1h {T} {J}", UNKNOWN_ROLE),
    ("shell-injection-role", "U_ALINE", f"activate $(rm -rf /) 1h {T} {J}", UNKNOWN_ROLE),
    ("5000-char-role", "U_ALINE", f"activate {'x' * 5000} 1h {T} {J}", UNKNOWN_ROLE),
    (
        "here-mention",
        "U_ALINE",
        f"activate user-admin 1h {T} <!here> urgent fix please",
        "can't mention people or channels",
    ),
    (
        "user-mention",
        "U_ALINE",
        f"activate user-admin 1h {T} ask <@U_ADMIN> about it",
        "can't mention people or channels",
    ),
    (
        "punctuation-only",
        "U_ALINE",
        f"activate user-admin 1h {T} !!!!!!!!!!!!!!!!",
        "not only punctuation",
    ),
    (
        "control-characters",
        "U_ALINE",
        f"activate user-admin 1h {T} fix \x1b[31m things now",
        "control characters",
    ),
    (
        "ticket-before-duration",
        "U_ALINE",
        f"activate user-admin {T} 5h {J}",
        "goes right after the duration",
    ),
    (
        "malformed-ticket",
        "U_ALINE",
        f"activate user-admin 1h JIRA:ABC-1 {J}",
        "looks like a ticket number but isn't one",
    ),
    (
        "duration-before-role",
        "U_ALINE",
        f"activate 5h user-admin {J}",
        "Start with the role, then the duration",
    ),
    (
        "unclosed-quote",
        "U_ALINE",
        f'activate "User Administrator 1h {T} {J}',
        "missing its closing mark",
    ),
    (
        "not-eligible-at-all",
        "U_ALEX",
        f"activate user-admin 1h {T} {J}",
        "You aren't eligible for User Administrator, or for any role",
    ),
    (
        "not-eligible-for-this-role",
        "U_ALINE",
        f"activate privileged-role-admin 1h {T} {J}",
        "You can activate: `exchange-admin`, `global-admin`, `helpdesk-admin`, `security-admin`, "
        "`teams-admin`, `user-admin`",
    ),
    (
        "over-max",
        "U_ALINE",
        f"activate user-admin 9h {T} {J}",
        "at most 8 hours; you asked for 9 hours",
    ),
    ("over-max-approval-role", "U_ALINE", f"activate global-admin 5h {J}", "at most 4 hours"),
    # ticket.pattern is matched in ASCII mode: \d is 0-9, not any script's digits.
    (
        "ticket-in-arabic-indic-digits",
        "U_ALINE",
        f"activate security-admin 1h CONTOSO:Security-\u0660\u0661\u0662\u0663\u0664\u0665 {J}",
        "looks like a ticket number but isn't one",
    ),
    (
        "ticket-in-fullwidth-digits",
        "U_ALINE",
        f"activate security-admin 1h CONTOSO:Security-\uff10\uff11\uff12\uff13\uff14\uff15 {J}",
        "looks like a ticket number but isn't one",
    ),
    (
        "missing-ticket-security-admin",
        "U_ALINE",
        f"activate security-admin 1h {J}",
        "Security Administrator needs a CONTOSO ticket number, like `CONTOSO:Security-012345`",
    ),
    (
        "unmapped-user-no-email",
        "U_NOMAIL",
        f"activate user-admin 1h {T} {J}",
        "Ask your pimbot admin to add `U_NOMAIL: you@yourcompany.com`",
    ),
    ("unknown-slack-user", "U_GHOST", f"activate user-admin 1h {T} {J}", "Slack doesn't know"),
    ("unknown-subcommand", "U_ALINE", "frobnicate now", "There is no command `frobnicate`"),
    ("mistyped-subcommand", "U_ALINE", "activte user-admin 5h", "Did you mean `activate`?"),
    ("extend-not-active", "U_ALINE", "extend user-admin 1h", NOT_ACTIVE),
    ("deactivate-not-active", "U_ALINE", "deactivate user-admin", NOT_ACTIVE),
    ("deactivate-without-role", "U_ALINE", "deactivate", "Which role?"),
    ("extend-without-duration", "U_ALINE", "extend user-admin", "needs a role and a duration"),
    ("cancel-without-id", "U_ALINE", "cancel", "takes one request id"),
    ("cancel-unknown-id", "U_ALINE", "cancel R-NOTREAL1", "You have no request `R-NOTREAL1`"),
    ("list-with-arguments", "U_ALINE", "list everything", "takes nothing after it"),
    ("help-two-topics", "U_ALINE", "help a b", "at most one command"),
    ("status-two-roles", "U_ALINE", 'status "user-admin" extra', "takes one role"),
]


def _message(bot: BotStack, text: str, user: str) -> str:
    """What the user finally sees: the ack itself, or what replaced "Working on it…"."""
    reply = bot.command(text, user=user)
    assert reply.status == 200
    if "Working on it" in reply.text:
        return str(bot.final(reply)["text"])
    return reply.text


def test_the_table_has_at_least_thirty_cases() -> None:
    assert len(CASES) >= 30
    assert len({c[0] for c in CASES}) == len(CASES)


@pytest.mark.parametrize(
    ("user", "text", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_bad_input_gets_its_specific_message_and_no_graph_write(
    bot: BotStack, user: str, text: str, expected: str
) -> None:
    shown = _message(bot, text, user)

    assert expected in shown
    assert "Traceback" not in shown and "Something went wrong" not in shown
    assert bot.graph_writes() == 0
    assert bot.tenant.requests == {}


def test_parse_errors_come_with_that_commands_usage_only(bot: BotStack) -> None:
    shown = _message(bot, "activate user-admin -5h", "U_ALINE")

    assert "/pim activate &lt;role&gt; &lt;duration&gt;" in shown
    assert "/pim activate user-admin 5h CONTOSO:Security-012345" in shown
    assert "/pim list" not in shown and "/pim cancel" not in shown

    shown = _message(bot, "extend user-admin soon", "U_ALINE")
    assert "Example: `/pim extend user-admin 1h`" in shown and "/pim activate" not in shown


def test_a_mistyped_command_gets_did_you_mean_and_its_usage(bot: BotStack) -> None:
    shown = _message(bot, "deactivat user-admin", "U_ALINE")

    assert shown.startswith(
        ":information_source: There is no command `deactivat`. Did you mean `deactivate`?"
    )
    assert "`/pim deactivate &lt;role&gt;`" in shown and "/pim extend" not in shown


@pytest.mark.slow
def test_already_active_says_until_when_and_writes_nothing_more(bot: BotStack) -> None:
    assert "active until" in _message(bot, f"activate user-admin 1h {T} {J}", "U_ALINE")
    writes, granted = bot.graph_writes(), bot.granted_writes()

    shown = _message(bot, f"activate user-admin 2h {T} {J}", "U_ALINE")

    assert "already active for you until" in shown and "/pim extend" in shown
    # No read before it: the duplicate went to Graph, which refused it (issue 17).
    assert (bot.graph_writes(), bot.granted_writes()) == (writes + 1, granted)


@pytest.mark.slow
def test_empty_command_opens_the_modal_instead_of_an_error(bot: BotStack) -> None:
    reply = bot.command("   ")

    assert reply.status == 200 and reply.text == ""
    bot.slack.wait_for("views.open")
    bot.slack.wait_for("views.update")  # the roles arrive; nothing is written
    assert bot.graph_writes() == 0
