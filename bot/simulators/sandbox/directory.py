"""Users and groups: lookups and (transitive) membership, as Graph's directory answers."""

from __future__ import annotations

from dataclasses import replace

from bot.simulators.sandbox.model import Group, User


class Directory:
    def __init__(self, users: tuple[User, ...], groups: tuple[Group, ...]) -> None:
        self.users = {u.id: u for u in users}
        self.groups = {g.id: g for g in groups}

    def user(self, id_or_upn: str) -> User | None:
        """By object id or userPrincipalName (UPNs compare case-insensitively, as in Entra)."""
        if id_or_upn in self.users:
            return self.users[id_or_upn]
        wanted = id_or_upn.lower()
        return next((u for u in self.users.values() if u.upn.lower() == wanted), None)

    def disable(self, user_id: str, enabled: bool) -> None:
        self.users[user_id] = replace(self.users[user_id], account_enabled=enabled)

    def delete(self, user_id: str) -> None:
        """Gone from the directory and from every group, as Entra deletes a user."""
        del self.users[user_id]
        for group in list(self.groups.values()):
            kept = tuple(m for m in group.members if m != user_id)
            self.groups[group.id] = replace(group, members=kept)

    def member_of(self, object_id: str, *, transitive: bool) -> list[Group]:
        """Groups that hold `object_id`, directly or through nested groups."""
        found: dict[str, Group] = {}
        frontier = [object_id]
        while frontier:
            current = frontier.pop()
            for group in self.groups.values():
                if current in group.members and group.id not in found:
                    found[group.id] = group
                    if transitive:
                        frontier.append(group.id)
        return sorted(found.values(), key=lambda g: g.display_name)

    def members(self, group_id: str, *, transitive: bool) -> list[User | Group]:
        """A group's members; transitively, nested groups and their members too."""
        seen: dict[str, User | Group] = {}
        frontier = [group_id]
        while frontier:
            group = self.groups[frontier.pop()]
            for member_id in group.members:
                if member_id in seen:
                    continue
                member: User | Group = self.users.get(member_id) or self.groups[member_id]
                seen[member_id] = member
                if transitive and isinstance(member, Group):
                    frontier.append(member_id)
        return list(seen.values())
