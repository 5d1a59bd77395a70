"""Authorization like Graph's: which application permissions each call accepts, and which
directory roles a signed-in user needs to read PIM data that isn't their own.

Application (app-only) tokens carry the permissions granted to the app registration
(seed.yml `application.permissions`, changed by POST /sandbox/permissions). A call that
none of them covers gets Graph's 403 `Authorization_RequestDenied` "Insufficient
privileges to complete the operation.". Each entry lists the permissions Graph's
per-endpoint table accepts (least privileged first), from the Graph v1.0 reference:
- roleManagement/directory/roleDefinitions: RoleManagement.Read.Directory ...
  (https://learn.microsoft.com/en-us/graph/api/rbacapplication-list-roledefinitions)
- roleEligibilitySchedule(Instance)s: RoleEligibilitySchedule.Read.Directory ...
  (https://learn.microsoft.com/en-us/graph/api/rbacapplication-list-roleeligibilityscheduleinstances)
- roleAssignmentSchedule(Instance)s and requests, read: RoleAssignmentSchedule.Read.Directory ...
  (https://learn.microsoft.com/en-us/graph/api/rbacapplication-list-roleassignmentscheduleinstances)
- roleAssignmentScheduleRequests, create and cancel: RoleAssignmentSchedule.ReadWrite.Directory
  (https://learn.microsoft.com/en-us/graph/api/rbacapplication-post-roleassignmentschedulerequests)
- policies/roleManagementPolicyAssignments: RoleManagementPolicy.Read.Directory ...
  (https://learn.microsoft.com/en-us/graph/api/policyroot-list-rolemanagementpolicyassignments)
- roleManagement/directory/roleAssignments, read: RoleManagement.Read.Directory ...
  (https://learn.microsoft.com/en-us/graph/api/rbacapplication-list-roleassignments)
- users, their memberOf / transitiveMemberOf: User.Read.All ...
  (https://learn.microsoft.com/en-us/graph/api/user-list-transitivememberof)
- groups and their members: GroupMember.Read.All ...
  (https://learn.microsoft.com/en-us/graph/api/group-list-members)
- directory/administrativeUnits: AdministrativeUnit.Read.All ...
  (https://learn.microsoft.com/en-us/graph/api/administrativeunit-list)
- users/{id}/revokeSignInSessions: User.RevokeSessions.All ...
  (https://learn.microsoft.com/en-us/graph/api/user-revokesigninsessions)
A path this table does not know is refused: the emulator refuses where unsure.
"""

from __future__ import annotations

import re

from bot.simulators.sandbox.errors import forbidden
from bot.simulators.sandbox.tokens import Caller

_RM = r"/v1\.0/roleManagement/directory/"
_ROLE_READ = ("RoleManagement.Read.Directory", "RoleManagement.Read.All")
_ROLE_WRITE = ("RoleManagement.ReadWrite.Directory",)
_DIRECTORY = ("Directory.Read.All", "Directory.ReadWrite.All")
_ELIGIBILITY_READ = (
    "RoleEligibilitySchedule.Read.Directory",
    "RoleEligibilitySchedule.ReadWrite.Directory",
    *_ROLE_READ,
    *_ROLE_WRITE,
)
_ASSIGNMENT_READ = (
    "RoleAssignmentSchedule.Read.Directory",
    "RoleAssignmentSchedule.ReadWrite.Directory",
    *_ROLE_READ,
    *_ROLE_WRITE,
)
_ASSIGNMENT_WRITE = ("RoleAssignmentSchedule.ReadWrite.Directory", *_ROLE_WRITE)
_POLICY_READ = (
    "RoleManagementPolicy.Read.Directory",
    "RoleManagementPolicy.ReadWrite.Directory",
    *_ROLE_READ,
    *_ROLE_WRITE,
)
_USERS = ("User.Read.All", "User.ReadWrite.All", *_DIRECTORY)
_MEMBERSHIP = ("User.Read.All", "GroupMember.Read.All", "Group.Read.All", *_DIRECTORY)
_GROUPS = ("GroupMember.Read.All", "Group.Read.All", *_DIRECTORY)
_UNITS = ("AdministrativeUnit.Read.All", "AdministrativeUnit.ReadWrite.All", *_DIRECTORY)
_REVOKE = ("User.RevokeSessions.All", "User.ReadWrite.All", "Directory.ReadWrite.All")

# (method or None for any read, path pattern, accepted permissions); first match wins.
APPLICATION_PERMISSIONS: tuple[tuple[str | None, re.Pattern[str], tuple[str, ...]], ...] = tuple(
    (method, re.compile(pattern), accepted)
    for method, pattern, accepted in (
        ("GET", _RM + r"roleDefinitions(/[^/]+)?", (*_ROLE_READ, *_ROLE_WRITE, *_DIRECTORY)),
        ("GET", _RM + r"roleEligibilitySchedule(Instance)?s(/.*)?", _ELIGIBILITY_READ),
        ("GET", _RM + r"roleAssignmentSchedule(Instance)?s(/.*)?", _ASSIGNMENT_READ),
        ("GET", _RM + r"roleAssignmentScheduleRequests(/.*)?", _ASSIGNMENT_READ),
        ("GET", _RM + r"roleAssignments", (*_ROLE_READ, *_ROLE_WRITE, *_DIRECTORY)),
        ("POST", _RM + r"roleAssignmentScheduleRequests(/[^/]+/cancel)?", _ASSIGNMENT_WRITE),
        ("GET", r"/v1\.0/policies/roleManagementPolicyAssignments", _POLICY_READ),
        ("POST", r"/v1\.0/users/[^/]+/revokeSignInSessions", _REVOKE),
        ("POST", r"/v1\.0/me/revokeSignInSessions", _REVOKE),
        ("GET", r"/v1\.0/me", _USERS),  # so an app token gets Graph's 400 for /me
        (
            "GET",
            r"/v1\.0/users/[^/]+/(transitiveM|m)emberOf(/microsoft\.graph\.group)?",
            _MEMBERSHIP,
        ),
        ("GET", r"/v1\.0/users(/[^/]+)?", _USERS),
        ("GET", r"/v1\.0/groups/[^/]+(/(transitiveM|m)embers)?", _GROUPS),
        ("GET", r"/v1\.0/directory/administrativeUnits(/[^/]+)?", _UNITS),
    )
)

GLOBAL_ADMINISTRATOR = "62e90394-69f5-4237-9190-012177145e10"
PRIVILEGED_ROLE_ADMINISTRATOR = "e8611ab8-c189-46e8-94e1-60213ab1f814"
# Admin requests as a signed-in user: "For write operations: Privileged Role
# Administrator" (and Global Administrator), same source as PIM_READERS below.
ROLE_WRITERS = frozenset({PRIVILEGED_ROLE_ADMINISTRATOR, GLOBAL_ADMINISTRATOR})

# Reading PIM data (others' eligibilities, instances, requests; policies) as a signed-in
# user needs one of these roles active: "For read operations: Global Reader, Security
# Operator, Security Reader, Security Administrator, or Privileged Role Administrator"
# (Graph's PIM for Entra roles APIs, e.g. https://learn.microsoft.com/en-us/graph/api/
# rbacapplication-list-roleeligibilityscheduleinstances), and Global Administrator.
PIM_READERS = frozenset(
    {
        "f2ef992c-3afb-46b9-b7cf-a126ee74c451",  # Global Reader
        "5f2222b1-57c3-48ba-8ad5-d4759f1fde6f",  # Security Operator
        "5d6b6bb7-de71-4623-b4af-96380a352509",  # Security Reader
        "194ae4cb-b126-40b2-bd5b-6091b380977d",  # Security Administrator
        PRIVILEGED_ROLE_ADMINISTRATOR,
        GLOBAL_ADMINISTRATOR,
    }
)


def accepted_permissions(method: str, path: str) -> tuple[str, ...] | None:
    """The application permissions Graph accepts for this call; None: none known."""
    for wanted, pattern, accepted in APPLICATION_PERMISSIONS:
        if wanted == method and pattern.fullmatch(path):
            return accepted
    return None


def check_application(caller: Caller, granted: set[str], method: str, path: str) -> None:
    """Raise Graph's 403 unless the app was granted a permission this call accepts."""
    if caller.kind != "application":
        return
    accepted = accepted_permissions(method, path)
    if accepted is None or not granted.intersection(accepted):
        raise forbidden()
