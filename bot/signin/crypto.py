"""Encryption at rest for token caches: Fernet (AES-128-CBC + HMAC-SHA256) keyed by
`PIM_TOKEN_KEY`, a urlsafe-base64 32-byte key. Generate one with

    python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"

and keep it in the environment or a secret store, never in the database or pimbot.yml.
"""

from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken

from bot.errors import ConfigError
from bot.settings import Settings

GENERATE = (
    'python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"'
)


class TokenUnreadable(Exception):  # noqa: N818 - reads better at the call site
    """The stored ciphertext does not open with this key (wrong key, or tampered)."""


class TokenCipher:
    """Seals and opens token caches; the key never appears in repr or logs."""

    def __init__(self, key: str | bytes) -> None:
        try:
            self._fernet = Fernet(key)
        except (ValueError, TypeError):
            raise ConfigError(
                "PIM_TOKEN_KEY must be a urlsafe-base64 32-byte key. Generate one with: " + GENERATE
            ) from None

    def __repr__(self) -> str:
        return "TokenCipher(<key hidden>)"

    def seal(self, plaintext: bytes) -> bytes:
        return self._fernet.encrypt(plaintext)

    def open(self, sealed: bytes) -> bytes:
        try:
            return self._fernet.decrypt(sealed)
        except InvalidToken:
            raise TokenUnreadable("the token cache does not decrypt with PIM_TOKEN_KEY") from None


def cipher_from_settings(settings: Settings) -> TokenCipher:
    """The cipher for PIM_TOKEN_KEY; a ConfigError naming PIM_TOKEN_KEY if unset or bad."""
    if settings.pim_token_key is None:
        raise ConfigError(
            "graph.identity is 'user', so pimbot stores each user's Microsoft Entra tokens "
            "and needs PIM_TOKEN_KEY to encrypt them. Generate one with: " + GENERATE
        )
    return TokenCipher(settings.pim_token_key.get_secret_value())


def check_signin_config(settings: Settings) -> None:
    """Start-up check: in user mode, refuse to start without a usable PIM_TOKEN_KEY and
    the app registration's tenant and client ids. A no-op in application mode."""
    if settings.policy().graph.identity == "user":
        require_signin_config(settings)


def require_signin_config(settings: Settings) -> None:
    """User mode needs a usable PIM_TOKEN_KEY and both AZURE_* ids (ConfigError if not)."""
    cipher_from_settings(settings)
    if not (settings.azure_tenant_id and settings.azure_client_id):
        raise ConfigError(
            "graph.identity is 'user': set AZURE_TENANT_ID and AZURE_CLIENT_ID (a public "
            "client app registration with device code flow allowed)."
        )
