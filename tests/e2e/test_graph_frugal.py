"""Issue 17, Graph-frugal: the Graph calls an activation costs, counted at the sandbox,
and that no cache turns a refusal into a yes.

In application mode pimbot activates with adminAssign, which Graph grants whoever the
principal is ("For administrators to assign roles to principals",
https://learn.microsoft.com/graph/api/resources/unifiedroleassignmentschedulerequest):
Graph would not refuse an ineligible user, so eligibility and group membership are read
fresh for every activation and never cached. The already-active check reads only the
user's own instance; a duplicate that slips past it is refused by Graph with
RoleAssignmentExists ("The Role assignment already exists",
https://github.com/Microsoft365DSC/Microsoft365DSC/issues/5532)."""

from __future__ import annotations

import dataclasses
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.cast import ALINE, HELPDESK_ADMIN, HELPDESK_GROUP
from tests.support.stack import GRAPH_WRITES, BotStack

WHY = "CONTOSO:Security-012345 graph frugality check"
FIRST = f"activate user-admin 1h {WHY}"  # via the IT Helpdesk group
SECOND = f"activate helpdesk-admin 1h {WHY}"  # Aline's own eligibility
# Warm: Aline's own eligibilities, her groups, each group's eligibilities (2 groups),
# her own instance of the role, the POST. Raise these only with a reason.
WARM_MAX, COLD_MAX = 6, 11


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BotStack]:
    with BotStack(Path(tmp_path_factory.mktemp("frugal"))) as stack:
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
    running.reset()
    cold = calls_to_post(running, FIRST)
    warm = calls_to_post(running, SECOND)
    assert sum(cold.values()) <= COLD_MAX, cold
    assert sum(warm.values()) <= WARM_MAX, warm
    # The second role's policy came with the first read (one read for the tenant).
    assert not [k for k in warm if "roleManagementPolicyAssignments" in k], warm
    assert not [k for k in warm if "token" in k], warm  # the app token is reused


@pytest.mark.slow
def test_an_eligibility_removed_in_graph_is_refused_on_the_next_activation(
    running: BotStack,
) -> None:
    running.reset()
    calls_to_post(running, FIRST)  # every read the bot keeps is now filled
    tenant = running.tenant
    tenant.eligibilities = [
        e
        for e in tenant.eligibilities
        if not (e.principal_id == ALINE.id and e.role_id == HELPDESK_ADMIN)
    ]
    writes = running.graph_writes()
    done = running.final(running.command(SECOND), timeout=30)
    assert "aren't eligible for Helpdesk Administrator" in done["text"]
    assert running.graph_writes() == writes  # refused before any POST
    assert tenant.live_assignment(ALINE.id, HELPDESK_ADMIN) is None


@pytest.mark.slow
def test_leaving_the_group_removes_its_roles_at_once(running: BotStack) -> None:
    running.reset()
    calls_to_post(running, SECOND)  # fills the caches, Aline still in IT Helpdesk
    groups = running.tenant.directory.groups
    helpdesk = groups[HELPDESK_GROUP]
    groups[HELPDESK_GROUP] = dataclasses.replace(
        helpdesk, members=tuple(m for m in helpdesk.members if m != ALINE.id)
    )
    writes = running.graph_writes()
    done = running.final(running.command(FIRST), timeout=30)
    assert "aren't eligible for User Administrator" in done["text"]
    assert running.graph_writes() == writes
