"""Log set-up (`PIM_LOG_FORMAT`) and the request id that follows one Slack request through
the bot and its Graph calls. The id lives in a contextvar: asyncio tasks started while a
request is handled (Bolt's listeners after the ack) copy it, so their lines carry it too."""

from __future__ import annotations

import json
import logging
import uuid
from contextvars import ContextVar, Token
from datetime import UTC, datetime
from typing import Literal

LogFormat = Literal["text", "json"]
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# Slack's own ids are not GUIDs; Graph wants a GUID in client-request-id, so a Slack id is
# mapped to one, the same every time (a Slack retry of one event gets the same request id).
_SLACK_IDS = uuid.UUID("0f5e3c1e-6d1c-4c53-9d8e-5b1c2a7e4f10")

_request_id: ContextVar[str | None] = ContextVar("pimbot_request_id", default=None)


def current_request_id() -> str | None:
    """The id of the request being handled in this context, if any."""
    return _request_id.get()


def request_id_for(slack_id: str | None) -> str:
    """A GUID for a request: derived from Slack's retry-safe id when there is one (an
    Events API `event_id`, an interaction's or command's `trigger_id`), else random."""
    if slack_id:
        return str(uuid.uuid5(_SLACK_IDS, slack_id))
    return str(uuid.uuid4())


def bind_request_id(value: str) -> Token[str | None]:
    """Make `value` the current request id (until `reset_request_id(token)`)."""
    return _request_id.set(value)


def reset_request_id(token: Token[str | None]) -> None:
    _request_id.reset(token)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request_id, and exc_info
    (the formatted traceback) when there is one. The message is formatted exactly as in
    text logs, so what is kept out of the text log is kept out of this one."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None) or current_request_id(),
        }
        if record.exc_info:
            line["exc_info"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)


def configure_logging(fmt: LogFormat) -> None:
    """The root logger's handler (stderr), as text or JSON lines. Like `basicConfig`, it
    leaves a root logger that already has handlers (a test runner's) alone."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT))
    logging.basicConfig(level=logging.INFO, handlers=[handler])
    # One line per Graph call drowns the bot's own log; failures are logged where handled.
    logging.getLogger("httpx").setLevel(logging.WARNING)
