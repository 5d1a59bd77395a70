"""Which request is which: a request id bound for each Slack request (every log line and
Graph call made for it carries the id), and the kind of request, for the ack metric."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qs

from slack_bolt.async_app import AsyncApp, AsyncBoltRequest
from slack_bolt.middleware.async_middleware import AsyncMiddleware
from slack_bolt.response import BoltResponse

from bot.logs import bind_request_id, request_id_for

log = logging.getLogger("handlers.requests")

_KINDS = {
    "block_actions": "action",
    "view_submission": "view",
    "view_closed": "view",
    "event_callback": "event",
    "shortcut": "shortcut",
    "message_action": "shortcut",
    "block_suggestion": "options",
}


def install(app: AsyncApp) -> None:
    """A global middleware: before any listener runs (HTTP and Socket Mode alike), the
    request's id is bound in this task's context, which the listeners' tasks copy."""
    app.middleware(RequestId())


class RequestId(AsyncMiddleware):
    """A middleware object, not a function: Bolt calls a function middleware through
    `build_async_required_kwargs`, which builds every injectable argument (payload views,
    say, respond, ...) on each call, a cost paid on the ack path of every request; an
    `AsyncMiddleware` is called as `async_process(req=, resp=, next=)`
    (slack_bolt/app/async_app.py `async_dispatch`)."""

    async def async_process(
        self,
        *,
        req: AsyncBoltRequest,
        resp: BoltResponse,
        next: Callable[[], Awaitable[BoltResponse]],  # noqa: A002 - Bolt's keyword
    ) -> BoltResponse | None:
        body = req.body  # Never the text people typed: only ids.
        slack_id = slack_request_id(body)
        bind_request_id(request_id_for(slack_id))
        log.info("slack %s %s", kind_of(body), slack_id or "-")
        # What `next()` answers (None in Bolt's dispatch), as a function middleware would.
        return await next()


def slack_request_id(body: dict[str, Any]) -> str | None:
    """Slack's retry-safe id for the request: an event's `event_id` (the same on each of
    Slack's retries, https://api.slack.com/apis/events-api#retries), else the
    `trigger_id` of a command or interaction; None for anything else."""
    for key in ("event_id", "trigger_id"):
        value = body.get(key)
        if isinstance(value, str) and value:
            return value
    return None


def kind_of(body: dict[str, Any]) -> str:
    """command, action, view, event, shortcut, options, or other."""
    if "command" in body:
        return "command"
    return _KINDS.get(str(body.get("type", "")), "other")


def kind_of_raw(body: bytes, content_type: str) -> str | None:
    """`kind_of` for the raw HTTP body, parsed once; None if Bolt could not read it: it
    reads JSON (events) or a form (commands), an interaction's `payload` field a JSON
    object."""
    try:
        if content_type.startswith("application/json"):
            parsed = json.loads(body)
        else:
            form = parse_qs(body.decode("utf-8"))
            payload = form.get("payload")
            parsed = json.loads(payload[0]) if payload else {k: v[0] for k, v in form.items()}
    except (ValueError, UnicodeDecodeError):
        return None
    return kind_of(parsed) if isinstance(parsed, dict) else None
