"""Safe OData pieces: quoted filter literals and encoded path segments."""

from __future__ import annotations

from urllib.parse import quote


def literal(value: str) -> str:
    """A quoted OData string literal: `O'Brien` -> `'O''Brien'`."""
    return "'" + value.replace("'", "''") + "'"


def eq(field: str, value: str) -> str:
    return f"{field} eq {literal(value)}"


def segment(value: str) -> str:
    """One URL path segment, fully encoded (UPNs of guests contain `#`)."""
    return quote(value, safe="")
