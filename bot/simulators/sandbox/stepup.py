"""Conditional Access authentication context on activation: a self action on a role whose
policy names a context (e.g. "c1", an MFA step-up) needs a token that carries it.

Without it Graph answers a claims challenge: 401 and `WWW-Authenticate: Bearer ...,
error="insufficient_claims", claims="<base64 of the claims request>"`; the client signs
the user in again asking for those claims, and retries.
"""

from __future__ import annotations

import base64
import json

from bot.simulators.sandbox.errors import GraphFailure
from bot.simulators.sandbox.model import RoleSettings
from bot.simulators.sandbox.tokens import Caller

_AUTHORIZE = "https://login.microsoftonline.com/common/oauth2/authorize"


def claims_request(context: str) -> str:
    """The claims request that asks for authentication context `context`."""
    return json.dumps(
        {"access_token": {"acrs": {"essential": True, "value": context}}}, separators=(",", ":")
    )


def challenge(context: str) -> GraphFailure:
    """Graph's claims challenge for a missing authentication context."""
    claims = base64.b64encode(claims_request(context).encode()).decode()
    header = (
        f'Bearer realm="", authorization_uri="{_AUTHORIZE}", '
        f'client_id="00000003-0000-0000-c000-000000000000", '
        f'error="insufficient_claims", claims="{claims}"'
    )
    return GraphFailure(
        401,
        "InvalidAuthenticationToken",
        f"The access token does not satisfy the authentication context '{context}' "
        "that activating this role requires.",
        {"WWW-Authenticate": header},
    )


def require_auth_context(settings: RoleSettings, action: str, caller: Caller) -> None:
    """Raise the claims challenge when a self action lacks the role's context."""
    context = settings.auth_context
    if context is None or action not in ("selfActivate", "selfExtend"):
        return
    if caller.kind == "user" and context not in caller.acrs:
        raise challenge(context)
