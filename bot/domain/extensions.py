"""An extension is a request (issue 15): what the policy allows of one, as plain words.

Entra cannot lengthen an activation ("selfExtend: For users to request to extend their
expiring assignments", "adminExtend: For administrators to extend expiring assignments":
https://learn.microsoft.com/en-us/graph/api/rbacapplication-post-roleassignmentschedulerequests;
approvalSettings.isApprovalRequiredForExtension is about those assignments too:
https://learn.microsoft.com/en-us/graph/api/resources/approvalsettings), so pimbot ends it
and activates it again. Entra checks each activation's duration against the maximum on
its own ("a specific activation duration within the maximum", pim-resource-roles-activate-
your-roles), so each re-activation would start it afresh: pimbot holds the chain to the
role's maximum counted from its *first* start, and to `max_extensions`.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.domain.durations import to_human
from bot.domain.models import RolePolicy
from bot.errors import PolicyViolation


def check_extension(
    policy: RolePolicy,
    *,
    role_name: str,
    first_start: datetime,
    current_end: datetime,
    new_end: datetime,
    done: int,
) -> None:
    """Raise PolicyViolation if extending the chain that started at `first_start` (now
    ending at `current_end`, extended `done` times) to `new_end` breaks the policy."""
    if done >= policy.max_extensions:
        raise PolicyViolation(_too_many(role_name, policy.max_extensions, done))
    if new_end - first_start > policy.max_duration:
        raise PolicyViolation(_too_long(role_name, policy.max_duration, current_end - first_start))


def _too_many(role_name: str, allowed: int, done: int) -> str:
    if allowed == 0:
        return (
            f"{role_name} can't be extended (pimbot.yml `max_extensions: 0`). When it ends, "
            "ask again with `/pim activate`."
        )
    times = "once" if allowed == 1 else f"{allowed} times"
    return (
        f"{role_name} can be extended {times} per activation (pimbot.yml `max_extensions`), "
        f"and this one has been extended {_count(done)}. When it ends, ask again with "
        "`/pim activate`."
    )


def _too_long(role_name: str, allowed: timedelta, used: timedelta) -> str:
    left = max(allowed - used, timedelta(0))
    # Graph counts whole seconds from a renewal's start: show the nearest minute used.
    used = timedelta(minutes=round(used.total_seconds() / 60))
    head = (
        f"{role_name} allows {to_human(allowed)} in all, counted from its first activation; "
        f"{to_human(used)} used"
    )
    if left < timedelta(minutes=1):
        return f"{head}, so it can't be extended any further."
    return f"{head}, so you can extend by at most {to_human(left)}."


def _count(done: int) -> str:
    return "once" if done == 1 else f"{done} times"
