"""Conditional Access authentication context on activation: a self action on a role whose
policy names a context (e.g. "c1", an MFA step-up) needs a token that carries it.

Without it PIM answers 400 `RoleAssignmentRequestAcrsValidationFailed`, the claims to ask
for URL-encoded after `claims=` in the message; the client signs the user in again asking
for those claims, and retries. Seen from PIM (not a 401 `WWW-Authenticate` challenge):
"The error code RoleAssignmentRequestAcrsValidationFailed, followed by the failed claim
claims=%7B%22access_token%22%3A%7B%22acrs%22%3A%7B%22essential%22%3Atrue%2C%20%22value%22%3A%22c1%22%7D%7D%7D"
(https://doitpshway.com/automating-azure-pim-role-activation-secured-with-fido2passkey-with-powershell;
"when PIM requires FIDO/Passkey or specific MFA, the API returns 400 with a claims
challenge"). The text before `&claims=` is not documented; the sandbox's is its own.
"""

from __future__ import annotations

import json
from urllib.parse import quote

from bot.simulators.sandbox.errors import GraphFailure
from bot.simulators.sandbox.model import RoleSettings
from bot.simulators.sandbox.tokens import Caller

ACRS_FAILED = "RoleAssignmentRequestAcrsValidationFailed"


def claims_request(context: str) -> str:
    """The claims request that asks for authentication context `context`."""
    return json.dumps(
        {"access_token": {"acrs": {"essential": True, "value": context}}}, separators=(",", ":")
    )


def challenge(context: str) -> GraphFailure:
    """PIM's 400 for a missing authentication context, the claims in its message."""
    return GraphFailure(
        400,
        ACRS_FAILED,
        f"The access token does not satisfy the authentication context '{context}' that "
        f"this role requires.&claims={quote(claims_request(context), safe='')}",
    )


def require_auth_context(settings: RoleSettings, action: str, caller: Caller) -> None:
    """Raise PIM's challenge when a signed-in user's self action lacks the role's context
    (an application has no sign-in to step up; admin actions obey the Admin rules)."""
    context = settings.auth_context
    if context is None or action not in ("selfActivate", "selfExtend"):
        return
    if caller.kind == "user" and context not in caller.acrs:
        raise challenge(context)
