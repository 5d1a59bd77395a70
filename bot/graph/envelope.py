"""Graph's error envelope -> `bot.errors.GraphError` with a message fit for Slack."""

from __future__ import annotations

import re
from typing import Any

import httpx

from bot.errors import GraphError, GraphThrottled, GraphUnavailable

_POLICY_RULES = {
    "ExpirationRule": "the duration is longer than the role's PIM policy allows",
    "JustificationRule": "the role's PIM policy requires a justification",
    "TicketingRule": "the role's PIM policy requires a ticket number",
    "MfaRule": "the role's PIM policy requires multi-factor authentication",
    "ApprovalRule": "the role's PIM policy requires approval",
    "EnablementRule": "the role's PIM policy requires something the request is missing",
}

_CODES = {
    "RoleAssignmentExists": "That role is already active for this user.",
    "RoleAssignmentDoesNotExist": "That role is not active, so there is nothing to end or extend.",
    "PendingRoleAssignmentRequest": "A request for that role is already pending.",
    "ActiveDurationTooShort": "That is too short: PIM needs an activation of at least 5 minutes.",
    "RoleAssignmentRequestAcrsValidationFailed": (
        "The role requires a Conditional Access authentication context; "
        "activate it once in the Entra portal."
    ),
}

# Least-privileged Graph permission behind each path, to say what an admin must grant.
_PERMISSIONS = (
    ("roleAssignmentSchedule", "RoleAssignmentSchedule.ReadWrite.Directory"),
    ("roleEligibilitySchedule", "RoleEligibilitySchedule.Read.Directory"),
    ("roleManagementPolicy", "RoleManagementPolicy.Read.Directory"),
    ("roleDefinitions", "RoleManagement.Read.Directory"),
    ("/groups/", "GroupMember.Read.All"),
    ("/users", "User.Read.All"),
)

THROTTLED = "Microsoft Graph is throttling the bot right now. Please try again in a minute."
UNAVAILABLE = "Microsoft Graph is not responding right now. Please try again in a few minutes."
MAYBE_APPLIED = (
    "Microsoft Graph did not confirm the change, and it may have been applied. "
    "Check `/pim status` before trying again."
)


def error_from_response(response: httpx.Response, *, delegated: bool = False) -> GraphError:
    """Turn a non-retryable error response into the matching GraphError. `delegated`:
    the call carried a signed-in user's token, so a 403 is about *their* roles."""
    code, message, request_id = read_envelope(response)
    path = response.request.url.path
    if delegated and (response.status_code == 403 or code == "Authorization_RequestDenied"):
        text = _user_lacks_role(path)
    else:
        text = _user_message(response.status_code, code, message, path)
    return GraphError(text, code=code, status=response.status_code, request_id=request_id)


# With a delegated token Graph allows what the app's permission allows AND the user's own
# Entra roles allow (https://learn.microsoft.com/en-us/graph/api/resources/privilegedidentitymanagementv3-overview
# and each PIM API's "supported Microsoft Entra roles"): a 403 names a role the user lacks.
_READERS = (
    "Global Reader, Security Reader, Security Operator, Security Administrator or "
    "Privileged Role Administrator"
)
_USER_ROLES = (
    ("roleManagementPolicy", f"reading PIM policies needs one of: {_READERS}"),
    ("roleEligibilitySchedule", f"reading others' eligibilities needs one of: {_READERS}"),
    ("roleAssignmentSchedule", f"reading others' role assignments needs one of: {_READERS}"),
    ("/groups/", "reading group members needs Directory Readers (or a reader role above)"),
    ("/directory/administrativeUnits", "reading administrative units needs Directory Readers"),
)


def _user_lacks_role(path: str) -> str:
    need = next((n for fragment, n in _USER_ROLES if fragment in path), None)
    what = f": {need}" if need else ""
    return (
        "Microsoft Entra refused this for your account, not for the bot: your Entra "
        f"roles don't allow it{what}. Ask your PIM admin."
    )


def give_up(response: httpx.Response | None, *, maybe_applied: bool = False) -> GraphError:
    """The retry budget is spent: GraphThrottled for 429, GraphUnavailable otherwise."""
    if response is None:
        message = MAYBE_APPLIED if maybe_applied else UNAVAILABLE
        return GraphUnavailable(message, code="transportError")
    code, _, request_id = read_envelope(response)
    status = response.status_code
    if status == 429:
        return GraphThrottled(THROTTLED, code=code, status=status, request_id=request_id)
    message = MAYBE_APPLIED if maybe_applied else UNAVAILABLE
    return GraphUnavailable(message, code=code, status=status, request_id=request_id)


def read_envelope(response: httpx.Response) -> tuple[str, str, str | None]:
    """(code, message, request id) from `{"error": {...}}`, tolerating non-JSON bodies."""
    error = _error_object(response)
    inner = error.get("innerError") or error.get("innererror") or {}
    code = str(error.get("code") or f"http{response.status_code}")
    message = str(error.get("message") or response.reason_phrase)
    request_id = (inner.get("request-id") if isinstance(inner, dict) else None) or (
        response.headers.get("request-id")
    )
    return code, message, request_id


def _error_object(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    error = body.get("error") if isinstance(body, dict) else None
    return error if isinstance(error, dict) else {}


def _user_message(status: int, code: str, message: str, path: str) -> str:
    if code in _CODES:
        return _CODES[code]
    if code == "RoleAssignmentRequestPolicyValidationFailed":
        return _policy_message(message)
    if status == 401 or code == "InvalidAuthenticationToken":
        return (
            "Microsoft Graph rejected the bot's credentials. An admin should check "
            "AZURE_TENANT_ID, AZURE_CLIENT_ID and the client secret or certificate."
        )
    if status == 403 or code == "Authorization_RequestDenied":
        return (
            f"The bot lacks the Microsoft Graph permission {_permission_for(path)}; "
            "an admin must grant it (with admin consent)."
        )
    if status == 404:
        return "Microsoft Graph could not find that object."
    return f"Microsoft Graph refused the request: {message[:200]}"


def _policy_message(message: str) -> str:
    rules = [r for r in re.findall(r"[A-Za-z]+Rule", message) if r in _POLICY_RULES]
    if not rules:
        return "The request breaks the role's PIM policy."
    reasons = "; ".join(dict.fromkeys(_POLICY_RULES[r] for r in rules))
    return f"PIM refused the request: {reasons}."


def _permission_for(path: str) -> str:
    for fragment, permission in _PERMISSIONS:
        if fragment in path:
            return permission
    return "for this call"
