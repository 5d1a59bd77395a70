"""Claims challenges from Graph, read from its answers (see `bot.signin.acting.ActingAuth`).

Two shapes reach a client: the standard one (401, `WWW-Authenticate: Bearer ...,
error="insufficient_claims", claims="<base64 JSON>"`), and PIM's own for an activation
that needs an authentication context (400 `RoleAssignmentRequestAcrsValidationFailed`
whose message carries `&claims=<url-encoded JSON>`). `claims_from_response` reads either;
`ActingAuth` answers it once silently, or raises StepUpRequired.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from urllib.parse import unquote

import httpx

MFA_CLAIMS = '{"access_token":{"amr":{"values":["mfa"]}}}'
_PARAM = re.compile(r'(\w+)="([^"]*)"')
_PIM_CLAIMS = re.compile(r"&?claims=([^\s\"]+)")


def claims_from_header(header: str | None) -> str | None:
    """The decoded claims request of an insufficient_claims challenge, else None."""
    if not header or not header.lower().startswith("bearer"):
        return None
    params = dict(_PARAM.findall(header))
    if params.get("error") != "insufficient_claims" or not params.get("claims"):
        return None
    raw = params["claims"]
    try:
        decoded = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)).decode("utf-8")
        json.loads(decoded)
    except (binascii.Error, ValueError):
        return None
    return decoded


def claims_from_pim_error(body: object) -> str | None:
    """The claims to sign in with for PIM's refusal, else None: those its
    RoleAssignmentRequestAcrsValidationFailed message carries, or MFA for a
    RoleAssignmentRequestPolicyValidationFailed naming `MfaRule` (the self action needs a
    token from an MFA sign-in; the 400 carries no claims of its own:
    https://github.com/microsoftgraph/msgraph-sdk-powershell/issues/1808)."""
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return None
    message = str(error.get("message") or "")
    if error.get("code") == "RoleAssignmentRequestPolicyValidationFailed":
        return MFA_CLAIMS if "MfaRule" in message else None
    if error.get("code") != "RoleAssignmentRequestAcrsValidationFailed":
        return None
    found = _PIM_CLAIMS.search(message)
    return unquote(found.group(1)) if found else None


def claims_from_response(response: httpx.Response) -> str | None:
    if response.status_code == 401:
        return claims_from_header(response.headers.get("WWW-Authenticate"))
    if response.status_code == 400:
        try:
            return claims_from_pim_error(response.json())
        except ValueError:
            return None
    return None
