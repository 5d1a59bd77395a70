"""Who and what the local workspace starts with: the Contoso people, the channels the
bot's `pimbot.yml` names, and the approvers' user group. Ids are readable on purpose
(`U_ALINE`, `C_PIM_APPROVALS`) so the config file and test assertions stay legible."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SeedUser:
    """One person, with the user-object fields users.info answers for them
    (https://api.slack.com/types/user)."""

    id: str
    name: str  # Slack's handle (`user_name` in slash commands)
    real_name: str
    email: str | None  # None: no email on the profile
    tz: str = "UTC"
    is_admin: bool = False
    title: str = ""
    deleted: bool = False  # deactivated
    is_restricted: bool = False  # a guest (multi-channel)
    is_ultra_restricted: bool = False  # a single-channel guest (is_restricted too)
    team_id: str | None = None  # another organisation's team (Slack Connect); None: ours
    is_email_confirmed: bool = True


@dataclass(frozen=True)
class SeedChannel:
    id: str
    name: str
    topic: str = ""
    bot_member: bool = False  # the bot was invited (it may post only where it was)
    is_private: bool = False  # the bot cannot even see it unless a member


@dataclass(frozen=True)
class SeedUsergroup:
    id: str
    handle: str
    name: str
    users: tuple[str, ...]


_DOMAIN = "m365x435773.onmicrosoft.com"

CONTOSO_USERS = (
    SeedUser(
        "U_ALINE",
        "aline",
        "Aline Dupuy",
        f"AlineD@{_DOMAIN}",
        "Europe/Paris",
        title="Helpdesk engineer (requester)",
    ),
    SeedUser(
        "U_ADMIN",
        "admin",
        "MOD Administrator",
        f"admin@{_DOMAIN}",
        "America/Los_Angeles",
        is_admin=True,
        title="Tenant admin (approver)",
    ),
    SeedUser(
        "U_MEGAN",
        "megan",
        "Megan Bowen",
        f"MeganB@{_DOMAIN}",
        "America/Los_Angeles",
        title="Marketing manager",
    ),
    SeedUser(
        "U_ALEX",
        "alex",
        "Alex Wilber",
        f"AlexW@{_DOMAIN}",
        "America/New_York",
        title="Marketing assistant",
    ),
    # People who may not use the bot, each refused with the reason (see README, "Who may
    # use the bot"): a guest, a deactivated account, a Slack Connect partner, no email.
    SeedUser(
        "U_ISAIAH",
        "isaiah",
        "Isaiah Langer",
        f"IsaiahL@{_DOMAIN}",
        "America/Chicago",
        title="Contractor (guest)",
        is_restricted=True,
    ),
    SeedUser(
        "U_NESTOR",
        "nestor",
        "Nestor Wilke",
        f"NestorW@{_DOMAIN}",
        "America/New_York",
        title="Left the company (deactivated)",
        deleted=True,
    ),
    SeedUser(
        "U_KAI",
        "kai",
        "Kai Carter",
        "kai.carter@fabrikam.example",
        "Europe/Berlin",
        title="Fabrikam consultant (Slack Connect)",
        team_id="T_FABRIKAM",
    ),
    SeedUser(
        "U_NOMAIL",
        "frontdesk",
        "Front Desk",
        None,
        "Europe/Paris",
        title="Shared reception account (no email)",
    ),
)

# The bot starts in the channels the repository's pimbot.yml names, so `make run` works;
# anywhere else it must be invited first (`/invite @pimbot` on the page).
CONTOSO_CHANNELS = (
    SeedChannel("C_GENERAL", "general", "Company-wide announcements"),
    SeedChannel(
        "C_PIM_APPROVALS",
        "pim-approvals",
        "Role activations waiting for approval",
        bot_member=True,
    ),
    SeedChannel(
        "C_PIM_AUDIT", "pim-audit", "Every PIM request, decision and activation", bot_member=True
    ),
)

CONTOSO_USERGROUPS = (
    SeedUsergroup("S_PIM_APPROVERS", "pim-approvers", "PIM approvers", ("U_ADMIN",)),
)


@dataclass(frozen=True)
class WorkspaceSeed:
    team_id: str = "T_CONTOSO"
    team_name: str = "Contoso"
    team_domain: str = "contoso"
    app_id: str = "A_PIMBOT"
    bot_user_id: str = "U_PIMBOT"
    bot_id: str = "B_PIMBOT"
    bot_name: str = "pimbot"
    commands: tuple[str, ...] = ("/pim",)  # the slash commands the app's manifest declares
    # The commands' "Escape channels, users, and links" (manifest `should_escape`).
    escape_command_entities: bool = True
    users: tuple[SeedUser, ...] = CONTOSO_USERS
    channels: tuple[SeedChannel, ...] = CONTOSO_CHANNELS
    usergroups: tuple[SeedUsergroup, ...] = CONTOSO_USERGROUPS

    def user(self, user_id: str) -> SeedUser | None:
        return next((u for u in self.users if u.id == user_id), None)
