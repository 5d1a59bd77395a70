"""Trust for the login and Graph hosts: the usual roots plus `PIM_CA_FILE` when set."""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any

from bot.graph.wire import loopback


def trust(ca_file: Path | str | None) -> ssl.SSLContext:
    """The certifi roots, plus the extra CA (e.g. the sandbox's self-signed cert)."""
    import certifi

    context = ssl.create_default_context(cafile=certifi.where())
    if ca_file is not None:
        context.load_verify_locations(cafile=str(ca_file))
    return context


def requests_session(ca_file: Path | str | None, login_host: str) -> Any:
    """A requests.Session for MSAL that trusts `ca_file` on top of the usual roots.

    Setting `session.verify` is not enough: requests lets REQUESTS_CA_BUNDLE override
    it, so the extra CA rides in the adapter's SSL context, which urllib3 extends with
    whichever bundle requests picks.

    requests sends every host HTTPS_PROXY covers to the proxy, loopback included (only
    NO_PROXY exempts one); a `login_host` on loopback (the embedded sandbox) is called
    directly, as Graph's client calls it (bot/graph/wire.py `env_proxy`).
    """
    import requests
    from requests.adapters import HTTPAdapter

    class _TrustingAdapter(HTTPAdapter):
        def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
            kwargs["ssl_context"] = trust(ca_file)
            super().init_poolmanager(*args, **kwargs)

    session = requests.Session()
    if loopback(login_host):
        session.trust_env = False  # no proxy from the environment (nor netrc) for it
    if ca_file is not None:
        session.mount("https://", _TrustingAdapter())
    return session
