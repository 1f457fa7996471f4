"""What an operator watches, in Prometheus's terms: requests, latencies, the outbox, relay
and sign-in failures, SMTP sessions. No label ever carries a name, an address or a path
with an id in it; each one has a handful of values.

With several server processes (`trademail serve --workers N`) the supervisor sets
PROMETHEUS_MULTIPROC_DIR before the workers start, and /metrics adds up every process.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client import multiprocess as _multiprocess
from prometheus_client.core import GaugeMetricFamily

HTTP_REQUESTS = Counter("trademail_http_requests", "HTTP requests answered",
                        ["door", "method", "status"])
HTTP_SECONDS = Histogram("trademail_http_request_seconds", "Time to answer an HTTP request",
                         ["door"], buckets=(.001, .0025, .005, .01, .025, .05, .1, .25, .5,
                                            1, 2.5, 5, 10))
SIGNIN_FAILURES = Counter("trademail_signin_failures", "Sign-ins refused",
                          ["reason"])  # password, throttled
RELAY_FAILURES = Counter("trademail_relay_failures", "Outbox deliveries that failed",
                         ["kind", "outcome"])  # mail/webhook/job; deferred/failed
RELAY_DELIVERED = Counter("trademail_relay_delivered", "Outbox deliveries done", ["kind"])
SMTP_SESSIONS = Counter("trademail_smtp_sessions", "SMTP sessions opened with the gateway")
SMTP_OPEN = Gauge("trademail_smtp_sessions_open", "SMTP sessions open now",
                  multiprocess_mode="livesum")
SMTP_MESSAGES = Counter("trademail_smtp_messages", "Mail the gateway answered",
                        ["result"])  # accepted, refused, deferred

class _Outbox:
    """The outbox figures of this scrape, as metric families: no value is stored, so none
    is left in the multiprocess files for the next scrape to add up."""

    def __init__(self, depth: int, oldest_seconds: float) -> None:
        self._depth = depth
        self._oldest = oldest_seconds

    def collect(self) -> Iterator[GaugeMetricFamily]:
        yield GaugeMetricFamily("trademail_outbox_depth", "Outbox rows waiting to be delivered",
                                value=self._depth)
        yield GaugeMetricFamily("trademail_outbox_oldest_seconds",
                                "Age of the oldest waiting outbox row", value=self._oldest)


def render(outbox_depth: int, outbox_oldest_seconds: float) -> tuple[bytes, str]:
    """The exposition text, summed over every server process when there are several, with
    the outbox figures (read from the database by the caller) added."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        _multiprocess.MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    extra = CollectorRegistry()
    extra.register(_Outbox(outbox_depth, outbox_oldest_seconds))
    return generate_latest(registry) + generate_latest(extra), CONTENT_TYPE_LATEST
