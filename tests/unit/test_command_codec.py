"""Kept commands survive the store: the reminder's Extend keeps the end it extends from."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.domain.command_codec import decode, encode
from bot.domain.command_types import ExtendRequest

END = datetime(2026, 11, 29, 14, 0, 0, 123456, tzinfo=UTC)


def test_an_extend_from_a_reminder_round_trips_with_its_end() -> None:
    command = ExtendRequest("R-1", timedelta(minutes=30), END)

    assert decode(encode(command)) == command


def test_an_extend_kept_before_it_carried_an_end_still_decodes() -> None:
    kept = {"command": "ExtendRequest", "request_id": "R-1", "duration": "PT1H"}

    assert decode(kept) == ExtendRequest("R-1", timedelta(hours=1), None)
