"""The slice of OData the PIM calls use: `eq`/`and` filters, $top/$skiptoken paging, $expand."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from starlette.requests import Request

from bot.simulators.sandbox.errors import bad_request

GRAPH_ROOT = "https://graph.microsoft.com/v1.0/"
_CLAUSE = re.compile(r"\s*(\w+)\s+eq\s+'((?:[^']|'')*)'\s*", re.IGNORECASE)
_AND = re.compile(r"\s+and\s+", re.IGNORECASE)


def parse_filter(text: str | None, allowed: Sequence[str]) -> dict[str, str]:
    """`a eq 'x' and b eq 'y'` -> {"a": "x", "b": "y"}; other syntax is a 400, like Graph."""
    if not text:
        return {}
    clauses: dict[str, str] = {}
    for part in _AND.split(text.strip()):
        match = _CLAUSE.fullmatch(part)
        if match is None:
            raise bad_request(f"Invalid filter clause: {part!r}.")
        field = next((a for a in allowed if a.lower() == match.group(1).lower()), None)
        if field is None:
            raise bad_request(f"Unsupported filter property '{match.group(1)}'.")
        clauses[field] = match.group(2).replace("''", "'")
    return clauses


def expands(request: Request) -> str:
    """The raw $expand option, lower-cased (we only test for the names we support)."""
    return request.query_params.get("$expand", "").lower()


def collection(
    request: Request, context: str, items: Sequence[Any], page_size: int
) -> dict[str, Any]:
    """A Graph collection page with `@odata.nextLink` when more remain.

    $top sets the page size (capped by the server's); $skiptoken is an opaque offset.
    """
    size = page_size
    if "$top" in request.query_params:
        try:
            size = max(1, min(int(request.query_params["$top"]), 999))
        except ValueError as exc:
            raise bad_request("Invalid value for $top.") from exc
    size = min(size, page_size)
    offset = _offset(request.query_params.get("$skiptoken"))
    body: dict[str, Any] = {
        "@odata.context": GRAPH_ROOT + "$metadata#" + context,
        "value": [select(request, item) for item in items[offset : offset + size]],
    }
    if offset + size < len(items):
        query = {k: v for k, v in request.query_params.items() if k != "$skiptoken"}
        query["$skiptoken"] = f"sbx{offset + size}"
        body["@odata.nextLink"] = str(request.url.replace_query_params(**query))
    return body


def entity(context: str, body: dict[str, Any], request: Request | None = None) -> dict[str, Any]:
    shown = select(request, body) if request is not None else body
    return {"@odata.context": GRAPH_ROOT + "$metadata#" + context + "/$entity"} | shown


_NAVIGATION = ("roleDefinition", "principal", "policy")
# Properties Graph returns only when $select names them: a user's `accountEnabled`
# (https://learn.microsoft.com/en-us/graph/api/resources/user: "Returned only on $select").
_SELECT_ONLY = frozenset({"accountEnabled"})


def select(request: Request, item: dict[str, Any]) -> dict[str, Any]:
    """Apply $select as Graph does: only the named properties, plus annotations
    (`@odata.type`) and expanded navigation properties."""
    raw = request.query_params.get("$select")
    if not raw:
        return {k: v for k, v in item.items() if k not in _SELECT_ONLY}
    wanted = {name.strip().lower() for name in raw.split(",") if name.strip()}
    return {
        k: v
        for k, v in item.items()
        if k.lower() in wanted or "@" in k or (k in _NAVIGATION and k.lower() in expands(request))
    }


def _offset(token: str | None) -> int:
    if not token:
        return 0
    if not token.startswith("sbx") or not token[3:].isdigit():
        raise bad_request("Invalid $skiptoken.", code="Request_BadRequest")
    return int(token[3:])
