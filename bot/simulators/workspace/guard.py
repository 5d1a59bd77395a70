"""Keep other web pages out of the workspace page's endpoints.

The page acts as any seeded person, and with a real tenant configured its commands reach
Entra. So: the Host must be a loopback name or an IP literal (a DNS-rebinding page
arrives with its own domain name), a POST must be JSON (so a cross-site POST needs a CORS
preflight, which we never grant), and an Origin, when sent, must be this very host."""

from __future__ import annotations

import ipaddress

from starlette.requests import Request

LOOPBACK_NAMES = {"localhost", "localhost.localdomain"}


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def refusal(request: Request) -> str | None:
    """Why the request is refused, or None if it may proceed."""
    host = (request.url.hostname or "").lower()
    if host not in LOOPBACK_NAMES and not _is_ip(host):
        return "forbidden_host"
    origin = request.headers.get("origin")
    if origin is not None and origin != f"{request.url.scheme}://{request.url.netloc}":
        return "forbidden_origin"
    if request.method == "POST" and not request.headers.get("content-type", "").startswith(
        "application/json"
    ):
        return "unsupported_media_type"
    return None
