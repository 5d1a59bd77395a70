"""Role names as people type them (alias, display name, template id) -> `Role`."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable

from bot.domain.models import Role
from bot.domain.rules import RoleAliases
from bot.errors import ConfigError, InputError

# (default alias, display name, template id) for common Entra built-in roles. Template ids
# are the same in every tenant; checked against Microsoft's "Microsoft Entra built-in
# roles" reference (permissions-reference.md).
BUILTIN_ROLES: tuple[tuple[str, str, str], ...] = (
    ("app-admin", "Application Administrator", "9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3"),
    ("auth-admin", "Authentication Administrator", "c4e39bd9-1100-46d3-8c65-fb160da0071f"),
    (
        "auth-policy-admin",
        "Authentication Policy Administrator",
        "0526716b-113d-4c15-b2c8-68e3c22b9f80",
    ),
    ("billing-admin", "Billing Administrator", "b0f54661-2d74-4c50-afa3-1ec803f12efe"),
    ("cloud-app-admin", "Cloud Application Administrator", "158c047a-c907-4556-b7ef-446551a6b5f7"),
    ("cloud-device-admin", "Cloud Device Administrator", "7698a772-787b-4ac8-901f-60d6b08affd2"),
    ("compliance-admin", "Compliance Administrator", "17315797-102d-40b4-93e0-432062caca18"),
    ("ca-admin", "Conditional Access Administrator", "b1be1c3e-b65d-4f19-8427-f6fa0d97feb9"),
    ("directory-readers", "Directory Readers", "88d8e3e3-8f55-4a1e-953a-9b9898b8876b"),
    ("exchange-admin", "Exchange Administrator", "29232cdf-9323-42fd-ade2-1d097af3e4de"),
    ("global-admin", "Global Administrator", "62e90394-69f5-4237-9190-012177145e10"),
    ("global-reader", "Global Reader", "f2ef992c-3afb-46b9-b7cf-a126ee74c451"),
    ("groups-admin", "Groups Administrator", "fdd7a751-b60b-444a-984c-02652fe8fa1c"),
    ("helpdesk-admin", "Helpdesk Administrator", "729827e3-9c14-49f7-bb1b-9608f156bbb8"),
    (
        "hybrid-identity-admin",
        "Hybrid Identity Administrator",
        "8ac3fc64-6eca-42ea-9e69-59f4c7b60eb2",
    ),
    ("intune-admin", "Intune Administrator", "3a2c62db-5318-420d-8d74-23affee5d9d5"),
    ("license-admin", "License Administrator", "4d6ac14f-3453-41d0-bef9-a3e0c569773a"),
    ("password-admin", "Password Administrator", "966707d0-3269-4727-9be2-8c3a10f19b9d"),
    (
        "privileged-auth-admin",
        "Privileged Authentication Administrator",
        "7be44c8a-adaf-4e2a-84d6-ab2649e08a13",
    ),
    (
        "privileged-role-admin",
        "Privileged Role Administrator",
        "e8611ab8-c189-46e8-94e1-60213ab1f814",
    ),
    ("reports-reader", "Reports Reader", "4a5d8f65-41da-4de4-8968-e035b65339cf"),
    ("security-admin", "Security Administrator", "194ae4cb-b126-40b2-bd5b-6091b380977d"),
    ("security-operator", "Security Operator", "5f2222b1-57c3-48ba-8ad5-d4759f1fde6f"),
    ("security-reader", "Security Reader", "5d6b6bb7-de71-4623-b4af-96380a352509"),
    ("support-admin", "Service Support Administrator", "f023fd81-a637-4b56-95fd-791ac0226033"),
    ("sharepoint-admin", "SharePoint Administrator", "f28a1f50-f6e7-4571-818b-6a12f2af6b6c"),
    ("teams-admin", "Teams Administrator", "69091246-20e8-4a56-aa4d-066075b2a7a8"),
    ("user-admin", "User Administrator", "fe930be7-5e62-47db-91af-98c3a49a38b1"),
)

_GUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def normalise(text: str) -> str:
    """Lookup key: case, runs of whitespace and `_` vs `-` don't matter."""
    return " ".join(text.split()).casefold().replace("_", "-")


class RoleCatalog:
    """Every role name the bot understands; `pimbot.yml` aliases win over built-in ones."""

    def __init__(self, config: RoleAliases | None = None, extra: Iterable[Role] = ()) -> None:
        self._names: dict[str, str] = {}  # role id -> display name
        self._aliases: dict[str, str] = {}  # normalised alias -> role id
        self._preferred: dict[str, str] = {}  # role id -> alias shown to users
        for alias, name, role_id in BUILTIN_ROLES:
            self._add(role_id, name, alias)
        for role in extra:  # Graph's names are authoritative, including custom roles
            self._add(role.id.lower(), role.display_name, role.alias)
        for alias, cfg in (config.roles if config else {}).items():
            role_id = self._config_role_id(alias, cfg.role)
            self._aliases[normalise(alias)] = role_id
            self._preferred[role_id] = alias
        # A config alias may take over a built-in one; never show an alias that now
        # resolves to a different role.
        self._preferred = {
            i: a for i, a in self._preferred.items() if self._aliases.get(normalise(a)) == i
        }

    def resolve(self, text: str) -> Role:
        """Find a role by alias, display name or template id; unknown -> InputError."""
        role_id = self._lookup(text)
        if role_id is None:
            raise InputError(_unknown(text, self._suggest(text)))
        return self.by_id(role_id)

    def by_id(self, role_id: str) -> Role:
        """The role for a template id; an id we have no name for shows as itself."""
        key = role_id.lower()
        return Role(key, self._names.get(key, role_id), self._preferred.get(key))

    def alias_for(self, role_id: str) -> str | None:
        return self._preferred.get(role_id.lower())

    def roles(self) -> list[Role]:
        """All known roles, sorted by display name."""
        return sorted((self.by_id(i) for i in self._names), key=lambda r: r.display_name)

    def _add(self, role_id: str, name: str, alias: str | None) -> None:
        self._names[role_id] = name
        if alias:
            self._aliases.setdefault(normalise(alias), role_id)
            self._preferred.setdefault(role_id, alias)

    def _lookup(self, text: str) -> str | None:
        key = normalise(text.strip("`'\"“”"))
        for alias in (key, key.replace(" ", "-")):  # `global admin` means `global-admin`
            if alias in self._aliases:
                return self._aliases[alias]
        if _GUID.fullmatch(key) and key in self._names:
            return key
        return next((i for i, n in self._names.items() if normalise(n) == key), None)

    def _config_role_id(self, alias: str, value: str) -> str:
        key = normalise(value)
        if _GUID.fullmatch(key):
            # A custom role configured by id: Graph supplies its name later if it can.
            self._names.setdefault(key, value)
            return key
        role_id = self._lookup(value)
        if role_id is None:
            hint = _did_you_mean(self._suggest(value))
            raise ConfigError(
                f"roles.{alias}.role: `{value}` is not a known role name or template id.{hint}"
            )
        return role_id

    def _suggest(self, text: str) -> list[str]:
        shown = {normalise(a): a for a in self._aliases}
        shown |= {normalise(n): n for n in self._names.values()}
        close = difflib.get_close_matches(normalise(text), list(shown), n=3, cutoff=0.7)
        return [shown[c] for c in close]


def _did_you_mean(names: list[str]) -> str:
    if not names:
        return ""
    quoted = [f"`{n}`" for n in names]
    listed = quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " or " + quoted[-1]
    return f" Did you mean {listed}?"


def _unknown(text: str, suggestions: list[str]) -> str:
    shown = text.replace("`", "'")  # a backtick would end the code span
    shown = shown if len(shown) <= 40 else shown[:40] + "…"
    return (
        f"I don't know the role `{shown}`.{_did_you_mean(suggestions)} "
        "Run `/pim list` to see the roles you can activate."
    )
