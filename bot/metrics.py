"""Prometheus metrics (`GET /metrics`), all named `pimbot_…`, in one registry per app.

Not the client library's global default registry: tests start several bots in one
process, and each must count only its own. Gauges about the database (outbox depth and
age, approvals waiting) are read when Prometheus scrapes, never kept up to date by hand.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import generate_latest
from prometheus_client.registry import Collector

log = logging.getLogger(__name__)
# What `generate_latest` writes is the classic text format 0.0.4, which every Prometheus
# reads (https://prometheus.io/docs/instrumenting/exposition_formats/); the client's own
# CONTENT_TYPE_LATEST says 1.0.0 from 0.22 on, so it is named here, the same on any version.
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# Slack allows 3 s for an ack; the buckets resolve the part of that range that matters.
ACK_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0)
GRAPH_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
LATENESS_BUCKETS = (0.1, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0)

# A path segment kept as it is in the endpoint label: a Graph name (letters and dots, or
# `$count`/`$value`) or a function call's name; anything else (ids, UPNs) becomes {id}.
_NAME = re.compile(r"^\$?[A-Za-z][A-Za-z.]*$")
_CALL = re.compile(r"^([A-Za-z][A-Za-z.]*)\(.*\)$")
_VERSION = re.compile(r"^(v\d+\.\d+|beta)$")


def endpoint_template(path: str) -> str:
    """The Graph path with ids replaced, so the label's values stay few:
    `/v1.0/users/8f…/transitiveMemberOf` -> `/v1.0/users/{id}/transitiveMemberOf`."""
    segments = path.split("?", 1)[0].strip("/").split("/")
    return "/" + "/".join(_template(i, s) for i, s in enumerate(segments) if s)


def _template(index: int, segment: str) -> str:
    if index == 0 and _VERSION.match(segment):
        return segment
    if _NAME.match(segment):
        return segment
    call = _CALL.match(segment)
    return f"{call.group(1)}()" if call else "{id}"


@dataclass(frozen=True, slots=True)
class Reading:
    """A gauge read at scrape time: `read()` gives its value (None: nothing to report)."""

    name: str
    help: str
    read: Callable[[], float | None]
    labels: tuple[tuple[str, str], ...] = ()


class _Readings(Collector):
    """Gauges whose values are read when Prometheus scrapes. A reading that fails (the
    database is down) is left out of that scrape rather than failing /metrics."""

    def __init__(self) -> None:
        self._readings: list[Reading] = []

    def add(self, reading: Reading) -> None:
        self._readings.append(reading)

    def describe(self) -> Iterable[Metric]:
        return []  # nothing read at registration: the database may not be there yet

    def collect(self) -> Iterator[Metric]:
        families: dict[str, GaugeMetricFamily] = {}
        for reading in self._readings:
            value = self._value(reading)
            if value is None:
                continue
            names = [k for k, _ in reading.labels]
            family = families.setdefault(
                reading.name, GaugeMetricFamily(reading.name, reading.help, labels=names)
            )
            family.add_metric([v for _, v in reading.labels], value)
        yield from families.values()

    @staticmethod
    def _value(reading: Reading) -> float | None:
        try:
            return reading.read()
        except Exception as exc:  # noqa: BLE001 - a scrape reports what it can read
            log.warning("metric %s not read: %s", reading.name, type(exc).__name__)
            return None


class Metrics:
    """Every pimbot metric, registered in this app's own registry."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        reg = self.registry
        self.ack_seconds = Histogram(
            "pimbot_ack_seconds",
            "Time from a Slack request reaching the bot to its ack, by kind.",
            ["kind"],
            buckets=ACK_BUCKETS,
            registry=reg,
        )
        self.graph_requests = Counter(
            "pimbot_graph_requests",  # exposed as pimbot_graph_requests_total
            "Graph calls (each attempt, retries included) by endpoint template, method and "
            "status ('error': no answer).",
            ["endpoint", "method", "status"],
            registry=reg,
        )
        self.graph_seconds = Histogram(
            "pimbot_graph_request_seconds",
            "Graph call latency (until the answer's headers) by endpoint template and method.",
            ["endpoint", "method"],
            buckets=GRAPH_BUCKETS,
            registry=reg,
        )
        self.graph_throttled = Counter(
            "pimbot_graph_throttled",  # exposed as pimbot_graph_throttled_total
            "Graph answers 429 (throttled), by endpoint template.",
            ["endpoint"],
            registry=reg,
        )
        self.token_acquisitions = Counter(
            "pimbot_token_acquisitions",  # exposed as pimbot_token_acquisitions_total
            "MSAL token acquisitions by identity (application, user) and source: 'cache' "
            "(MSAL's token cache), 'authority' (a call to the Entra token endpoint), 'error'.",
            ["identity", "source"],
            registry=reg,
        )
        self.token_seconds = Histogram(
            "pimbot_token_acquisition_seconds",
            "MSAL token acquisition latency by identity and source.",
            ["identity", "source"],
            buckets=GRAPH_BUCKETS,
            registry=reg,
        )
        self.reminder_lateness = Histogram(
            "pimbot_reminder_lateness_seconds",
            "How long after its due time a reminder was sent.",
            buckets=LATENESS_BUCKETS,
            registry=reg,
        )
        self._readings = _Readings()
        reg.register(self._readings)

    def watch(self, reading: Reading) -> None:
        """Report `reading` at every scrape."""
        self._readings.add(reading)

    def graph_call(self, path: str, method: str, status: int | None, seconds: float) -> None:
        """One Graph call's outcome (`status` None: no answer came)."""
        endpoint = endpoint_template(path)
        label = "error" if status is None else str(status)
        self.graph_requests.labels(endpoint, method, label).inc()
        self.graph_seconds.labels(endpoint, method).observe(seconds)
        if status == 429:
            self.graph_throttled.labels(endpoint).inc()

    def token_observer(self, identity: str) -> Callable[[str, float], None]:
        """`observe(source, seconds)` for one identity's token acquisitions."""

        def observe(source: str, seconds: float) -> None:
            self.token_acquisitions.labels(identity, source).inc()
            self.token_seconds.labels(identity, source).observe(seconds)

        return observe

    def late_by(self, seconds: float) -> None:
        self.reminder_lateness.observe(max(seconds, 0.0))

    def exposition(self) -> bytes:
        """The registry in Prometheus' text format."""
        return generate_latest(self.registry)
