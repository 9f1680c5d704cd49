"""What a sweep records of each run, and the run itself as a worker process executes it.

This module owns the columns of ``runs.csv`` (:data:`RUN_COLUMNS`), the metrics ``sweep.csv``
summarizes (:data:`METRICS`) and the values each can take (:data:`METRIC_RANGES`), how a run's
``summary.json`` data becomes those columns (:func:`run_metrics`), and :func:`run_one`: one
run from a point's effective YAML and a seed, the function every executor sends to its
workers (by this module's path, so worker processes import it from here).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeAlias

from ..runner import run
from ..scenario import load_scenario

RUN_COLUMNS: tuple[str, ...] = (
    "submitted", "delivered", "bounced", "pending", "duplicates", "bounce_rate", "peak_queue",
    "delivery_latency_mean_s", "delivery_latency_p50_s", "delivery_latency_p99_s",
    "retrieval_latency_mean_s", "retrieval_latency_p50_s", "retrieval_latency_p99_s",
    "end_time_s", "events",
)
"""What ``runs.csv`` records of each run, after its point, replication, seed and parameters."""

METRICS: tuple[str, ...] = (
    "delivery_latency_mean_s", "delivery_latency_p50_s", "delivery_latency_p99_s",
    "retrieval_latency_mean_s", "retrieval_latency_p50_s", "retrieval_latency_p99_s",
    "bounce_rate", "peak_queue", "duplicates",
)
"""The metrics ``sweep.csv`` gives a mean and a 95% confidence interval for, per point."""

METRIC_RANGES: dict[str, tuple[float, float | None]] = {
    **dict.fromkeys(METRICS, (0.0, None)), "bounce_rate": (0.0, 1.0),
}
"""The values each metric can take, (lowest, highest or None): latencies, counts and the queue
peak are never negative, and the bounce rate is a share. Confidence intervals are clipped to them."""

INT_COLUMNS = frozenset({"submitted", "delivered", "bounced", "pending", "duplicates", "peak_queue", "events"})

Metrics: TypeAlias = dict[str, int | float | None]


def run_metrics(summary: Mapping[str, Any]) -> Metrics:
    """The ``RUN_COLUMNS`` of one run, from its ``summary.json`` data.

    Latencies are over delivered (retrieved) mail of kind ``mail`` and None when there is
    none; ``bounce_rate`` is bounced / submitted (None when nothing was submitted);
    ``peak_queue`` is the largest outgoing queue any server reached.
    """
    counts = summary["counts"]
    delivery = summary["latency_s"]
    retrieval = summary["retrieval_latency_s"]
    submitted = counts["submitted"]
    return {
        "submitted": submitted,
        "delivered": counts["delivered"],
        "bounced": counts["bounced"],
        "pending": counts["pending"],
        "duplicates": counts["duplicates"],
        "bounce_rate": counts["bounced"] / submitted if submitted else None,
        "peak_queue": max(summary["peak_queue"].values(), default=0),
        "delivery_latency_mean_s": delivery["mean"],
        "delivery_latency_p50_s": delivery["p50"],
        "delivery_latency_p99_s": delivery["p99"],
        "retrieval_latency_mean_s": retrieval["mean"],
        "retrieval_latency_p50_s": retrieval["p50"],
        "retrieval_latency_p99_s": retrieval["p99"],
        "end_time_s": summary["end_time_s"],
        "events": summary["events"],
    }


def run_one(scenario_yaml: str, seed: int, keep_folder: str | None = None, max_messages: int | None = None) -> Metrics:
    """One run of a sweep, as a worker process executes it: returns only its metrics.

    ``scenario_yaml`` is the point's effective scenario (picklable text); ``keep_folder``,
    if given, receives the run's whole result folder (without plots).
    """
    result = run(load_scenario(scenario_yaml, max_messages=max_messages), seed=seed)
    if keep_folder is not None:
        result.save(keep_folder, with_plots=False)
    return run_metrics(result.summary)
