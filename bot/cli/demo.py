"""`pimbot demo`: the Contoso PIM tutorial as a scripted story, printed as a transcript.

It runs exactly what `pimbot run` runs without credentials — the sandbox tenant over TLS,
the local Slack workspace, the real Bolt app and its services, joined by signed HTTP — on
a free port with a throw-away SQLite database. The script acts through the workspace
page's own endpoints (what the browser calls), reads the bot's answers from the
workspace's state, and asks Graph (the bot's Graph client, against the sandbox) what it
now says.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import socket
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from bot.clock import OffsetClock
from bot.settings import Settings

Out = Callable[[str], None]
Message = dict[str, Any]
ALINE, ADMIN, MEGAN = "U_ALINE", "U_ADMIN", "U_MEGAN"
ALINE_UPN = "AlineD@m365x435773.onmicrosoft.com"
GENERAL, APPROVALS, DM = "C_GENERAL", "C_PIM_APPROVALS", "D_ALINE"
ACTIVATE = "/pim activate user-admin 5h CONTOSO:Security-012345 invalidate refresh tokens"
REQUEST = "/pim activate global-admin 2h CONTOSO:Security-012346 audit the break-glass accounts"
ANSWER_WITHIN = 20.0  # seconds for the bot to answer one step (Graph work included)
SETTLED = 3.0  # seconds a wrong answer must stand unchanged before the step fails
EMOJI = {
    ":white_check_mark:": "✅",
    ":lock:": "🔒",
    ":x:": "❌",
    ":hourglass_flowing_sand:": "⏳",
    ":alarm_clock:": "⏰",
    ":checkered_flag:": "🏁",
    ":information_source:": "ℹ️",
}


class StepFailed(Exception):
    """A step of the story did not turn out as the tutorial says."""


async def run_demo(settings: Settings, *, out: Out = print) -> int:
    """Tell the story; 0 when every step happened, 1 (after a `FAIL` line) otherwise."""
    logging.getLogger().setLevel(logging.WARNING)  # the transcript is the output
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="pimbot-demo-") as tmp:
        settings = _demo_settings(settings, Path(tmp))
        try:
            await _with_stack(settings, out)
        except StepFailed as exc:
            out(f"\nFAIL {exc}")
            return 1
    out(f"\nThe tutorial ran end to end in {time.monotonic() - started:.1f} s.")
    return 0


def _demo_settings(settings: Settings, tmp: Path) -> Settings:
    """Always the sandbox and the local workspace, with a database of its own."""
    return settings.model_copy(
        update={
            "azure_tenant_id": None,
            "azure_client_id": None,
            "slack_bot_token": None,
            "slack_app_token": None,
            "pim_database_url": f"sqlite:///{tmp / 'demo.db'}",
        }
    )


async def _with_stack(settings: Settings, out: Out) -> None:
    import uvicorn

    from bot.cli.run import build_local_stack, start_sandbox

    clock = OffsetClock()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    with contextlib.ExitStack() as stack:
        stack.callback(sock.close)
        settings, _tenant = start_sandbox(settings, clock, stack)
        local = await build_local_stack(settings, clock, sock.getsockname()[1])
        config = uvicorn.Config(local.app, lifespan="off", log_level="warning", access_log=False)
        server = uvicorn.Server(config)
        serving = asyncio.create_task(server.serve(sockets=[sock]))
        try:
            while not server.started:  # noqa: ASYNC110 - uvicorn offers only this flag
                await asyncio.sleep(0.01)
            out("pimbot demo — Microsoft's PIM tutorial (Contoso), through the real bot")
            out(f"  local Slack workspace {local.url} · sandbox Graph {settings.pim_graph_url}")
            async with httpx.AsyncClient(base_url=local.url, timeout=30) as http:
                await Story(http, local.services.graph, out).tell()
        finally:
            server.should_exit = True
            await serving
            await local.services.aclose()


class Story:
    """The tutorial, step by step: act on the page, read the answer, ask Graph."""

    def __init__(self, http: httpx.AsyncClient, graph: Any, out: Out) -> None:
        self.http, self.graph, self.out = http, graph, out
        self.people: dict[str, Any] = {}
        self.step = 0

    async def tell(self) -> None:
        self.people = (await self._state(ALINE))["people"]
        aline = await self.graph.get_user(ALINE_UPN)
        roles = {r.id: r.display_name for r in await self.graph.list_role_definitions()}

        self._title("Aline lists her roles")
        await self._type(ALINE, GENERAL, "/pim list", "User Administrator")
        for e in await self.graph.list_eligibilities(aline.id):
            via = f" via the group {e.via_group_name}" if e.via_group_name else " (direct)"
            self.out(f"   Graph: {aline.display_name} — eligible for {roles[e.role_id]}{via}")
        await self._graph_active(aline, roles, expect=None)

        self._title("Aline activates User Administrator for 5 hours, with a ticket")
        await self._type(ALINE, GENERAL, ACTIVATE, "active until")
        active = await self._graph_active(aline, roles, expect="User Administrator")
        _expect_runs(active, timedelta(hours=5))

        self._title("Half an hour later, Aline deactivates it: she is done")
        # Entra refuses a deactivation within 5 minutes of the activation.
        await self._fast_forward(timedelta(minutes=30))
        await self._type(ALINE, GENERAL, "/pim deactivate user-admin", "deactivated")
        await self._graph_active(aline, roles, expect=None)

        self._title("Aline asks for Global Administrator, which needs approval")
        await self._type(ALINE, GENERAL, REQUEST, "needs approval")
        card = await self._wait(ADMIN, APPROVALS, _has_button("Approve"), "the approval card")
        self._show(ADMIN, APPROVALS, card)
        await self._graph_active(aline, roles, expect=None)

        self._title("MOD Administrator approves in #pim-approvals: one of two approvals")
        await self._click(ADMIN, APPROVALS, card, "Approve")
        halfway = await self._wait(
            ADMIN, APPROVALS, _same_ts(card, _says("1 of 2 approvals")), "the card's count"
        )
        self._show(ADMIN, APPROVALS, halfway, updated=True)
        await self._graph_active(aline, roles, expect=None)

        self._title("Megan Bowen approves too: four eyes, and the role is activated")
        await self._click(MEGAN, APPROVALS, halfway, "Approve")
        decided = await self._wait(
            MEGAN, APPROVALS, _same_ts(card, lambda m: not _has_button("Approve")(m)), "card"
        )
        self._show(MEGAN, APPROVALS, decided, updated=True)
        outcome = await self._wait(ALINE, DM, _says("Global Administrator* was approved"), "DM")
        self._show(ALINE, DM, outcome)
        await self._graph_active(aline, roles, expect="Global Administrator")

        self._title("The clock moves on: a reminder before the end, then the end")
        await self._fast_forward(timedelta(hours=1, minutes=46))
        reminder = await self._wait(ALINE, DM, _says("Global Administrator* ends in"), "reminder")
        self._show(ALINE, DM, reminder)
        await self._fast_forward(timedelta(minutes=15))
        ended = await self._wait(ALINE, DM, _says("Global Administrator* has ended"), "notice")
        self._show(ALINE, DM, ended)
        await self._graph_active(aline, roles, expect=None)

    # -- acting on the page ----------------------------------------------------------------

    async def _type(self, user: str, channel: str, text: str, expect: str) -> Message:
        state = await self._state(user)
        known = {m["ts"] for m in state["messages"].get(channel, [])}
        where = self._channel_name(state, channel)
        self.out(f"   {self.people[user]['name']} › {text}   ({where})")
        await self._post("/ui/send", {"user": user, "channel": channel, "text": text})
        answer = await self._wait(
            user, channel, _new_and(known, _says(expect)), f"'{expect}'", known=known
        )
        self._show(user, channel, answer)
        return answer

    async def _click(self, user: str, channel: str, message: Message, label: str) -> None:
        block, element = _button(message, label)
        self.out(f"   {self.people[user]['name']} clicks [{label}] and confirms")
        body = {
            "user": user,
            "channel": channel,
            "ts": message["ts"],
            "block_id": block["block_id"],
            "action_id": element["action_id"],
            "value": element.get("value"),
        }
        await self._post("/ui/action", body)

    async def _fast_forward(self, by: timedelta) -> None:
        self.out(f"   ⏩ fast-forward {_human(by)} (the page's fast-forward control)")
        await self._post("/ui/fast_forward", {"seconds": by.total_seconds()})

    async def _post(self, path: str, body: dict[str, Any]) -> None:
        response = await self.http.post(path, json=body)
        if response.status_code != 200:
            raise StepFailed(f"step {self.step}: the workspace refused {path}: {response.text}")

    async def _state(self, user: str, since: int | None = None) -> dict[str, Any]:
        params: dict[str, str | int] = {"user": user}
        if since is not None:
            params["since"] = since
        response = await self.http.get("/ui/state", params=params)
        state: dict[str, Any] = response.json()
        return state

    async def _wait(
        self,
        user: str,
        channel: str,
        check: Callable[[Message], bool],
        what: str,
        *,
        known: set[str] | None = None,
    ) -> Message:
        """The newest bot message in `channel` that passes `check`, as `user` sees it. With
        `known` (the messages before a command), a new answer that fails the check and
        stands unchanged for SETTLED seconds fails the step at once."""
        deadline = time.monotonic() + ANSWER_WITHIN
        state, changed = await self._state(user), time.monotonic()
        while True:
            shown: list[Message] = state["messages"].get(channel, [])
            bot = [m for m in shown if m["user"] == state["bot"]]
            found = [m for m in bot if check(m)]
            if found:
                return found[-1]
            fresh = [m for m in bot if known is not None and m["ts"] not in known]
            now = time.monotonic()
            if fresh and now - changed > SETTLED:
                answer = render(fresh[-1], self.people).splitlines()[0]
                raise StepFailed(f"step {self.step}: expected {what}; pimbot answered: {answer}")
            if now > deadline:
                last = render(bot[-1], self.people) if bot else "nothing"
                raise StepFailed(
                    f"step {self.step}: no {what} from pimbot within {ANSWER_WITHIN:.0f} s;"
                    f" its last message there: {last}"
                )
            version = state["version"]
            state = await self._state(user, since=version)
            if state["version"] != version:
                changed = time.monotonic()

    # -- printing --------------------------------------------------------------------------

    def _title(self, title: str) -> None:
        self.step += 1
        self.out(f"\n{self.step}. {title}")

    def _show(self, user: str, channel: str, message: Message, *, updated: bool = False) -> None:
        if message["ephemeral"]:
            where = f"only visible to {self.people[user]['name']}"
        elif channel.startswith("D_"):
            where = f"DM to {self.people[user]['name']}"
        else:
            where = f"#{channel[2:].lower().replace('_', '-')}"
        verb = "updates the card" if updated else "answers"
        lines = render(message, self.people).splitlines() or [""]
        self.out(f"   pimbot {verb} ({where}): {lines[0]}")
        for line in lines[1:]:
            self.out(f"      {line}")

    @staticmethod
    def _channel_name(state: dict[str, Any], channel: str) -> str:
        name = next((c["name"] for c in state["channels"] if c["id"] == channel), channel)
        return f"#{name}"

    async def _graph_active(self, user: Any, roles: dict[str, str], *, expect: str | None) -> Any:
        active = [a for a in await self.graph.list_active(user.id) if a.role_id in roles]
        if not active:
            self.out(f"   Graph: {user.display_name} — no active role")
        for a in active:
            until = f"until {_hhmm(a.end)}" if a.end else "permanently"
            self.out(
                f"   Graph: {user.display_name} — {roles[a.role_id]} active {until}"
                f" ({a.assignment_type})"
            )
        names = [roles[a.role_id] for a in active]
        if expect is None and names:
            raise StepFailed(f"step {self.step}: Graph still shows {', '.join(names)} active")
        if expect is not None and expect not in names:
            raise StepFailed(f"step {self.step}: Graph does not show {expect} active")
        return next((a for a in active if roles[a.role_id] == expect), None)


def _human(by: timedelta) -> str:
    hours, minutes = divmod(int(by.total_seconds()) // 60, 60)
    return " ".join(
        p for p in (f"{hours} h" if hours else "", f"{minutes} min" if minutes else "") if p
    )


def _hhmm(when: datetime) -> str:
    return when.strftime("%a %d %b %H:%M UTC")


def _expect_runs(active: Any, duration: timedelta) -> None:
    if active is None or active.end is None or active.start is None:
        raise StepFailed("the activation has no start or end in Graph")
    if abs(active.end - active.start - duration) > timedelta(minutes=1):
        raise StepFailed(f"Graph's assignment runs {active.end - active.start}, not {duration}")


# -- reading messages ---------------------------------------------------------------------


def _says(text: str) -> Callable[[Message], bool]:
    return lambda m: text.lower() in (m["text"] + str(m["blocks"])).lower()


def _new_and(known: set[str], check: Callable[[Message], bool]) -> Callable[[Message], bool]:
    return lambda m: m["ts"] not in known and check(m)


def _same_ts(card: Message, check: Callable[[Message], bool]) -> Callable[[Message], bool]:
    return lambda m: m["ts"] == card["ts"] and check(m)


def _has_button(label: str) -> Callable[[Message], bool]:
    def check(message: Message) -> bool:
        try:
            _button(message, label)
        except StepFailed:
            return False
        return True

    return check


def _button(message: Message, label: str) -> tuple[dict[str, Any], dict[str, Any]]:
    for block in message["blocks"]:
        for element in block.get("elements", []) if block.get("type") == "actions" else []:
            if element.get("type") == "button" and element["text"]["text"] == label:
                return block, element
    raise StepFailed(f"no [{label}] button on the message")


def render(message: Message, people: dict[str, Any]) -> str:
    """A message as plain text: what a person reads in Slack, buttons as [Label]."""
    if not message["blocks"]:
        return _mrkdwn(message["text"], people)
    lines: list[str] = []
    for block in message["blocks"]:
        kind = block.get("type")
        if kind in ("section", "header") and block.get("text"):
            lines.append(_mrkdwn(block["text"]["text"], people))
        if kind == "section":
            lines.extend(_mrkdwn(f["text"], people) for f in block.get("fields", []))
        if kind == "context":
            parts = [_mrkdwn(e.get("text", ""), people) for e in block.get("elements", [])]
            lines.append(" · ".join(p for p in parts if p))
        if kind == "rich_text":  # someone's own words, quoted as they wrote them
            lines.append(f"> {_plain(block)}")
        if kind == "actions":
            labels = [e["text"]["text"] for e in block.get("elements", []) if "text" in e]
            lines.append(" ".join(f"[{label}]" for label in labels))
    return "\n".join(line for line in "\n".join(lines).splitlines() if line.strip())


def _mrkdwn(text: str, people: dict[str, Any]) -> str:
    for code, emoji in EMOJI.items():
        text = text.replace(code, emoji)

    def mention(match: re.Match[str]) -> str:
        person = people.get(match.group(1))
        return f"@{person['name']}" if person else match.group(0)

    text = re.sub(r"<@(\w+)>", mention, text)
    text = re.sub(r"<!date\^[^|>]*\|([^>]*)>", r"\1", text)  # a time: its fallback
    text = re.sub(r"(?<!\w)_(\S(?:.*?\S)?)_(?!\w)", r"\1", text)  # _italic_
    return re.sub(r"[*`]", "", text)


def _plain(node: Any) -> str:
    """The words of a rich-text block (Slack shows them as written)."""
    if isinstance(node, dict):
        own = node.get("text") if node.get("type") == "text" else ""
        return str(own or "") + _plain(node.get("elements", []))
    if isinstance(node, list):
        return "".join(_plain(n) for n in node)
    return ""
