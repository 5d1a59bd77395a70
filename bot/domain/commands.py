"""The `/pim` language: slash-command text -> one typed command, or an InputError."""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable
from dataclasses import dataclass

from bot.domain.command_text import clean, quoted_first, split_head
from bot.domain.command_types import (
    Activate,
    Approvals,
    BreakGlass,
    Cancel,
    Command,
    Deactivate,
    Extend,
    Help,
    History,
    ListRoles,
    Login,
    Logout,
    OpenActivationForm,
    Status,
    Who,
)
from bot.domain.durations import is_duration, parse_duration
from bot.errors import InputError

__all__ = [
    "EXAMPLE",
    "TOPIC_NAMES",
    "Activate",
    "BreakGlass",
    "Approvals",
    "Cancel",
    "Command",
    "Deactivate",
    "Extend",
    "Help",
    "History",
    "ListRoles",
    "Login",
    "Logout",
    "OpenActivationForm",
    "Status",
    "UsageError",
    "Who",
    "parse_command",
]

EXAMPLE = "/pim activate user-admin 5h CONTOSO:Security-012345 reset tokens"
# The sub-commands `/pim help <topic>` knows (their help text is the front end's).
TOPIC_NAMES = frozenset(
    {
        "activate",
        "list",
        "status",
        "deactivate",
        "extend",
        "cancel",
        "login",
        "logout",
        "who",
        "history",
        "help",
        "breakglass",
        "approvals",
    }
)


# Something the user meant as a duration, valid or not (`5h`, `0h`, `-5h`, `99d`, `PT5H`).
_DURATIONISH = re.compile(r"[-+]?\d|P(T)?\d", re.IGNORECASE)
# `SYSTEM:…` with a digit: meant as a ticket (URLs excluded), whether or not it is valid.
_TICKETISH = re.compile(r"[A-Za-z][\w.]*:(?!//)\S*\d")
_PUNCT = ".,;:!?()[]{}\"'“”‘’"  # around a ticket typed inside a sentence
_SYNONYMS = {"?": "help", "-h": "help", "--help": "help"}
# A user mention as Slack sends it in a slash command's text: `<@U123|name>` or `<@U123>`.
_MENTION = re.compile(r"<@([A-Z0-9_]+)(?:\|[^>]*)?>")


class UsageError(InputError):
    """A known sub-command typed wrong: `command` names it, so the front end can show
    that one sub-command's usage beside the message."""

    def __init__(self, user_message: str, command: str) -> None:
        super().__init__(user_message)
        self.command = command


@dataclass(frozen=True, slots=True)
class _Tickets:
    pattern: re.Pattern[str]
    example: str

    def match(self, word: str) -> bool:
        return self.pattern.fullmatch(word) is not None

    def misplaced(self, word: str) -> InputError:
        return InputError(
            f"The ticket `{word}` goes right after the duration, like this: `{EXAMPLE}`."
        )


def parse_command(
    text: str,
    *,
    ticket_pattern: re.Pattern[str],
    ticket_example: str = "CONTOSO:Security-012345",
) -> Command:
    """Parse `/pim` text; anything malformed raises InputError with an example."""
    head, rest = split_head(clean(text))
    if not head:
        return OpenActivationForm()
    name = head.casefold()
    name = _SYNONYMS.get(name, name)
    parser = _PARSERS.get(name)
    if parser is None:
        return _unknown(head)
    try:
        return parser(rest, _Tickets(ticket_pattern, ticket_example))
    except UsageError:
        raise
    except InputError as exc:
        raise UsageError(exc.user_message, name) from None


def _unknown(word: str) -> Help:
    """Help for a sub-command nobody knows, with the known one it most resembles."""
    close = difflib.get_close_matches(word.casefold(), sorted(TOPIC_NAMES), n=1, cutoff=0.6)
    return Help(unknown=word, suggestion=close[0] if close else None)


def _activate(rest: str, tickets: _Tickets) -> Command:
    quoted, words = quoted_first(rest)
    if quoted is None and not words:
        return OpenActivationForm()
    role, words = (quoted, words) if quoted is not None else _split_role(words, tickets)
    if not words:
        return OpenActivationForm(role)
    duration = parse_duration(words[0])
    ticket, justification = _ticket_and_reason(words[1:], tickets)
    if not justification:
        return OpenActivationForm(role, duration, ticket)
    return Activate(role, duration, ticket, justification)


def _breakglass(rest: str, tickets: _Tickets) -> Command:
    """Like `activate`, but nothing opens a form: an emergency names everything at once,
    the reason included."""
    usage = "`/pim breakglass security-admin 1h <reason>`"
    quoted, words = quoted_first(rest)
    if quoted is None and not words:
        raise InputError(f"`breakglass` needs a role, a duration and a reason: {usage}.")
    role, words = (quoted, words) if quoted is not None else _split_role(words, tickets)
    if not words:
        raise InputError(f"Give a duration and a reason after the role: {usage}.")
    duration = parse_duration(words[0])
    ticket, reason = _ticket_and_reason(words[1:], tickets)
    if not reason.strip():
        raise InputError(f"Break-glass needs a reason after the duration: {usage}.")
    return BreakGlass(role, duration, ticket, reason)


def _split_role(words: list[str], tickets: _Tickets) -> tuple[str, list[str]]:
    """Unquoted roles run up to the duration, so `User Administrator 5h` works too."""
    if is_duration(words[0]) or tickets.match(words[0]):
        raise InputError(f"Start with the role, then the duration: `{EXAMPLE}`.")
    at = _duration_index(words)
    stray = next((w for w in words[1:at] if tickets.match(w)), None)
    if stray is not None:
        raise tickets.misplaced(stray)
    if at is None and len(words) > 1:
        raise InputError(
            f"Give a duration after the role, like `5h`: `{EXAMPLE}`. "
            'Put a role name with spaces in quotes: `"User Administrator"`.'
        )
    return " ".join(words[:at]), words[at:] if at else []


def _duration_index(words: list[str]) -> int | None:
    if len(words) > 1 and _DURATIONISH.match(words[1]):
        return 1
    later = range(1, len(words))
    valid = next((i for i in later if is_duration(words[i])), None)
    return valid or next((i for i in later if _DURATIONISH.match(words[i])), None)


def _ticket_and_reason(words: list[str], tickets: _Tickets) -> tuple[str | None, str]:
    if words and tickets.match(words[0]):
        return words[0], " ".join(words[1:])
    if words and _TICKETISH.match(words[0]):
        raise InputError(
            f"`{_show(words[0])}` looks like a ticket number but isn't one: "
            f"it should look like `{tickets.example}`."
        )
    stray = next((w.strip(_PUNCT) for w in words if tickets.match(w.strip(_PUNCT))), None)
    if stray is not None:
        raise tickets.misplaced(stray)
    return None, " ".join(words)


def _status(rest: str, _: _Tickets) -> Command:
    quoted, words = quoted_first(rest)
    if quoted is not None and words:
        raise InputError('`status` takes one role: `/pim status "User Administrator"`.')
    return Status(quoted or " ".join(words) or None)


def _deactivate(rest: str, _: _Tickets) -> Command:
    quoted, words = quoted_first(rest)
    if quoted is None and not words:
        raise InputError("Which role? `/pim deactivate user-admin`.")
    if quoted is not None and words:
        raise InputError('`deactivate` takes one role: `/pim deactivate "User Administrator"`.')
    return Deactivate(quoted or " ".join(words))


def _extend(rest: str, tickets: _Tickets) -> Command:
    """The role runs up to the first duration-like word; after the duration, an optional
    ticket and justification (none: the activation's own are kept)."""
    quoted, words = quoted_first(rest)
    if quoted is not None:
        role_words, tail = [quoted], words
    else:
        at = next((i for i in range(1, len(words)) if _DURATIONISH.match(words[i])), None)
        role_words, tail = (words[:at], words[at:]) if at else (words[:-1], words[-1:])
    if not role_words:
        raise InputError("`extend` needs a role and a duration: `/pim extend user-admin 1h`.")
    if not tail or not _DURATIONISH.match(tail[0]):
        raise InputError(
            "`extend` needs a duration after the role, then optionally a ticket and a "
            "justification: `/pim extend user-admin 1h`."
        )
    ticket, justification = _ticket_and_reason(tail[1:], tickets)
    return Extend(" ".join(role_words), parse_duration(tail[0]), ticket, justification)


def _cancel(rest: str, _: _Tickets) -> Command:
    words = rest.split()
    if len(words) != 1:
        raise InputError(
            "`cancel` takes one request id, like `/pim cancel R-7KQ2M9XD`; "
            "`/pim status` lists your requests."
        )
    return Cancel(words[0].upper())


def _list(rest: str, _: _Tickets) -> Command:
    if rest.strip():
        raise InputError("`list` takes nothing after it: just `/pim list`.")
    return ListRoles()


def _login(rest: str, _: _Tickets) -> Command:
    if rest.strip():
        raise InputError("`login` takes nothing after it: just `/pim login`.")
    return Login()


def _logout(rest: str, _: _Tickets) -> Command:
    if rest.strip():
        raise InputError("`logout` takes nothing after it: just `/pim logout`.")
    return Logout()


def _approvals(rest: str, _: _Tickets) -> Command:
    if rest.strip():
        raise InputError("`approvals` takes nothing after it: just `/pim approvals`.")
    return Approvals()


def _who(rest: str, _: _Tickets) -> Command:
    if rest.strip():
        raise InputError("`who` takes nothing after it: just `/pim who`.")
    return Who()


def _history(rest: str, _: _Tickets) -> Command:
    """`[@user] [role]`, either order; the role may be quoted."""
    mentions = _MENTION.findall(rest)
    if len(mentions) > 1:
        raise InputError("`history` takes one person: `/pim history @alex user-admin`.")
    rest = _MENTION.sub(" ", rest)
    if "<@" in rest or any(w.startswith("@") for w in rest.split()):
        # A name typed, not picked: Slack escapes only a picked mention (`<@U…|name>`).
        raise InputError("Pick the person from Slack's @ list: `/pim history @alex`.")
    quoted, words = quoted_first(rest)
    if quoted is not None and words:
        raise InputError('`history` takes one role: `/pim history "User Administrator"`.')
    role = quoted or " ".join(words) or None
    return History(mentions[0] if mentions else None, role)


def _help(rest: str, _: _Tickets) -> Command:
    words = rest.split()
    if len(words) > 1:
        raise InputError("`help` takes at most one command: `/pim help activate`.")
    if not words:
        return Help()
    topic = _SYNONYMS.get(words[0].casefold(), words[0].casefold())
    if topic not in TOPIC_NAMES:
        return _unknown(words[0])
    return Help(topic=topic)


def _show(text: str) -> str:
    # Backticks would end the code span the word is shown in.
    text = text.replace("`", "'")
    return text if len(text) <= 30 else text[:30] + "…"


_PARSERS: dict[str, Callable[[str, _Tickets], Command]] = {
    "activate": _activate,
    "breakglass": _breakglass,
    "list": _list,
    "status": _status,
    "deactivate": _deactivate,
    "extend": _extend,
    "cancel": _cancel,
    "login": _login,
    "logout": _logout,
    "who": _who,
    "history": _history,
    "help": _help,
    "approvals": _approvals,
}
