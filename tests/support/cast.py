"""The Contoso cast: the people, groups and roles the tests use, defined once.

The Entra side (object ids, UPNs, display names, group and role ids) is read from the
sandbox tenant's seed (`bot/simulators/sandbox/seed.yml`) and the Slack side (user ids,
handles, time zones, profile emails) from the local workspace's seed
(`bot/simulators/workspace/seed.py`), so a test can never disagree with the tenant or the
workspace it runs against; so are who may not use the bot (the guest, the deactivated
account, the Slack Connect partner, the account without an email). People the workspace
does not seed (Diego, Lee, Patti, and the stranger with no Entra account) get their Slack
side here, once.

    from tests.support.cast import ALINE, USER_ADMIN
    bot.command(CARD, user=ALINE.slack_id)
    tenant.live_assignment(ALINE.id, USER_ADMIN)
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from bot.domain.people import PersonKey, slack
from bot.service.ports import PersonKind
from bot.simulators.sandbox.seed import load_seed
from bot.simulators.workspace.seed import CONTOSO_USERGROUPS, CONTOSO_USERS

_SEED = load_seed()
DOMAIN = _SEED.domain  # m365x435773.onmicrosoft.com
TENANT_ID = _SEED.tenant_id


@dataclass(frozen=True)
class Person:
    """One member of the cast: their Slack account and, if they have one, their Entra user."""

    slack_id: str  # "U_ALINE"
    handle: str  # Slack's user name
    name: str  # display / real name
    tz: str  # Slack profile time zone
    email: str | None  # Slack profile email: what maps a Slack user to Entra
    id: str | None = None  # Entra object id
    upn: str | None = None  # Entra user principal name
    # What Slack says of the account (users.info); the defaults are a full member.
    kind: PersonKind = "member"
    active: bool = True
    team: str | None = None  # another organisation's Slack team (Slack Connect)
    email_confirmed: bool = True

    @property
    def key(self) -> PersonKey:
        """How the bot's core knows them: `slack:U_ALINE`."""
        return slack(self.slack_id)


def _entra(upn: str) -> tuple[str, str, str]:
    """(object id, UPN, display name) of the seeded Entra user with this UPN."""
    for user in _SEED.users:
        if user.upn.lower() == upn.lower():
            return user.id, user.upn, user.display_name
    raise LookupError(f"{upn} is not in the sandbox seed")


def _seeded(slack_id: str) -> Person:
    """A person seeded in both the workspace and the tenant (matched by email = UPN)."""
    person = _slack_only(slack_id)
    entra_id, upn, name = _entra(person.email or "")
    assert name == person.name, f"the seeds disagree about {slack_id}'s name"
    return replace(person, id=entra_id, upn=upn)


def _slack_only(slack_id: str) -> Person:
    """A person seeded in the workspace, as its users.info describes them."""
    (user,) = [u for u in CONTOSO_USERS if u.id == slack_id]
    guest = user.is_restricted or user.is_ultra_restricted
    kind: PersonKind = "guest" if guest else "member"
    return Person(
        slack_id,
        user.name,
        user.real_name,
        user.tz,
        user.email,
        kind=kind,
        active=not user.deleted,
        team=user.team_id,
        email_confirmed=user.is_email_confirmed,
    )


def _entra_only(slack_id: str, handle: str, upn: str, tz: str = "UTC") -> Person:
    """A tenant user the workspace does not seed: their Slack side is made up here."""
    entra_id, upn, name = _entra(upn)
    return Person(slack_id, handle, name, tz, upn, entra_id, upn)


# -- people --------------------------------------------------------------------------
ALINE = _seeded("U_ALINE")  # Helpdesk engineer: the requester in most tests
ADMIN = _seeded("U_ADMIN")  # MOD Administrator: Global Administrator, approves
MEGAN = _seeded("U_MEGAN")  # Security lead: Entra approver of Privileged Role Admin
ALEX = _seeded("U_ALEX")  # Marketing assistant: eligible for nothing
DIEGO = _entra_only("U_DIEGO", "diego", f"DiegoS@{DOMAIN}", "Europe/London")
ISAIAH = _seeded("U_ISAIAH")  # a guest in Slack: refused unless pimbot.yml allows guests
LEE = _entra_only("U_LEE", "lee", f"LeeG@{DOMAIN}")
NESTOR = _seeded("U_NESTOR")  # deactivated in Slack: refused
PATTI = _entra_only("U_PATTI", "patti", f"PattiF@{DOMAIN}")
# Slack users with no Entra account: one without an email, one from outside the tenant,
# one from another organisation's Slack team (Slack Connect).
NOMAIL = _slack_only("U_NOMAIL")
STRANGER = Person("U_STRANGER", "stranger", "Stranger", "UTC", "stranger@example.com")
KAI = _slack_only("U_KAI")
NOBODY = "U_NOBODY"  # a Slack user id that Slack itself does not know

PEOPLE = (ALINE, ADMIN, MEGAN, ALEX, DIEGO, ISAIAH, LEE, NESTOR, PATTI, NOMAIL, STRANGER, KAI)
# The Slack users the fake Slack and the fake directory know (U_NOBODY is not one).
SLACK_USERS = (ALINE, ADMIN, MEGAN, ALEX, DIEGO, ISAIAH, NESTOR, NOMAIL, STRANGER, KAI)


# -- groups and roles (ids as the seed has them) -------------------------------------
def _group(name: str) -> str:
    (group,) = [g.id for g in _SEED.groups if g.display_name == name]
    return group


def _role(name: str) -> str:
    (role,) = [r.id for r in _SEED.roles if r.display_name == name]
    return role


HELPDESK_GROUP = _group("IT Helpdesk (User)")  # Aline and the admin -> User Administrator
SECOPS_GROUP = _group("Security Operations")  # Aline, Diego, + Security Analysts (nested)
ANALYSTS_GROUP = _group("Security Analysts")  # Lee
PIM_APPROVERS_GROUP = _group("PIM Approvers")  # Megan and the admin
MESSAGING_GROUP = _group("Messaging Team")  # Isaiah

GLOBAL_ADMIN = _role("Global Administrator")  # approval by the admin (Entra's policy)
USER_ADMIN = _role("User Administrator")  # via IT Helpdesk; no approval
HELPDESK_ADMIN = _role("Helpdesk Administrator")  # Aline, permanently eligible
SECURITY_ADMIN = _role("Security Administrator")  # via Security Operations; ticket required
SECURITY_READER = _role("Security Reader")  # Diego
PRIV_ROLE_ADMIN = _role("Privileged Role Administrator")  # Diego; ticket, approval, MFA
GLOBAL_READER = _role("Global Reader")  # Megan
AUTH_ADMIN = _role("Authentication Administrator")  # Lee
BILLING_ADMIN = _role("Billing Administrator")  # Patti, permanently assigned
EXCHANGE_ADMIN = _role("Exchange Administrator")  # Aline, directly; MFA on activation
TEAMS_ADMIN = _role("Teams Administrator")  # Aline, directly; approval, default approvers

# -- the workspace's approvers user group --------------------------------------------
(APPROVERS_USERGROUP,) = [g.id for g in CONTOSO_USERGROUPS]  # S_PIM_APPROVERS

# -- the usual request ---------------------------------------------------------------
TICKET = "CONTOSO:Security-012345"  # matches pimbot.yml's ticket pattern
WHY = "invalidate refresh tokens"
CARD = f"activate user-admin 5h {TICKET} {WHY}"  # Aline's `/pim` text in most tests
