"""Graph-style failures the sandbox raises; the app renders them in Graph's envelope."""

from __future__ import annotations

import json


class GraphFailure(Exception):
    """An error Graph would answer: HTTP status, Graph `code`, message, extra headers."""

    def __init__(
        self, status: int, code: str, message: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}


def policy_failed(rules: list[str]) -> GraphFailure:
    """PIM's policy validation error, naming each failed rule as Graph does."""
    return GraphFailure(
        400,
        "RoleAssignmentRequestPolicyValidationFailed",
        f"The following policy rules failed: {json.dumps(rules, separators=(',', ':'))}",
    )


def assignment_exists() -> GraphFailure:
    return GraphFailure(400, "RoleAssignmentExists", "The Role assignment already exists.")


def assignment_missing() -> GraphFailure:
    return GraphFailure(400, "RoleAssignmentDoesNotExist", "The Role assignment does not exist.")


def not_found(what: str, ident: str) -> GraphFailure:
    return GraphFailure(
        404,
        "Request_ResourceNotFound",
        f"Resource '{ident}' does not exist or one of its queried reference-property "
        f"objects are not present. ({what})",
    )


def bad_request(message: str, code: str = "BadRequest") -> GraphFailure:
    return GraphFailure(400, code, message)


def forbidden() -> GraphFailure:
    """Graph's answer to a caller without the permission or directory role a call needs."""
    return GraphFailure(
        403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation."
    )
