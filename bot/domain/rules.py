"""What the domain reads of pimbot.yml, as Protocols: the settings models satisfy them.

The domain never imports `bot.settings` (an import contract checks it); any object with
these read-only attributes will do, so tests and other front ends can pass their own.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Protocol


class TicketRules(Protocol):
    """The ticket system: its name, the pattern a number must match, and an example."""

    @property
    def system(self) -> str: ...

    @property
    def pattern(self) -> str: ...

    @property
    def example(self) -> str: ...


class JustificationRules(Protocol):
    @property
    def min_length(self) -> int: ...

    @property
    def max_length(self) -> int: ...


class ApproverNames(Protocol):
    """Who pimbot.yml names as approvers of a role, by kind of reference."""

    @property
    def slack_users(self) -> Sequence[str]: ...

    @property
    def slack_usergroups(self) -> Sequence[str]: ...

    @property
    def entra_users(self) -> Sequence[str]: ...

    @property
    def entra_groups(self) -> Sequence[str]: ...


class RoleRules(Protocol):
    """One role alias of pimbot.yml: which role, and the bot-side rules on top of Graph's."""

    @property
    def role(self) -> str: ...

    @property
    def max_duration(self) -> timedelta | None: ...

    @property
    def approval(self) -> str: ...

    @property
    def ticket(self) -> str: ...

    @property
    def approvers(self) -> ApproverNames: ...

    @property
    def max_extensions(self) -> int: ...

    @property
    def approvals_required(self) -> int: ...


class PolicyRules(Protocol):
    """The file-wide rules the effective policy of every role starts from."""

    @property
    def default_max_duration(self) -> timedelta: ...

    @property
    def justification(self) -> JustificationRules: ...


class RoleAliases(Protocol):
    """pimbot.yml's role aliases (alias -> its rules)."""

    @property
    def roles(self) -> Mapping[str, RoleRules]: ...
