"""An activation record to start from: Aline's User Administrator for 5 h, active, with
the usual ticket and justification. Tests change what matters to them:

    activation_record(state=RequestState.PENDING_APPROVAL, start=None, end=None)
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.domain.models import Ticket
from bot.domain.requests import ActivationRecord, RequestState
from bot.domain.targets import Scope, TargetKind
from tests.support.cast import ALINE, TICKET, USER_ADMIN, WHY

NOW = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)  # FakeClock's default start


def activation_record(**changes: object) -> ActivationRecord:
    duration = changes.get("duration", timedelta(hours=5))
    assert isinstance(duration, timedelta)
    base = ActivationRecord(
        id="R-7KQ2M9XD",
        requester=ALINE.key,
        principal_id=str(ALINE.id),
        role_id=USER_ADMIN,
        role_name="User Administrator",
        target_kind=TargetKind.DIRECTORY_ROLE,
        scope=Scope("/"),  # User Administrator via IT Helpdesk is eligible tenant-wide
        duration=duration,
        justification=WHY,
        ticket=Ticket(TICKET, "CONTOSO"),
        state=RequestState.ACTIVE,
        created_at=NOW,
        updated_at=NOW,
        start=NOW,
        end=NOW + duration,
    )
    return base.with_changes(**changes)
