"""Issue 17, Graph-frugal: the Graph calls an activation costs, counted at the sandbox,
and what the bounded caches may and may not turn into a yes.

In application mode pimbot activates with adminAssign, which Graph grants whoever the
principal is ("For administrators to assign roles to principals",
https://learn.microsoft.com/graph/api/resources/unifiedroleassignmentschedulerequest), so
pimbot checks eligibility itself: from the tenant's eligibilities (one paged read) and the
user's groups (one read), each kept PIM_ELIGIBILITY_CACHE_SECONDS (30 s by default) and
never past an eligibility's own end. An eligibility removed in Entra is refused once that
bound has passed (README "Eligibility cache": the trade-off). There is no already-active
read: a duplicate is refused by Graph with 400 RoleAssignmentExists ("The Role assignment
already exists", https://github.com/Microsoft365DSC/Microsoft365DSC/issues/5532), and one
read after that refusal says until when."""

from __future__ import annotations

import dataclasses
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.cast import ALINE, HELPDESK_ADMIN, HELPDESK_GROUP
from tests.support.stack import GRAPH_WRITES, BotStack
from tests.support.started_stack import StartedStack

WHY = "CONTOSO:Security-012345 graph frugality check"
FIRST = f"activate user-admin 1h {WHY}"  # via the IT Helpdesk group
SECOND = f"activate helpdesk-admin 1h {WHY}"  # Aline's own eligibility
ACTIVE = "/v1.0/roleManagement/directory/roleAssignmentScheduleInstances"
# Cold (the first activation after start, a user pimbot has never seen): her user by
# email, her groups, the tenant's eligibilities, the POST. Warm: the POST alone. Raise
# these only with a reason.
WARM_MAX, COLD_MAX = 1, 4
KEPT = 30  # PIM_ELIGIBILITY_CACHE_SECONDS' default


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StartedStack]:
    with StartedStack(Path(tmp_path_factory.mktemp("frugal"))) as stack:
        stack.reset()
        stack.start_services()  # as `pimbot run` starts
        yield stack


def settle(stack: BotStack) -> None:
    """Wait until the previous command's after-work (the board) has made its calls, so
    they are not counted against the next activation."""
    seen = -1
    while seen != len(stack.faults.calls):
        seen = len(stack.faults.calls)
        time.sleep(0.3)


def calls_to_post(stack: BotStack, text: str) -> Counter[str]:
    """Every Graph and token call from the command to the activation's POST, inclusive
    (the board redrawn after the confirmation is the board's own cost)."""
    settle(stack)
    stack.faults.clear_log()
    done = stack.final(stack.command(text), timeout=30)
    assert "active until" in done.get("text", ""), done
    calls = list(stack.faults.calls)
    post = next(i for i, c in enumerate(calls) if c.method == "POST" and GRAPH_WRITES in c.path)
    return Counter(f"{c.method} {c.path.split('?')[0]}" for c in calls[: post + 1])


@pytest.mark.slow
def test_cold_then_warm_activation_call_counts(running: BotStack) -> None:
    # First in the module: nothing has activated since the stack started.
    cold = calls_to_post(running, FIRST)
    warm = calls_to_post(running, SECOND)
    assert sum(cold.values()) <= COLD_MAX, cold
    assert sum(warm.values()) <= WARM_MAX, warm
    # Policies and unit names were read at start; the app token too (the board's read).
    assert not [k for k in cold if "roleManagementPolicyAssignments" in k], cold
    assert not [k for k in cold | warm if "token" in k or "administrativeUnits" in k]
    # No already-active read before the POST: Graph refuses a duplicate itself.
    assert not [k for k in cold | warm if ACTIVE in k], (cold, warm)


@pytest.mark.slow
def test_a_change_redraws_the_board_without_reading_graph(running: BotStack) -> None:
    running.reset()
    calls_to_post(running, SECOND)
    settle(running)  # the board's redraw after the change is done too
    assert not running.faults.find("GET", ACTIVE)  # applied to the last read


@pytest.mark.slow
def test_a_duplicate_is_refused_by_graph_and_says_until_when(running: BotStack) -> None:
    running.reset()
    calls_to_post(running, SECOND)
    writes = running.graph_writes()
    done = running.final(running.command(SECOND), timeout=30)
    assert "already active for you until" in done["text"], done
    assert running.graph_writes() == writes + 1  # the POST Graph refused
    refused = running.faults.find("POST", GRAPH_WRITES)[-1]
    assert refused.status == 400
    assert len(running.faults.find("GET", ACTIVE)) == 1  # after the refusal, for "until"


@pytest.mark.slow
def test_an_eligibility_removed_in_graph_is_refused_once_the_bound_has_passed(
    running: BotStack,
) -> None:
    running.reset()
    calls_to_post(running, FIRST)  # every read the bot keeps is now filled
    tenant = running.tenant
    [removed] = [
        e for e in tenant.eligibilities if (e.principal_id, e.role_id) == (ALINE.id, HELPDESK_ADMIN)
    ]
    tenant.eligibilities = [e for e in tenant.eligibilities if e is not removed]
    running.clock.advance(KEPT)
    writes = running.graph_writes()
    done = running.final(running.command(SECOND), timeout=30)
    assert "aren't eligible for Helpdesk Administrator" in done["text"]
    assert running.graph_writes() == writes  # refused before any POST
    assert tenant.live_assignment(ALINE.id, HELPDESK_ADMIN) is None
    # Granted again: it counts at once, with no wait for the bound (a role not among the
    # kept eligibilities is looked for in Graph again before the user is refused).
    tenant.add_eligibility(ALINE.id, HELPDESK_ADMIN, removed.scope)
    assert "active until" in running.final(running.command(SECOND), timeout=30)["text"]


@pytest.mark.slow
def test_leaving_the_group_removes_its_roles_once_the_bound_has_passed(
    running: BotStack,
) -> None:
    running.reset()
    calls_to_post(running, SECOND)  # fills the caches, Aline still in IT Helpdesk
    groups = running.tenant.directory.groups
    helpdesk = groups[HELPDESK_GROUP]
    groups[HELPDESK_GROUP] = dataclasses.replace(
        helpdesk, members=tuple(m for m in helpdesk.members if m != ALINE.id)
    )
    running.clock.advance(KEPT)
    writes = running.graph_writes()
    done = running.final(running.command(FIRST), timeout=30)
    assert "aren't eligible for User Administrator" in done["text"]
    assert running.graph_writes() == writes
