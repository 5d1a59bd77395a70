"""HTTP mode answers Slack the moment a listener acks, not at Bolt's next look.

With `process_before_response=False`, Bolt runs the listener in a task of its own and
looks whether it has acked every 10 ms (slack_bolt 1.30 listener/asyncio_runner.py:
`while ack.response is None and ...: await asyncio.sleep(0.01)`), so every answer waits
up to 10 ms after its ack, and under load until that sleep's turn on the loop comes round.
`answer_at_ack` hands Bolt an `EarlyAck` (Bolt keeps a context's `ack` when one is given,
slack_bolt context/async_context.py `ack`) that passes its response on as soon as it is
set, and answers with it; Bolt's dispatch ends in the background, its answer (the same
response, slack_bolt listener/asyncio_runner.py: `response = ack.response`) dropped.
Whatever Bolt answers without an ack (a middleware's refusal, no listener: 404) is
answered as before, once the dispatch returns.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable

from slack_bolt.adapter.starlette.async_handler import (
    AsyncSlackRequestHandler,
    to_starlette_response,
)
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.response import BoltResponse
from starlette.requests import Request
from starlette.responses import Response

log = logging.getLogger(__name__)

OnResponse = Callable[[BoltResponse], None]

# Dispatches still running after their answer went: the loop holds tasks only weakly
# (https://docs.python.org/3/library/asyncio-task.html#asyncio.create_task).
_RUNNING: set[asyncio.Task[Response]] = set()


class EarlyAck(AsyncAck):
    """Bolt's `ack`, calling `on_response` with its response once that is set (by `ack()`
    through slack_bolt's `_set_response`, or by Bolt's error path)."""

    def __init__(self, on_response: OnResponse | None = None) -> None:
        self.on_response = on_response
        super().__init__()  # type: ignore[no-untyped-call]

    @property  # over Bolt's plain attribute: set the same way, read the same way
    def response(self) -> BoltResponse | None:
        return self._response

    @response.setter
    def response(self, value: BoltResponse | None) -> None:
        self._response = value
        if value is not None and self.on_response is not None:
            self.on_response(value)


def on_response_of(ack: AsyncAck) -> OnResponse | None:
    """What `ack` tells of its response (for a middleware that replaces it)."""
    return ack.on_response if isinstance(ack, EarlyAck) else None


async def answer_at_ack(handler: AsyncSlackRequestHandler, request: Request) -> Response:
    """Bolt's answer to `request`: the listener's ack as soon as it acks, else what the
    dispatch returns."""
    answered: asyncio.Future[Response] = asyncio.get_running_loop().create_future()

    def acked(response: BoltResponse) -> None:
        if not answered.done():
            answered.set_result(to_starlette_response(response))

    dispatch = asyncio.ensure_future(handler.handle(request, {"ack": EarlyAck(acked)}))
    _RUNNING.add(dispatch)
    dispatch.add_done_callback(functools.partial(_dispatched, answered))
    return await answered


def _dispatched(answered: asyncio.Future[Response], dispatch: asyncio.Task[Response]) -> None:
    _RUNNING.discard(dispatch)
    if dispatch.cancelled():
        answered.cancel()
        return
    error = dispatch.exception()
    if answered.done():
        if error is not None:
            log.error("Bolt's dispatch failed after its ack", exc_info=error)
    elif error is not None:
        answered.set_exception(error)
    else:
        answered.set_result(dispatch.result())
