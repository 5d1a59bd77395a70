"""`/pim help`: one line and one example per sub-command, in Slack mrkdwn; and the
help a mistake gets (its message and the one usage line it concerns)."""

from __future__ import annotations

from bot.domain.commands import EXAMPLE, TOPIC_NAMES, Help
from handlers.blocks.literal import escape

TOPICS: dict[str, tuple[str, str]] = {
    "activate": (
        "`/pim activate <role> <duration> [ticket] <justification>`: activate a role now "
        "(or ask for approval). Leave out the justification to get a form.",
        f"`{EXAMPLE}`",
    ),
    "breakglass": (
        "`/pim breakglass <role> <duration> [ticket] <reason>`: in an emergency, activate a "
        "break-glass role at once, without approval; its approvers are alerted and must "
        "ratify it in time, or it is deactivated. Limited per person per day.",
        "`/pim breakglass security-admin 1h attacker in the tenant, locking accounts`",
    ),
    "list": ("`/pim list`: the roles you can activate, and what is active.", "`/pim list`"),
    "status": (
        "`/pim status [role]`: your active roles and pending requests.",
        "`/pim status user-admin`",
    ),
    "deactivate": (
        "`/pim deactivate <role>`: end an active role now.",
        "`/pim deactivate user-admin`",
    ),
    "extend": (
        "`/pim extend <role> <duration> [justification]`: add time to an active role, within "
        "its maximum from its first start; where approval is needed, an approver decides.",
        "`/pim extend user-admin 1h`",
    ),
    "cancel": (
        "`/pim cancel <request id>`: withdraw a request that is waiting for approval.",
        "`/pim cancel R-7KQ2M9XD`",
    ),
    "approvals": (
        "`/pim approvals`: the requests waiting for your decision as an approver, with "
        "how long each has waited, and Approve / Deny.",
        "`/pim approvals`",
    ),
    "login": (
        "`/pim login`: sign in to Microsoft Entra, so pimbot acts as you "
        "(when pimbot runs in signed-in-user mode).",
        "`/pim login`",
    ),
    "logout": ("`/pim logout`: make pimbot forget your Microsoft Entra sign-in.", "`/pim logout`"),
    "who": (
        "`/pim who`: who holds a role pimbot knows right now, however it was activated "
        "(approvers and viewers see everyone; anyone else their own).",
        "`/pim who`",
    ),
    "history": (
        "`/pim history [@user] [role]`: the last activations, with ticket and approver "
        "(yours; approvers and viewers may name someone).",
        "`/pim history @alex user-admin`",
    ),
    "help": ("`/pim help [command]`: this help.", "`/pim help activate`"),
}
assert set(TOPICS) == TOPIC_NAMES, "every sub-command the parser knows has its help"  # noqa: S101
SIGNIN_TOPICS = frozenset({"login", "logout"})  # listed only in signed-in-user mode

_NOTES = (
    "*Roles*: an alias such as `user-admin`, a display name in quotes "
    '(`"User Administrator"`) or a template id.',
    "*Durations*: `30m`, `5h`, `1h30m`, `1d` or `PT5H`.",
    "*Ticket*: one word right after the duration; the rest of the line is the justification.",
    "`/pim` on its own opens the activation form.",
)


def help_text(topic: str | None = None, *, signin: bool = False) -> str:
    """All of the help, or the part for one sub-command. `signin`: list `login` and
    `logout` too (`graph.identity: user`). Placeholders such as `<role>` are escaped:
    Slack reads `<…>` as a link or mention even inside code
    (https://api.slack.com/reference/surfaces/formatting#escaping)."""
    if topic in TOPICS:
        return usage(topic)
    lines = ["*pimbot*: just-in-time Microsoft Entra roles from Slack."]
    lines += [
        f"• {escape(line)}\n    e.g. {escape(example)}"
        for name, (line, example) in TOPICS.items()
        if signin or name not in SIGNIN_TOPICS
    ]
    return "\n".join(lines + ["", *_NOTES])


def usage(topic: str) -> str:
    """One sub-command's usage line and example, escaped for mrkdwn."""
    line, example = TOPICS[topic]
    return f"{escape(line)}\nExample: {escape(example)}"


def unknown_command(asked: Help, *, signin: bool = False) -> tuple[str, str]:
    """What a sub-command nobody knows gets: (why, help). With a close match, "did you
    mean" and that command's usage; else the names of the commands there are."""
    word = escape(asked.unknown or "").replace("`", "'")
    word = word if len(word) <= 30 else word[:30] + "…"
    if asked.suggestion in TOPICS:
        why = f"There is no command `{word}`. Did you mean `{asked.suggestion}`?"
        return why, usage(asked.suggestion)
    names = [n for n in TOPICS if signin or n not in SIGNIN_TOPICS]
    listed = ", ".join(f"`{n}`" for n in names)
    return f"There is no command `{word}`.", f"Commands: {listed}. `/pim help` says more."
