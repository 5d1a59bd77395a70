"""MSAL public-client applications for device-code sign-in and silent refresh.

One `PublicClientApplication` is built per use around the user's own token cache, so
users never share a cache; the tenant's metadata is fetched once per process
(`http_cache`) and the sandbox's CA is trusted the same way as for the app identity.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msal

from bot.errors import ConfigError
from bot.graph.tls import requests_session
from bot.settings import Settings


@dataclass(slots=True)
class PublicApps:
    """Builds `msal.PublicClientApplication`s for the app registration in the settings."""

    tenant_id: str
    client_id: str
    authority_host: str
    scopes: list[str]
    ca_file: Path | None = None
    _session: Any = field(default=None, init=False, repr=False)
    _http_cache: dict[Any, Any] = field(default_factory=dict, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    @classmethod
    def from_settings(cls, settings: Settings) -> PublicApps:
        """Delegated scope: Graph's `.default`, i.e. the permissions consented for the app."""
        if not (settings.azure_tenant_id and settings.azure_client_id):
            raise ConfigError("AZURE_TENANT_ID and AZURE_CLIENT_ID must both be set.")
        return cls(
            tenant_id=settings.azure_tenant_id,
            client_id=settings.azure_client_id,
            authority_host=settings.azure_authority_host.rstrip("/"),
            scopes=[f"{settings.pim_graph_url.rstrip('/')}/.default"],
            ca_file=settings.pim_ca_file,
        )

    def build(self, cache: msal.SerializableTokenCache) -> msal.PublicClientApplication:
        """An application over `cache` (blocking: may fetch the tenant metadata once)."""
        with self._lock:
            if self._session is None:
                self._session = requests_session(self.ca_file, self.authority_host)
        return msal.PublicClientApplication(
            self.client_id,
            authority=f"{self.authority_host}/{self.tenant_id}",
            token_cache=cache,
            http_client=self._session,
            http_cache=self._http_cache,
            # Discovery would ask login.microsoftonline.com to vouch for the sandbox host.
            instance_discovery=False,
            # "cp1": we handle claims challenges, so Graph sends them (CAE, auth context)
            # instead of failing outright, and may revoke our tokens in near real time.
            client_capabilities=["cp1"],
        )

    def close(self) -> None:
        if self._session is not None:
            self._session.close()
