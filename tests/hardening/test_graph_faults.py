"""Graph faults over real sockets, through the whole bot (a signed `/pim activate`): the
user hears the truth, and the sandbox holds exactly one activation or none."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.support.cast import ALINE, CARD, USER_ADMIN
from tests.support.stack import GRAPH_WRITES, BotStack

pytestmark = pytest.mark.slow  # its tests take over ~0.5 s each (see pyproject.toml)


def activations(bot: BotStack) -> int:
    """Activation requests the sandbox accepted (answered 201), lost answers included."""
    return len([c for c in bot.faults.find("POST", GRAPH_WRITES) if c.request_id and _created(c)])


def _created(call: object) -> bool:
    body = getattr(call, "response_body", None)
    faults = getattr(call, "faults", ())
    return (isinstance(body, dict) and "id" in body) or "lose_response" in faults


def assert_one_live_activation(bot: BotStack) -> None:
    assert bot.tenant.live_assignment(ALINE.id, USER_ADMIN) is not None
    assert activations(bot) == 1


def test_a_latency_spike_on_every_call_still_activates_once(bot: BotStack) -> None:
    bot.faults.latency(0.15, times=12)

    reply = bot.command(CARD)
    final = bot.final(reply, timeout=30)

    assert reply.seconds < 3  # the ack does not wait for Graph
    assert "active until" in final["text"]
    assert_one_live_activation(bot)


def test_a_429_storm_with_retry_after_is_waited_out(bot: BotStack) -> None:
    bot.faults.throttle(times=2, retry_after=0.05, method="POST", path=GRAPH_WRITES)
    # Graph's reads, not the login service's: the test must not depend on whether an
    # earlier test in the module already made MSAL fetch its metadata.
    bot.faults.throttle(times=2, retry_after=0.05, method="GET", path="/v1.0/")
    # An earlier test's eligibility reads are kept (PIM_ELIGIBILITY_CACHE_SECONDS): past
    # them, this activation reads Graph, and meets the throttled reads.
    bot.clock.advance(bot.settings.pim_eligibility_cache_seconds + 1)

    final = bot.final(bot.command(CARD), timeout=30)

    assert "active until" in final["text"]
    assert_one_live_activation(bot)
    throttled = [c for c in bot.faults.find("POST", GRAPH_WRITES) if c.status == 429]
    assert len(throttled) == 2
    assert len([c for c in bot.faults.find("GET", "/v1.0/") if c.status == 429]) == 2


def test_a_5xx_burst_on_the_write_is_retried_to_one_activation(bot: BotStack) -> None:
    bot.faults.fail(503, times=1, retry_after=0.01, method="POST", path=GRAPH_WRITES)
    bot.faults.fail(502, times=1, method="POST", path=GRAPH_WRITES)

    final = bot.final(bot.command(CARD), timeout=30)

    assert "active until" in final["text"]
    assert_one_live_activation(bot)


def test_5xx_past_the_budget_tells_the_user_and_activates_nothing(bot: BotStack) -> None:
    bot.faults.fail(500, times=50, method="POST", path=GRAPH_WRITES)

    final = bot.final(bot.command(CARD), timeout=30)

    assert "active until" not in final["text"]
    assert "Traceback" not in str(final)
    assert bot.tenant.live_assignment(ALINE.id, USER_ADMIN) is None


def test_a_connection_reset_before_the_write_is_retried_to_one_activation(
    bot: BotStack,
) -> None:
    bot.faults.drop(times=1, method="POST", path=GRAPH_WRITES)

    final = bot.final(bot.command(CARD), timeout=30)

    assert "active until" in final["text"]
    assert_one_live_activation(bot)


def test_a_lost_answer_after_graph_accepted_the_write_does_not_activate_twice(
    bot: BotStack,
) -> None:
    bot.faults.lose_response(times=1, method="POST", path=GRAPH_WRITES)

    final = bot.final(bot.command(CARD), timeout=30)

    assert "active until" in final["text"]
    assert_one_live_activation(bot)
    status = bot.final(bot.command("status user-admin"))
    assert "Nothing active" not in str(status)


@pytest.fixture
def short_timeout(bot: BotStack) -> Iterator[None]:
    """The bot's Graph client gives up reading after 0.5 s (30 s in production)."""
    http = bot.services.graph._client._http  # type: ignore[attr-defined]
    saved = http.timeout
    http.timeout = httpx.Timeout(0.5)
    yield
    http.timeout = saved


@pytest.mark.usefixtures("short_timeout")
def test_a_graph_timeout_after_the_write_was_accepted_does_not_activate_twice(
    bot: BotStack,
) -> None:
    # Graph creates the activation, then answers after the client has given up.
    bot.faults.lose_response(times=1, delay=1.5, deliver=True, method="POST", path=GRAPH_WRITES)

    final = bot.final(bot.command(CARD), timeout=30)

    assert "active until" in final["text"]
    assert_one_live_activation(bot)


def test_a_lost_answer_to_a_deactivation_is_recognised_not_resent(bot: BotStack) -> None:
    """Graph removed the role but its answer never arrived: recovery must find the removal
    (the role is gone at that scope) and say it was deactivated, not resend it and report
    the refusal of the resend ("not active") as the outcome."""
    assert "active until" in bot.final(bot.command(CARD), timeout=30)["text"]
    bot.clock.advance(600)  # past Entra's 5-minute floor on deactivation
    bot.faults.lose_response(times=1, method="POST", path=GRAPH_WRITES)

    final = bot.final(bot.command("deactivate user-admin"), timeout=30)

    assert bot.tenant.live_assignment(ALINE.id, USER_ADMIN) is None
    assert "deactivated" in final["text"].lower(), final["text"]
    assert "not active" not in final["text"].lower()
    removals = [c for c in bot.faults.find("POST", GRAPH_WRITES) if _created(c)]
    assert len(removals) == 2  # the activation and one removal: nothing resent
