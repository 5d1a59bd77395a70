"""UserTokenSource: a `bot.graph.TokenSource` that speaks for one signed-in person.

Tokens come silently from the user's own MSAL cache (refreshing with the refresh token
as needed, and saving the rotated cache back). When there is nothing to refresh with,
or Entra refuses the refresh token (expired, revoked), it raises `SignInRequired`; when
Entra wants an interactive sign-in for requested claims, `StepUpRequired`.
"""

from __future__ import annotations

from typing import Any, NoReturn

from bot.domain.people import PersonKey
from bot.errors import GraphUnavailable
from bot.graph.auth import AccessToken
from bot.graph.msal_credential import served_from_cache
from bot.service.signins import EXPIRED_MESSAGE, SignInRequired, StepUpRequired
from bot.signin.challenge import MFA_CLAIMS
from bot.signin.msal_app import PublicApps
from bot.signin.tokens import UserTokens

# AADSTS codes that mean "the user must do more" (MFA, a registration, a device or
# Conditional Access step), not "the refresh token is dead":
# https://learn.microsoft.com/en-us/entra/identity-platform/reference-error-codes
STEP_UP_CODES = frozenset({50072, 50074, 50076, 50079, 50158})


class UserTokenSource:
    """Blocking token fetch for `person`, optionally asking for `claims`."""

    def __init__(
        self, apps: PublicApps, tokens: UserTokens, person: PersonKey, claims: str | None = None
    ) -> None:
        self._apps, self._tokens = apps, tokens
        self.person, self.claims = person, claims

    def __call__(self, *, force_refresh: bool) -> AccessToken:
        with self._tokens.lock_for(self.person):
            return self._fetch(force_refresh)

    def _fetch(self, force_refresh: bool) -> AccessToken:
        import requests

        cache = self._tokens.cache_for(self.person)
        try:
            app = self._apps.build(cache)
            accounts = app.get_accounts()
            if not accounts:
                raise SignInRequired(self.person)
            result: dict[str, Any] | None = app.acquire_token_silent_with_error(
                self._apps.scopes,
                accounts[0],
                force_refresh=force_refresh,
                claims_challenge=self.claims,
            )
        except (requests.RequestException, ValueError) as exc:
            raise GraphUnavailable(
                "The Microsoft Entra login service is not responding right now "
                f"({type(exc).__name__}). Please try again later.",
                code="loginUnavailable",
            ) from exc
        if result is None or "access_token" not in result:
            self._refused(result or {})
        self._tokens.refreshed(self.person, cache)
        return AccessToken(
            result["access_token"],
            float(result.get("expires_in", 3600)),
            from_cache=served_from_cache(result),
        )

    def _refused(self, result: dict[str, Any]) -> NoReturn:
        error = str(result.get("error") or "no_token")
        # Entra answers a refresh it will not serve without the user as invalid_grant
        # (AADSTS50076 "you must use multi-factor authentication", 50079, 50158 ...) or
        # interaction_required. When claims were asked for, or Entra names MFA, the way
        # out is a sign-in *with those claims*: a plain one would come back here again.
        codes = {int(c) for c in result.get("error_codes") or [] if str(c).isdigit()}
        if error in ("interaction_required", "invalid_grant"):
            if self.claims:
                raise StepUpRequired(self.claims, self.person)
            if codes & STEP_UP_CODES:
                raise StepUpRequired(str(result.get("claims") or MFA_CLAIMS), self.person)
        if error in ("invalid_grant", "no_token", "interaction_required"):
            # The refresh token is dead: forget it, so the App Home shows "not signed in".
            self._tokens.expire(self.person)
            raise SignInRequired(self.person, EXPIRED_MESSAGE)
        raise GraphUnavailable(
            f"Microsoft Entra refused to refresh your sign-in ({error}). Please try again "
            "later, or `/pim login` again.",
            code=error,
        )
