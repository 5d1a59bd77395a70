"""GraphAuth (token cache, one refresh on 401) and MsalCredential (secret / certificate)."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from bot.errors import ConfigError, GraphError, GraphUnavailable
from bot.graph.auth import AccessToken, GraphAuth
from bot.graph.msal_credential import MsalCredential, certificate_credential
from bot.settings import Settings
from tests.support.graph_fakes import FakeTimer
from tests.support.settings import make_settings


class Tokens:
    """A token source that issues tok-1, tok-2, … and records whether it was forced."""

    def __init__(self, lifetime: float = 3600) -> None:
        self.calls: list[bool] = []
        self.lifetime = lifetime

    def __call__(self, *, force_refresh: bool) -> AccessToken:
        self.calls.append(force_refresh)
        return AccessToken(f"tok-{len(self.calls)}", self.lifetime)


def client(auth: GraphAuth, handler: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url="https://graph.test", auth=auth, transport=httpx.MockTransport(handler)
    )


class TestGraphAuth:
    async def test_attaches_a_bearer_token_and_caches_it(self) -> None:
        tokens, seen = Tokens(), list[str]()

        def graph(request: httpx.Request) -> httpx.Response:
            seen.append(request.headers["Authorization"])
            return httpx.Response(200)

        async with client(GraphAuth(tokens), graph) as http:
            await http.get("/a")
            await http.get("/b")
        assert seen == ["Bearer tok-1", "Bearer tok-1"]
        assert tokens.calls == [False]

    async def test_a_401_refreshes_once_and_resends_once(self) -> None:
        tokens, seen = Tokens(), list[str]()

        def graph(request: httpx.Request) -> httpx.Response:
            seen.append(request.headers["Authorization"])
            ok = request.headers["Authorization"] == "Bearer tok-2"
            return httpx.Response(200 if ok else 401)

        async with client(GraphAuth(tokens), graph) as http:
            response = await http.get("/a")
        assert response.status_code == 200
        assert seen == ["Bearer tok-1", "Bearer tok-2"]
        assert tokens.calls == [False, True]

    async def test_a_second_401_is_returned_not_retried_again(self) -> None:
        tokens, seen = Tokens(), list[str]()

        def graph(request: httpx.Request) -> httpx.Response:
            seen.append(request.headers["Authorization"])
            return httpx.Response(401)

        async with client(GraphAuth(tokens), graph) as http:
            assert (await http.get("/a")).status_code == 401
        assert len(seen) == 2 and tokens.calls == [False, True]

    async def test_refreshes_shortly_before_expiry(self) -> None:
        timer, tokens = FakeTimer(), Tokens(lifetime=3600)
        auth = GraphAuth(tokens, refresh_margin=300, monotonic=timer.monotonic)
        assert await auth.token() == "tok-1"
        timer.now += 3200
        assert await auth.token() == "tok-1"
        timer.now += 100
        assert await auth.token() == "tok-2"

    async def test_requests_rejected_together_share_one_refresh(self) -> None:
        tokens = Tokens()
        auth = GraphAuth(tokens)
        first = await auth.token()
        again = await asyncio.gather(*(auth.token(rejected=first) for _ in range(3)))
        assert again == ["tok-2"] * 3
        assert tokens.calls == [False, True]

    async def test_concurrent_requests_fetch_one_token(self) -> None:
        tokens = Tokens()
        auth = GraphAuth(tokens)
        assert set(await asyncio.gather(*(auth.token() for _ in range(5)))) == {"tok-1"}
        assert tokens.calls == [False]

    def test_token_is_never_in_a_repr(self) -> None:
        assert "s3cret" not in repr(AccessToken("s3cret", 10))


def _settings(**values: Any) -> Settings:
    return make_settings(**{"azure_tenant_id": "tenant", "azure_client_id": "client", **values})


def _pem(tmp_path: Path) -> tuple[Path, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "pimbot")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    path = tmp_path / "app.pem"
    path.write_bytes(key_pem + cert.public_bytes(serialization.Encoding.PEM))
    return path, cert.fingerprint(hashes.SHA1()).hex().upper()  # noqa: S303


class FakeMsalApp:
    def __init__(self, result: dict[str, Any]) -> None:
        self.result = result
        self.cleared = 0

    def acquire_token_for_client(self, scopes: list[str]) -> dict[str, Any]:
        self.scopes = scopes
        return self.result

    def remove_tokens_for_client(self) -> None:
        self.cleared += 1


class TestMsalCredential:
    def test_uses_the_secret_authority_and_graph_scope(self) -> None:
        cred = MsalCredential.from_settings(
            _settings(
                azure_client_secret="s3cret",
                azure_authority_host="https://login.test/",
                pim_graph_url="https://graph.test/",
            )
        )
        assert cred.credential == "s3cret"
        assert cred.scope == "https://graph.test/.default"
        assert cred.authority_host == "https://login.test"
        assert "s3cret" not in repr(cred)

    def test_certificate_pem_gives_key_and_sha1_thumbprint(self, tmp_path: Path) -> None:
        path, thumbprint = _pem(tmp_path)
        cred = certificate_credential(path)
        assert cred["thumbprint"] == thumbprint
        assert cred["private_key"].startswith("-----BEGIN PRIVATE KEY-----")
        assert "CERTIFICATE" not in cred["private_key"]

    def test_missing_app_registration_is_a_config_error(self) -> None:
        with pytest.raises(ConfigError):
            MsalCredential.from_settings(_settings(azure_tenant_id=None))
        with pytest.raises(ConfigError, match="AZURE_CLIENT_SECRET"):
            MsalCredential.from_settings(_settings())

    def test_unreadable_certificate_is_a_config_error(self, tmp_path: Path) -> None:
        (tmp_path / "bad.pem").write_text("nope")
        with pytest.raises(ConfigError, match="AZURE_CLIENT_CERTIFICATE_PATH"):
            certificate_credential(tmp_path / "bad.pem")

    def test_force_refresh_drops_msal_cached_tokens(self) -> None:
        cred = MsalCredential.from_settings(_settings(azure_client_secret="s3cret"))
        app = FakeMsalApp({"access_token": "abc", "expires_in": 600})
        cred._app = app
        assert cred(force_refresh=False) == AccessToken("abc", 600.0)
        cred(force_refresh=True)
        assert app.cleared == 1
        assert app.scopes == ["https://graph.microsoft.com/.default"]

    def test_an_unreachable_login_host_is_graph_unavailable(self) -> None:
        cred = MsalCredential.from_settings(
            _settings(azure_client_secret="s3cret", azure_authority_host="https://127.0.0.1:9")
        )
        with pytest.raises(GraphUnavailable, match="login service"):
            cred(force_refresh=False)

    def test_a_refused_sign_in_is_a_graph_error_without_secrets(self) -> None:
        cred = MsalCredential.from_settings(_settings(azure_client_secret="s3cret"))
        cred._app = FakeMsalApp({"error": "invalid_client", "error_description": "AADSTS7000215"})
        with pytest.raises(GraphError) as caught:
            cred(force_refresh=False)
        assert caught.value.code == "invalid_client"
        assert "s3cret" not in caught.value.user_message
