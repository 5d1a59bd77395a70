"""Pure Block Kit builders, one module per surface: data in, `{"text", "blocks"}` out.

`base` holds the primitives; `replies` command and click replies; `reminders` the DMs
about a live activation; `cards` the approvals channel; `modal` the activation form;
`home` the App Home. The names most listeners need are re-exported here.
"""

from handlers.blocks.base import (
    MAX_FALLBACK_TEXT,
    MAX_MESSAGE_BLOCKS,
    MAX_PLAIN_TEXT,
    MAX_SECTION_TEXT,
    MAX_SURFACE_BLOCKS,
    Block,
    Message,
    button,
    clip,
    context,
    message,
    plain,
    section,
    when,
)
from handlers.blocks.reminders import EXTEND_CHOICES, HOUR, audit, ended, reminder
from handlers.blocks.replies import (
    error,
    help_message,
    internal_error,
    outcome,
    overview,
    working,
)

__all__ = [
    "EXTEND_CHOICES",
    "HOUR",
    "MAX_FALLBACK_TEXT",
    "MAX_MESSAGE_BLOCKS",
    "MAX_PLAIN_TEXT",
    "MAX_SECTION_TEXT",
    "MAX_SURFACE_BLOCKS",
    "Block",
    "Message",
    "audit",
    "button",
    "clip",
    "context",
    "ended",
    "error",
    "help_message",
    "internal_error",
    "message",
    "outcome",
    "overview",
    "plain",
    "reminder",
    "section",
    "when",
    "working",
]
