"""Token caches at rest: sealed with PIM_TOKEN_KEY, unreadable without it; user mode
refuses to start without the key."""

from __future__ import annotations

import base64
import json
import logging
from pathlib import Path

import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet, InvalidToken
from pydantic import SecretStr

from bot.domain.people import slack
from bot.errors import ConfigError
from bot.service.signins import SignInRequired
from bot.settings import Settings
from bot.signin.crypto import TokenCipher, check_signin_config
from bot.signin.tokens import UserTokens
from bot.store import SqlStore
from bot.store.user_tokens import SqlUserTokens
from tests.support.cast import ALINE
from tests.support.clock import FakeClock
from tests.support.settings import Identity, make_settings
from tests.support.signin import Browser, SignIn, log_in


def token_secrets(plaintext: str) -> list[str]:
    """The token values in a serialized MSAL cache: the sandbox's access tokens
    (`sbx.` + 43 random characters) and refresh tokens (`sbxrt.` + 43)."""
    cache = json.loads(plaintext)
    found = [
        entry["secret"]
        for kind in ("AccessToken", "RefreshToken")
        for entry in cache.get(kind, {}).values()
    ]
    assert {t.split(".", 1)[0] for t in found} == {"sbx", "sbxrt"}, found  # one of each
    assert all(len(t) >= 40 for t in found), found
    return found


def appears(secret: str, data: bytes) -> bool:
    """The token, or its random part alone, in `data`. Neither can occur by chance in
    random bytes or base64 (40+ characters); a token stored in clear always does."""
    random_part = secret.split(".", 1)[1]
    return secret.encode() in data or random_part.encode() in data


@pytest.mark.slow
async def test_tokens_are_unreadable_in_the_database_without_the_key(
    signin: SignIn, browser: Browser, store: SqlStore, settings: Settings, clock: FakeClock
) -> None:
    await log_in(signin, browser, "U_ALINE", ALINE.upn)
    plaintext = signin.tokens.cache_for(slack("U_ALINE")).serialize()
    secrets = token_secrets(plaintext)  # refresh and access tokens

    with store.engine.connect() as conn:
        (sealed,) = conn.execute(
            sa.text("SELECT sealed_cache FROM user_tokens WHERE person = 'slack:U_ALINE'")
        ).one()
    raw = bytes(sealed)
    assert not [t for t in secrets if appears(t, raw)]  # not as stored ...
    assert not [t for t in secrets if appears(t, base64.urlsafe_b64decode(raw))]  # ... nor decoded
    assert ALINE.upn.encode() not in raw and b'"AccessToken"' not in raw
    assert settings.pim_token_key is not None
    key = settings.pim_token_key.get_secret_value()
    assert Fernet(key).decrypt(raw).decode() == plaintext
    with pytest.raises(InvalidToken):
        Fernet(Fernet.generate_key()).decrypt(raw)

    # A bot started with another key cannot use them: the user is asked to sign in again.
    other = UserTokens(SqlUserTokens(store.engine), TokenCipher(Fernet.generate_key()), clock)
    with pytest.raises(SignInRequired):
        other.cache_for(slack("U_ALINE"))


@pytest.mark.slow
async def test_no_token_reaches_a_log_or_a_repr(
    signin: SignIn, browser: Browser, store: SqlStore, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # every logger: the bot's, MSAL's, httpx's
    await log_in(signin, browser, "U_ALINE", ALINE.upn)
    secrets = token_secrets(signin.tokens.cache_for(slack("U_ALINE")).serialize())

    row = SqlUserTokens(store.engine).get(slack("U_ALINE"))
    assert row is not None and "sealed_cache" not in repr(row)
    assert not [t for t in secrets if appears(t, repr(row).encode())]
    assert repr(TokenCipher(Fernet.generate_key())) == "TokenCipher(<key hidden>)"
    assert caplog.records  # the sign-in was logged ...
    assert not [t for t in secrets if appears(t, caplog.text.encode())]  # ... without tokens


def _settings(tmp_path: Path, identity: Identity, key: str | None = None) -> Settings:
    return make_settings(
        tmp_path,
        policy={},
        identity=identity,
        azure_tenant_id="t",
        azure_client_id="c",
        pim_token_key=SecretStr(key) if key else None,
    )


def test_user_mode_refuses_to_start_without_pim_token_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="PIM_TOKEN_KEY"):
        check_signin_config(_settings(tmp_path, "user"))


def test_a_malformed_key_is_refused_with_how_to_make_one(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="PIM_TOKEN_KEY.*Fernet.generate_key"):
        check_signin_config(_settings(tmp_path, "user", "too-short"))


def test_user_mode_starts_with_a_good_key(tmp_path: Path) -> None:
    key = Fernet.generate_key().decode()
    check_signin_config(_settings(tmp_path, "user", key))


def test_application_mode_needs_no_key(tmp_path: Path) -> None:
    check_signin_config(_settings(tmp_path, "application"))


def test_the_key_comes_from_pim_token_key_and_is_never_shown(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    key = Fernet.generate_key().decode()
    monkeypatch.setenv("PIM_TOKEN_KEY", key)

    settings = Settings(_env_file=None)

    assert settings.pim_token_key is not None
    assert settings.pim_token_key.get_secret_value() == key
    assert key not in repr(settings) and key not in str(settings)
