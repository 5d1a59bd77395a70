"""MSAL token acquisitions in the metrics, against the sandbox's real token endpoint:
`pimbot_token_acquisitions_total{identity,source}` and `pimbot_token_acquisition_seconds`,
with `source` "authority" exactly when the sandbox saw a token request, "cache" when MSAL
answered from its own cache, "error" when no token came."""

from __future__ import annotations

import pytest

from bot.errors import GraphUnavailable
from bot.graph import build_graph
from bot.graph.auth import CountedTokens
from bot.graph.msal_credential import MsalCredential
from bot.metrics import Metrics
from bot.settings import Settings
from bot.simulators.sandbox import Faults

pytestmark = pytest.mark.slow  # real MSAL over TLS to the sandbox

TOKEN_PATH = "/oauth2/v2.0/token"


def acquisitions(metrics: Metrics, identity: str, source: str) -> float:
    value = metrics.registry.get_sample_value(
        "pimbot_token_acquisitions_total", {"identity": identity, "source": source}
    )
    return value or 0.0


def timed(metrics: Metrics, identity: str, source: str) -> float:
    value = metrics.registry.get_sample_value(
        "pimbot_token_acquisition_seconds_count", {"identity": identity, "source": source}
    )
    return value or 0.0


def token_requests(faults: Faults) -> int:
    return sum(1 for c in faults.find("POST") if c.path.endswith(TOKEN_PATH))


async def test_graph_calls_count_one_authority_call_for_the_token_they_share(
    settings: Settings, faults: Faults
) -> None:
    metrics = Metrics()
    graph = build_graph(settings, metrics=metrics)
    try:
        await graph.check_token()
        await graph.check_token()  # GraphAuth holds the token: MSAL is not asked again
    finally:
        await graph.aclose()

    assert token_requests(faults) == 1
    assert acquisitions(metrics, "application", "authority") == 1
    assert acquisitions(metrics, "application", "cache") == 0
    assert timed(metrics, "application", "authority") == 1


def test_msal_cache_hits_and_network_calls_are_told_apart(
    settings: Settings, faults: Faults
) -> None:
    metrics = Metrics()
    tokens = CountedTokens(
        MsalCredential.from_settings(settings), metrics.token_observer("application")
    )
    try:
        first = tokens(force_refresh=False)
        second = tokens(force_refresh=False)  # still valid in MSAL's cache
        tokens(force_refresh=True)  # a token Graph refused: to the authority again
    finally:
        tokens.close()

    assert not first.from_cache and second.from_cache and first.token == second.token
    assert token_requests(faults) == 2
    assert acquisitions(metrics, "application", "authority") == 2
    assert acquisitions(metrics, "application", "cache") == 1
    assert timed(metrics, "application", "cache") == 1


def test_an_unreachable_authority_counts_as_an_error(settings: Settings) -> None:
    metrics = Metrics()
    unreachable = settings.model_copy(update={"azure_authority_host": "https://127.0.0.1:9"})
    tokens = CountedTokens(
        MsalCredential.from_settings(unreachable), metrics.token_observer("application")
    )

    with pytest.raises(GraphUnavailable):
        tokens(force_refresh=False)

    assert acquisitions(metrics, "application", "error") == 1
    assert acquisitions(metrics, "application", "authority") == 0
