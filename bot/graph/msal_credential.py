"""MsalCredential: app-only tokens from Microsoft Entra ID via MSAL (secret or certificate)."""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.errors import ConfigError, GraphError, GraphUnavailable
from bot.graph.auth import AccessToken
from bot.graph.tls import requests_session
from bot.settings import Settings

_KEY_BLOCK = re.compile(
    r"-----BEGIN (?:[A-Z]+ )?PRIVATE KEY-----.+?-----END (?:[A-Z]+ )?PRIVATE KEY-----", re.S
)


@dataclass(slots=True)
class MsalCredential:
    """A `TokenSource` over `msal.ConfidentialClientApplication` (client credentials flow)."""

    tenant_id: str
    client_id: str
    authority_host: str
    scope: str
    credential: str | dict[str, str] = field(repr=False)
    ca_file: Path | None = None
    _app: Any = field(default=None, init=False, repr=False)
    _session: Any = field(default=None, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    @classmethod
    def from_settings(cls, settings: Settings) -> MsalCredential:
        """Validate the AZURE_* settings and build the credential (no network yet)."""
        if not (settings.azure_tenant_id and settings.azure_client_id):
            raise ConfigError("AZURE_TENANT_ID and AZURE_CLIENT_ID must both be set.")
        return cls(
            tenant_id=settings.azure_tenant_id,
            client_id=settings.azure_client_id,
            authority_host=settings.azure_authority_host.rstrip("/"),
            scope=f"{settings.pim_graph_url.rstrip('/')}/.default",
            credential=_client_credential(settings),
            ca_file=settings.pim_ca_file,
        )

    def __call__(self, *, force_refresh: bool) -> AccessToken:
        import requests

        try:
            app = self._application()
            if force_refresh:
                app.remove_tokens_for_client()  # else MSAL hands back the rejected token
            result = app.acquire_token_for_client(scopes=[self.scope])
        except (requests.RequestException, ValueError) as exc:
            # ValueError: MSAL could not read the tenant's metadata (bad host or tenant).
            raise GraphUnavailable(
                f"The bot could not reach the Microsoft Entra login service at "
                f"{self.authority_host} ({type(exc).__name__}). Please try again later.",
                code="loginUnavailable",
            ) from exc
        if "access_token" not in result:
            # error_description carries trace ids, never the secret; still keep it short.
            code = str(result.get("error", "token_error"))
            raise GraphError(
                f"The bot could not sign in to Microsoft Entra ID ({code}). An admin should "
                "check AZURE_TENANT_ID, AZURE_CLIENT_ID and the secret or certificate.",
                code=code,
                status=401,
            )
        return AccessToken(
            result["access_token"],
            float(result.get("expires_in", 3600)),
            from_cache=served_from_cache(result),
        )

    def close(self) -> None:
        """Close MSAL's keep-alive connections to the login host."""
        if self._session is not None:
            self._session.close()

    def _application(self) -> Any:
        # Built lazily and once: MSAL's constructor already fetches the tenant's metadata.
        with self._lock:
            if self._app is None:
                self._app = self._build()
            return self._app

    def _build(self) -> Any:
        import msal

        self._session = requests_session(self.ca_file, self.authority_host)
        return msal.ConfidentialClientApplication(
            self.client_id,
            client_credential=self.credential,
            authority=f"{self.authority_host}/{self.tenant_id}",
            http_client=self._session,
            # Discovery would ask login.microsoftonline.com to vouch for a non-Microsoft
            # host (the sandbox); tenant metadata is still fetched from the authority.
            instance_discovery=False,
        )


def served_from_cache(result: dict[str, Any]) -> bool:
    """Whether MSAL took the token from its cache rather than from the authority: MSAL
    Python marks every result `token_source` "cache", "identity_provider" or "broker"
    (msal/application.py, ClientApplication._TOKEN_SOURCE*; since 1.23 acquire_token_for_client
    looks in the cache first: https://github.com/AzureAD/microsoft-authentication-library-for-python/pull/581)."""
    return result.get("token_source") == "cache"


def _client_credential(settings: Settings) -> str | dict[str, str]:
    if settings.azure_client_secret is not None:
        return settings.azure_client_secret.get_secret_value()
    if settings.azure_client_certificate_path is not None:
        return certificate_credential(settings.azure_client_certificate_path)
    raise ConfigError("Set AZURE_CLIENT_SECRET or AZURE_CLIENT_CERTIFICATE_PATH.")


def certificate_credential(path: Path) -> dict[str, str]:
    """MSAL's certificate credential from one PEM holding the private key and certificate."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes

    try:
        pem = path.read_text(encoding="ascii")
        key = _KEY_BLOCK.search(pem)
        cert = x509.load_pem_x509_certificate(pem.encode("ascii"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"AZURE_CLIENT_CERTIFICATE_PATH: cannot read it ({exc}).") from None
    if key is None:
        raise ConfigError("AZURE_CLIENT_CERTIFICATE_PATH: the PEM holds no private key.")
    # Entra shows (and MSAL sends as x5t) the certificate's SHA-1 thumbprint.
    thumbprint = cert.fingerprint(hashes.SHA1()).hex().upper()  # noqa: S303 - a thumbprint, not a signature
    return {"private_key": key.group(0), "thumbprint": thumbprint}
