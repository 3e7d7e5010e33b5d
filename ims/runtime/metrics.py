"""Prometheus metrics of one process, read from the live counters at scrape time.

Nothing increments a Prometheus object on the message path: the transport
and the applications keep plain counters (architecture: "metrics are simple
counters incremented at the adapter and app level"), and the
:class:`AppCollector` turns a snapshot of them into metric families each time
``/metrics`` is scraped. Every process has its own registry, so nothing is
registered at import time.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable, Mapping

from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector, CollectorRegistry

NAMESPACE = "ims"

Snapshot = Callable[[], Mapping[str, float]]

_INVALID = re.compile(r"[^a-zA-Z0-9_]")


def metric_name(key: str) -> str:
    """``ims_<key>`` with characters Prometheus rejects replaced by ``_``."""
    name = _INVALID.sub("_", key).strip("_").lower() or "unnamed"
    return f"{NAMESPACE}_{name}"


class AppCollector(Collector):
    """Counters and gauges of one function, labelled ``function="<name>"``."""

    def __init__(self, function: str, counters: Snapshot, gauges: Snapshot,
                 started: float, clock: Callable[[], float] = time.monotonic) -> None:
        """Args:
            function: ``hss``, ``pcscf`` ...
            counters: returns monotonically increasing values by key.
            gauges: returns current values (open connections, peers ...) by key.
            started: ``clock()`` when the process started.
            clock: monotonic clock.
        """
        self._function = function
        self._counters = counters
        self._gauges = gauges
        self._started = started
        self._clock = clock

    def collect(self) -> Iterable[Metric]:
        """One family per key, plus ``ims_uptime_seconds``."""
        uptime = GaugeMetricFamily(f"{NAMESPACE}_uptime_seconds",
                                   "Seconds since the process started", labels=["function"])
        uptime.add_metric([self._function], self._clock() - self._started)
        yield uptime
        for key, value in sorted(self._counters().items()):
            name = metric_name(key.removesuffix("_total"))
            family = CounterMetricFamily(name, f"{key} ({self._function})", labels=["function"])
            family.add_metric([self._function], float(value))
            yield family
        for key, value in sorted(self._gauges().items()):
            gauge = GaugeMetricFamily(metric_name(key), f"{key} ({self._function})",
                                      labels=["function"])
            gauge.add_metric([self._function], float(value))
            yield gauge


def build_registry(collector: AppCollector) -> CollectorRegistry:
    """A fresh registry with ``collector`` and the standard process metrics."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    ProcessCollector(registry=registry)
    return registry


def numeric_items(values: Mapping[str, object], prefix: str = "") -> dict[str, float]:
    """Flatten nested mappings of numbers into ``{"a_b": 1.0}``; drop non-numbers."""
    flat: dict[str, float] = {}
    for key, value in values.items():
        name = f"{prefix}_{key}" if prefix else str(key)
        if isinstance(value, Mapping):
            flat.update(numeric_items(value, name))
        elif isinstance(value, int | float) and not isinstance(value, bool):
            flat[name] = float(value)
    return flat
