"""Commands to and from plain JSON-able data, so work kept for later stores the command."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta
from typing import Any

from bot.domain.command_types import (
    Activate,
    Approve,
    Cancel,
    Command,
    Deactivate,
    DeactivateRequest,
    Deny,
    Extend,
    ExtendRequest,
    ResumeRequest,
)
from bot.domain.durations import parse_duration, to_iso
from bot.errors import InputError

# Only what may wait for a sign-in is ever kept; the rest is answered at once.
KEEPABLE: dict[str, type[Command]] = {
    cls.__name__: cls
    for cls in (
        Activate,
        Deactivate,
        Extend,
        Cancel,
        ExtendRequest,
        DeactivateRequest,
        Approve,
        Deny,
        ResumeRequest,
    )
}


def keepable(command: Command) -> bool:
    return type(command).__name__ in KEEPABLE


def encode(command: Command) -> dict[str, Any]:
    """`{"command": "Activate", "role": ..., "duration": "PT5H", ...}`"""
    if not keepable(command):
        raise ValueError(f"{type(command).__name__} is never kept")
    data: dict[str, Any] = {"command": type(command).__name__}
    for field in dataclasses.fields(command):
        value = getattr(command, field.name)
        if isinstance(value, timedelta):
            value = to_iso(value)
        elif isinstance(value, datetime):
            value = value.isoformat()
        data[field.name] = value
    return data


def decode(data: dict[str, Any]) -> Command:
    """The command `encode` wrote; InputError if it names none we keep."""
    cls = KEEPABLE.get(str(data.get("command")))
    if cls is None:
        raise InputError("That kept request is no longer understood; please ask again.")
    values: dict[str, Any] = {}
    for field in dataclasses.fields(cls):
        if field.name not in data and field.default is not dataclasses.MISSING:
            continue  # kept before the field existed: its default
        value = data.get(field.name)
        if field.name == "duration" and value is not None:
            value = parse_duration(str(value))
        elif field.name == "from_end" and value is not None:
            value = datetime.fromisoformat(str(value))
        values[field.name] = value
    return cls(**values)
