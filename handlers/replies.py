"""Run the work that follows an ack and always tell the user something: the result, the
`PimError`'s own message, or a generic line with a reference that is logged with the trace."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Protocol, TypeVar

import aiohttp
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_bolt.context.respond.internals import _build_message
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from bot.domain.people import PersonKey
from bot.errors import AlreadyRequested, NoLongerPossible, NotActive, PimError
from bot.service.approvals import AlreadyDecided
from handlers import blocks
from handlers import work as work_queue
from handlers.blocks.base import button, mention, when
from handlers.blocks.literal import escape

log = logging.getLogger("handlers")

Reply = Callable[[blocks.Message], Awaitable[Any]]
T = TypeVar("T")


class DirectMessages(Protocol):
    """Sends a DM (`handlers.notify.SlackNotifier`)."""

    async def send_dm(
        self, person: PersonKey, text: str, blocks: list[dict[str, Any]] | None = None
    ) -> None: ...


def new_ref() -> str:
    """A short reference the user can quote and we can grep for in the logs."""
    return secrets.token_hex(4).upper()


# Refusals that mean a button's action is over: its message is redrawn without it.
OVER = (NoLongerPossible, NotActive)


async def guarded(
    reply: Reply, work: Callable[[], Awaitable[blocks.Message]], *, failed: Reply | None = None
) -> bool:
    """`reply(await work())`; on failure reply with a safe message. True if it succeeded.
    `failed`, if given, takes the failures instead, but for the `OVER` refusals: a click's
    message keeps its buttons for another try unless their action is over. Through the
    app's work queue when it has one (handlers/work.py): when it is full the work is not
    started and the person is told the bot is busy."""
    queue = work_queue.current()
    if queue is None:
        return await _guarded(reply, work, failed)
    try:
        return await queue.submit(lambda: _guarded(reply, work, failed))
    except work_queue.Busy:
        await _safely(failed or reply, blocks.error(work_queue.BUSY))
        return False


async def _guarded(
    reply: Reply, work: Callable[[], Awaitable[blocks.Message]], failed: Reply | None
) -> bool:
    try:
        msg = await work()
    except PimError as exc:
        target = reply if failed is None or isinstance(exc, OVER) else failed
        await _safely(target, _refusal(exc))
        return False
    except Exception:  # noqa: BLE001 - the user gets a ref; the trace goes to the log
        ref = new_ref()
        log.exception("request failed (ref %s)", ref)
        await _safely(failed or reply, blocks.internal_error(ref))
        return False
    await _safely(reply, msg)
    return True


def _refusal(exc: PimError) -> blocks.Message:
    if isinstance(exc, AlreadyDecided) and exc.decided_by:
        at = f" at {when(exc.decided_at)}" if exc.decided_at else ""
        who = mention(exc.decided_by)
        return blocks.error(f"Request `{exc.request_id}` was already {exc.state} by {who}{at}.")
    if isinstance(exc, AlreadyRequested) and exc.cancellable:
        msg = blocks.error(escape(exc.user_message))
        cancel = button("Cancel request", "cancel_request", exc.request_id)
        return {**msg, "blocks": [*msg["blocks"], {"type": "actions", "elements": [cancel]}]}
    # The core's words may quote what the user typed (a role, a request id): no tags.
    return blocks.error(escape(exc.user_message))


async def _safely(reply: Reply, msg: blocks.Message) -> None:
    try:
        await reply(msg)
    except Exception:  # noqa: BLE001 - Slack itself failed: nowhere left to tell the user
        log.exception("could not deliver a reply to Slack")


def kept_respond(client: AsyncWebClient, response_url: str | None) -> AsyncRespond:
    """The `respond` Bolt hands a listener, for a response_url kept in the intake (a
    command or click replayed by another replica or after a restart)."""
    return AsyncRespond(response_url=response_url or None, proxy=client.proxy, ssl=client.ssl)


def ephemeral(respond: Callable[..., Awaitable[Any]], fallback: Reply | None = None) -> Reply:
    """A new ephemeral message through the response_url, after the ack's "Working on it…"
    (never `replace_original` for a command: Slack cannot replace a command's ack and
    posts a second message instead — https://github.com/slackapi/bolt-js/issues/2287,
    https://github.com/slackapi/bolt-python/issues/1268). If Slack refuses the URL
    (expired after 30 min or 5 uses: 404 `expired_url`/`used_url`), use `fallback` (a DM)
    so the user still hears the outcome."""
    return _through(respond, fallback, response_type="ephemeral", replace_original=False)


def redraw(respond: Callable[..., Awaitable[Any]], fallback: Reply | None = None) -> Reply:
    """Replace the message whose button was clicked, through the click's response_url
    (https://api.slack.com/interactivity/handling#updating_message_response): the outcome
    takes its place, and its used buttons go with it. Works for ephemeral messages too,
    which nothing else can update. `fallback` as in `ephemeral`."""
    return _through(respond, fallback, replace_original=True)


# Bolt's `respond` builds an AsyncWebhookClient without a session, so each post opens an
# aiohttp session and a connection and closes both (slack_sdk/webhook/async_client.py:
# "if not use_running_session: await session.close()"): under load, a TCP handshake and
# a session's set-up per reply. While `kept_responses()` is entered, replies on its loop
# go through one kept session instead.
_kept: tuple[asyncio.AbstractEventLoop, aiohttp.ClientSession] | None = None
RESPONSE_TIMEOUT_SECONDS = 30.0  # slack_sdk's AsyncWebhookClient default


@contextlib.asynccontextmanager
async def kept_responses(limit: int = 100) -> AsyncIterator[aiohttp.ClientSession]:
    """One aiohttp session, on the running loop, for every response_url reply made on that
    loop meanwhile (`pimbot run` enters it around serving). Its cookie jar keeps nothing:
    a reply for one person never carries a cookie Slack set on another's (as with Bolt's
    session per reply). `limit`: connections kept open at most."""
    global _kept
    if _kept is not None:
        raise RuntimeError("kept_responses is already entered")
    session = aiohttp.ClientSession(
        cookie_jar=aiohttp.DummyCookieJar(),
        connector=aiohttp.TCPConnector(limit=limit),
        timeout=aiohttp.ClientTimeout(total=RESPONSE_TIMEOUT_SECONDS),
    )
    _kept = (asyncio.get_running_loop(), session)
    try:
        yield session
    finally:
        _kept = None
        await session.close()


def _kept_session() -> aiohttp.ClientSession | None:
    """The kept session, if one is open on this loop (a session serves one loop only)."""
    if _kept is None or _kept[1].closed:
        return None
    loop, session = _kept
    return session if loop is asyncio.get_running_loop() else None


async def _respond(respond: Callable[..., Awaitable[Any]], **message: Any) -> Any:
    """`respond(**message)`, through the kept session when there is one. Only Bolt's own
    `AsyncRespond` is replaced (its URL is the signed request's response_url, checked by
    Bolt's signature verification before any listener runs); a wrapped one (the sandbox
    mark, test doubles) is called as is."""
    session = _kept_session()
    if session is None or type(respond) is not AsyncRespond or not respond.response_url:
        return await respond(**message)
    client = AsyncWebhookClient(
        url=respond.response_url, proxy=respond.proxy, ssl=respond.ssl, session=session
    )
    return await client.send_dict(_build_message(**message))  # the body Bolt's would send


def _through(
    respond: Callable[..., Awaitable[Any]], fallback: Reply | None, **how: object
) -> Reply:
    async def reply(msg: blocks.Message) -> None:
        sent = await _respond(respond, **how, **msg)
        status = getattr(sent, "status_code", 200)
        if status == 200:
            return
        log.warning("response_url refused (%s)%s", status, "; replying by DM" * bool(fallback))
        if fallback is not None:
            await fallback(msg)

    return reply


def to_dm(notifier: DirectMessages, person: PersonKey) -> Reply:
    """Reply by DM: for modal submissions and App Home buttons, which have no message to
    answer in."""

    async def reply(msg: blocks.Message) -> None:
        await notifier.send_dm(person, msg["text"], msg["blocks"])

    return reply


async def dm(notifier: DirectMessages, person: PersonKey, msg: blocks.Message) -> None:
    """Also send the outcome as a DM; a failed DM must not hide the outcome already shown."""
    try:
        await notifier.send_dm(person, msg["text"], msg["blocks"])
    except Exception:  # noqa: BLE001 - the ephemeral reply carried the outcome already
        log.warning("could not DM %s the outcome", person, exc_info=True)


def expect(kind: type[T], result: object) -> T:
    """The result a command is known to give (anything else is a bug, shown with a ref)."""
    if not isinstance(result, kind):
        raise TypeError(f"expected {kind.__name__}, got {type(result).__name__}")
    return result
