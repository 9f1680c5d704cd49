"""From the runs of a sweep to its tables: one row per run, one row per point.

This module owns the columns of ``sweep.csv`` (:func:`point_columns`), each point's means,
confidence intervals and counts over its replications (:func:`aggregate`), and the rows of
``runs.csv`` as dicts (:func:`run_rows`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .intervals import ci_bounds, mean_ci95
from .metrics import METRICS, Metrics
from .plan import SweepPlan


def point_columns(plan: SweepPlan) -> list[str]:
    """The columns of ``sweep.csv``: point, parameters, runs, then per metric mean, ci95 (half-width),
    ci95_low and ci95_high (the interval, clipped to the metric's range), n."""
    stats = [name for metric in METRICS
             for name in (metric, f"{metric}_ci95", f"{metric}_ci95_low", f"{metric}_ci95_high", f"{metric}_n")]
    return ["point", *plan.keys, "runs", *stats]


def aggregate(plan: SweepPlan, runs: Mapping[tuple[int, int], Metrics]) -> list[dict[str, Any]]:
    """Per point: each metric's mean over the replications that have it, the half-width of
    its Student-t 95% confidence interval, that interval clipped to the metric's range (see
    :func:`ci_bounds`), and how many replications had it."""
    rows: list[dict[str, Any]] = []
    for point, overrides in enumerate(plan.points):
        done = [runs[(point, r)] for r in range(plan.replications) if (point, r) in runs]
        row: dict[str, Any] = {"point": point, **overrides, "runs": len(done)}
        for metric in METRICS:
            values = [float(m[metric]) for m in done if m[metric] is not None]  # type: ignore[arg-type]
            mean, half = mean_ci95(values)
            row[metric], row[f"{metric}_ci95"], row[f"{metric}_n"] = mean, half, len(values)
            row[f"{metric}_ci95_low"], row[f"{metric}_ci95_high"] = ci_bounds(metric, mean, half)
        rows.append(row)
    return rows


def run_rows(plan: SweepPlan, runs: Mapping[tuple[int, int], Metrics]) -> list[dict[str, Any]]:
    """One dict per run in (point, replication) order: the columns of ``runs.csv``."""
    return [
        {"point": p, "replication": r, "seed": plan.seeds[r], **plan.points[p], **runs[(p, r)]}
        for p, r in sorted(runs)
    ]

