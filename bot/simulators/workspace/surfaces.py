"""Views: each person's modal stack, their App Home, and the trigger ids that open them."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from bot.simulators.workspace.blocks import normalise
from bot.simulators.workspace.seed import WorkspaceSeed
from bot.simulators.workspace.state import ApiError, Changes

TRIGGER_TTL = 3.0  # seconds, as Slack documents for trigger_id
MAX_STACK = 3  # views.push fails beyond three modals, as in Slack
_BODY_KEYS = (
    "type",
    "title",
    "close",
    "submit",
    "private_metadata",
    "callback_id",
    "notify_on_close",
    "clear_on_close",
    "external_id",
    "submit_disabled",
)


@dataclass
class View:
    id: str
    user: str
    body: dict[str, Any]
    hash: str = field(default_factory=lambda: secrets.token_hex(8))
    root_view_id: str = ""
    previous_view_id: str | None = None
    values: dict[str, Any] = field(default_factory=dict)  # Slack's state.values
    errors: dict[str, str] = field(default_factory=dict)  # from response_action: errors
    alert: str | None = None  # the modal's banner when the bot did not ack a submission

    def api(self, seed: WorkspaceSeed) -> dict[str, Any]:
        """The view object as the Web API and interaction payloads show it."""
        body = self.body
        return {
            "id": self.id,
            "team_id": seed.team_id,
            "type": body.get("type", "modal"),
            "title": body.get("title"),
            "close": body.get("close"),
            "submit": body.get("submit"),
            "blocks": body.get("blocks", []),
            "private_metadata": body.get("private_metadata", ""),
            "callback_id": body.get("callback_id", ""),
            "external_id": body.get("external_id", ""),
            "state": {"values": self.values},
            "hash": self.hash,
            "clear_on_close": bool(body.get("clear_on_close")),
            "notify_on_close": bool(body.get("notify_on_close")),
            "root_view_id": self.root_view_id or self.id,
            "previous_view_id": self.previous_view_id,
            "app_id": seed.app_id,
            "bot_id": seed.bot_id,
            "app_installed_team_id": seed.team_id,
        }


def _body(view: Any, kind: str) -> dict[str, Any]:
    if not isinstance(view, dict) or view.get("type") != kind:
        raise ApiError("invalid_arguments")
    body = {k: view[k] for k in _BODY_KEYS if k in view}
    return body | {"blocks": normalise(view.get("blocks"))}


class Surfaces:
    def __init__(self, changes: Changes) -> None:
        self._changes = changes
        self.views: dict[str, View] = {}
        self.stacks: dict[str, list[str]] = {}  # user -> modal view ids, top last
        self.homes: dict[str, str] = {}  # user -> home view id
        self._triggers: dict[str, tuple[str, float]] = {}  # trigger -> (user, issued)
        self._used: set[str] = set()  # triggers already exchanged for a view

    def issue_trigger(self, user: str) -> str:
        trigger = f"{int(time.time())}.{secrets.randbelow(10**9)}.{secrets.token_hex(16)}"
        now = time.monotonic()
        with self._changes.lock:
            # Most triggers are never used (every click issues one): forget old ones, but
            # late enough that a late views.open still hears "expired", not "invalid".
            self._triggers = {t: v for t, v in self._triggers.items() if now - v[1] <= 60}
            self._used &= self._triggers.keys()
            self._triggers[trigger] = (user, now)
        return trigger

    def redeem(self, trigger: str) -> str:
        """The user a trigger was issued to; a trigger works once and for 3 seconds
        (https://api.slack.com/methods/views.open#errors: `exchanged_trigger_id`,
        `expired_trigger_id`)."""
        with self._changes.lock:
            if trigger not in self._triggers:
                raise ApiError("invalid_trigger_id" if trigger else "invalid_arguments")
            if trigger in self._used:
                raise ApiError("exchanged_trigger_id")
            user, issued = self._triggers[trigger]
            if time.monotonic() - issued > TRIGGER_TTL:
                raise ApiError("expired_trigger_id")
            self._used.add(trigger)
        return user

    def _new(
        self, user: str, body: dict[str, Any], root: str = "", prev: str | None = None
    ) -> View:
        view = View(
            f"V{secrets.token_hex(5).upper()}", user, body, root_view_id=root, previous_view_id=prev
        )
        self.views[view.id] = view
        return view

    def open(self, trigger: str, view: Any) -> View:
        user, body = self.redeem(trigger), _body(view, "modal")
        with self._changes.mutate():
            new = self._new(user, body)
            self.stacks[user] = [new.id]
        return new

    def push(self, trigger: str, view: Any) -> View:
        return self.push_for(self.redeem(trigger), view)

    def push_for(self, user: str, view: Any) -> View:
        body = _body(view, "modal")
        with self._changes.mutate():
            stack = self.stacks.get(user, [])
            if not stack:
                raise ApiError("not_found")
            if len(stack) >= MAX_STACK:
                raise ApiError("push_limit_reached")
            new = self._new(user, body, root=stack[0], prev=stack[-1])
            stack.append(new.id)
        return new

    def update(self, view_id: str, external_id: str, view: Any, hash_: str | None) -> View:
        with self._changes.mutate():
            found = self.views.get(view_id) or next(
                (
                    v
                    for v in self.views.values()
                    if external_id and v.body.get("external_id") == external_id
                ),
                None,
            )
            if found is None:
                raise ApiError("not_found")
            if hash_ and hash_ != found.hash:
                raise ApiError("hash_conflict")
            self.replace(found, view)
            return found

    def replace(self, found: View, view: Any) -> None:
        """New content for a view in place: same id, new hash, errors cleared;
        typed values survive where block and action ids stay, as Slack keeps them."""
        found.body = _body(view, found.body.get("type", "modal"))
        found.hash, found.errors, found.alert = secrets.token_hex(8), {}, None

    def publish(self, user: str, view: Any, hash_: str | None) -> View:
        body = _body(view, "home")
        with self._changes.mutate():
            current = self.views.get(self.homes.get(user, ""))
            if current is None:
                current = self._new(user, body)
                self.homes[user] = current.id
            elif hash_ and hash_ != current.hash:
                raise ApiError("hash_conflict")
            else:
                self.replace(current, view)
            return current

    def close(self, user: str, view_id: str, *, clear: bool = False) -> None:
        with self._changes.mutate():
            stack = self.stacks.get(user, [])
            if clear or view_id not in stack:
                stack.clear()
            else:
                del stack[stack.index(view_id) :]

    def top(self, user: str) -> View | None:
        stack = self.stacks.get(user)
        return self.views[stack[-1]] if stack else None

    def home(self, user: str) -> View | None:
        return self.views.get(self.homes.get(user, ""))

    def set_errors(self, view: View, errors: dict[str, str], alert: str | None = None) -> None:
        with self._changes.mutate():
            view.errors, view.alert = dict(errors), alert

    def set_values(self, view: View, values: dict[str, Any]) -> None:
        with self._changes.mutate():
            view.values = values
