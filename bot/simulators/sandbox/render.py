"""Sandbox records -> Graph v1.0 JSON, property for property as Graph spells them."""

from __future__ import annotations

from typing import Any

from bot.simulators.sandbox.model import (
    AdministrativeUnit,
    Assignment,
    Eligibility,
    Group,
    RoleDefinition,
    ScheduleRequest,
    User,
)
from bot.simulators.sandbox.timefmt import format_dt, format_duration

Json = dict[str, Any]


def user(u: User, *, typed: bool = False, selectable: bool = True) -> Json:
    """`selectable`: include the properties Graph returns only on $select (dropped by
    odata.select when none is given); an expanded principal has only the defaults."""
    body: Json = {"@odata.type": "#microsoft.graph.user"} if typed else {}
    if selectable:
        body["accountEnabled"] = u.account_enabled
    return body | {
        "id": u.id,
        "businessPhones": [],
        "displayName": u.display_name,
        "givenName": u.given_name,
        "jobTitle": u.job_title,
        "mail": u.mail,
        "mobilePhone": None,
        "officeLocation": None,
        "preferredLanguage": "en-US",
        "surname": u.surname,
        "userPrincipalName": u.upn,
    }


def group(g: Group, *, typed: bool = False) -> Json:
    body: Json = {"@odata.type": "#microsoft.graph.group"} if typed else {}
    return body | {
        "id": g.id,
        "displayName": g.display_name,
        "description": g.description,
        "mailNickname": g.mail_nickname,
        "mailEnabled": False,
        "securityEnabled": True,
        "groupTypes": [],
        "isAssignableToRole": g.is_assignable_to_role,
        "visibility": "Private" if g.is_assignable_to_role else None,
    }


def directory_object(obj: User | Group) -> Json:
    return user(obj, typed=True) if isinstance(obj, User) else group(obj, typed=True)


def administrative_unit(u: AdministrativeUnit) -> Json:
    return {
        "id": u.id,
        "deletedDateTime": None,
        "description": u.description,
        "displayName": u.display_name,
        "isMemberManagementRestricted": False,
        "membershipRule": None,
        "membershipRuleProcessingState": None,
        "membershipType": None,
        "visibility": None,
    }


def role_definition(r: RoleDefinition) -> Json:
    return {
        "id": r.id,
        "description": r.description,
        "displayName": r.display_name,
        "isBuiltIn": True,
        "isEnabled": True,
        "resourceScopes": ["/"],
        "templateId": r.id,
        "version": "1",
        "rolePermissions": [],
    }


def _schedule_info(start: Any, end: Any) -> Json:
    return {
        "startDateTime": format_dt(start),
        "recurrence": None,
        "expiration": {
            "type": "afterDateTime" if end else "noExpiration",
            "endDateTime": format_dt(end) if end else None,
            "duration": None,
        },
    }


def eligibility_instance(e: Eligibility) -> Json:
    return {
        "id": e.id,
        "principalId": e.principal_id,
        "roleDefinitionId": e.role_id,
        "directoryScopeId": e.scope,
        "appScopeId": None,
        "startDateTime": format_dt(e.start),
        "endDateTime": format_dt(e.end) if e.end else None,
        "memberType": "Direct",
        "roleEligibilityScheduleId": e.id,
    }


def eligibility_schedule(e: Eligibility) -> Json:
    return {
        "id": e.id,
        "principalId": e.principal_id,
        "roleDefinitionId": e.role_id,
        "directoryScopeId": e.scope,
        "appScopeId": None,
        "createdUsing": e.id,
        "createdDateTime": format_dt(e.created),
        "modifiedDateTime": None,
        "status": "Provisioned",
        "memberType": "Direct",
        "scheduleInfo": _schedule_info(e.start, e.end),
    }


def assignment_instance(a: Assignment) -> Json:
    return {
        "id": a.id,
        "principalId": a.principal_id,
        "roleDefinitionId": a.role_id,
        "directoryScopeId": a.scope,
        "appScopeId": None,
        "startDateTime": format_dt(a.start),
        "endDateTime": format_dt(a.end) if a.end else None,
        "assignmentType": a.assignment_type,
        "memberType": a.member_type,
        "roleAssignmentOriginId": a.id,
        "roleAssignmentScheduleId": a.id,
    }


def role_assignment(a: Assignment) -> Json:
    """A unifiedRoleAssignment: the directory's own record of a role held at a scope."""
    return {
        "id": f"{a.id}-ra",
        "principalId": a.principal_id,
        "roleDefinitionId": a.role_id,
        "directoryScopeId": a.scope,
        "appScopeId": None,
    }


def assignment_schedule(a: Assignment) -> Json:
    return {
        "id": a.id,
        "principalId": a.principal_id,
        "roleDefinitionId": a.role_id,
        "directoryScopeId": a.scope,
        "appScopeId": None,
        "createdUsing": a.id,
        "createdDateTime": format_dt(a.created),
        "modifiedDateTime": None,
        "status": "Provisioned",
        "assignmentType": a.assignment_type,
        "memberType": a.member_type,
        "scheduleInfo": _schedule_info(a.start, a.end),
    }


def schedule_request(r: ScheduleRequest) -> Json:
    kind, ident = r.created_by
    return {
        "id": r.id,
        "status": r.status,
        "createdDateTime": format_dt(r.created),
        "completedDateTime": format_dt(r.completed) if r.completed else None,
        "approvalId": r.id if r.reviews or r.status == "PendingApproval" else None,
        "customData": None,
        "action": r.action,
        "principalId": r.principal_id,
        "roleDefinitionId": r.role_id,
        "directoryScopeId": r.scope,
        "appScopeId": None,
        "isValidationOnly": False,
        "targetScheduleId": r.target_schedule_id,
        "justification": r.justification,
        "createdBy": {
            "application": {"displayName": None, "id": ident} if kind == "application" else None,
            "device": None,
            "user": {"displayName": None, "id": ident} if kind == "user" else None,
        },
        "scheduleInfo": {
            "startDateTime": format_dt(r.start),
            "recurrence": None,
            "expiration": {
                "type": r.expiration_type,
                "endDateTime": format_dt(r.end)
                if r.end and r.expiration_type == "afterDateTime"
                else None,
                "duration": format_duration(r.duration) if r.duration else None,
            },
        },
        "ticketInfo": {"ticketNumber": r.ticket.number, "ticketSystem": r.ticket.system},
    }
