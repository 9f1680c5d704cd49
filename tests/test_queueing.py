"""Queueing theory on one bottleneck link: delivery latency is an M/G/1-PS sojourn time.

Set-up: one sender at ``mx.alpha``, one recipient at ``mx.beta``, one link between them with
latency 0 and bandwidth ``C``. Submission crosses no link and the relay session has RTT 0, so a
message is delivered exactly when its relay transfer ends: its latency is the transfer's sojourn
time on a processor-sharing link. Arrivals are Poisson (rate ``lam``); service times are
``S = 8 * wire_bytes / C`` with ``wire_bytes = size + h`` (``h`` the fixed header block, the same
for every message here since sender and recipient are fixed). Concurrency is unlimited in effect.

Theory (Kleinrock; insensitivity of PS): ``E[T] = E[S] / (1 - rho)`` with ``rho = lam * E[S]``,
whatever the size distribution (for exponential sizes this is M/M/1's ``1 / (mu - lam)``), and
``E[T | S = s] = s / (1 - rho)``, so ``E[T / S] = 1 / (1 - rho)``. A FIFO link would give
different means for the non-exponential sizes (Pollaczek-Khinchine), so these checks see the
discipline, not just the load.

Statistics: ``R`` replications with independent seeds; in each, messages submitted in the first
and last ``cut_s`` seconds are dropped (warm-up from an empty link, and the drain after arrivals
stop, when PS sojourns shrink for lack of later arrivals); the replication means give a 95 %
Student-t confidence interval. The analytic value must lie in that interval widened by a slack
of 2 % (slow tests) or 5 % (quick test) of the value, which covers what the interval does not:
the remaining warm-up bias of O(relaxation time / window), sizes rounded to whole bytes
(< 0.5 B in 10 kB) and the t-interval being approximate for skewed per-replication means.
A FIFO link would be 25 % off in E[T] for the lognormal and uniform sizes, and off in E[T/S]
for every distribution (FIFO gives ``E[T/S] = 1 + E[W] E[1/S]``); a wrong share moves everything.
"""

from __future__ import annotations

import math
import os
import statistics
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any

import pytest
import yaml

from simulator import load_scenario, run

C_BPS = 1e6
WIRE_MEAN_BYTES = 10_000.0  # E[wire bytes]: E[S] = 80 ms
T975 = {2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262, 11: 2.201,
        14: 2.145, 15: 2.131, 19: 2.093, 24: 2.064, 29: 2.045}  # Student t, 97.5 % quantile by df


def scenario(rate_per_s: float, duration_s: float, size: Any) -> Any:
    return load_scenario(yaml.safe_dump({
        "name": "ps-link",
        "duration": duration_s,
        "network": {"links": [{"between": ["mx.alpha", "mx.beta"], "latency": 0, "bandwidth": C_BPS}]},
        "servers": {"mx.alpha": {"domains": ["a.example"], "concurrency": 1_000_000},
                    "mx.beta": {"domains": ["b.example"]}},
        "users": [{"address": "s@a.example", "at": "mx.alpha"}, {"address": "r@b.example", "at": "mx.beta"}],
        "traffic": [{"from": "a.example", "to": "b.example", "rate": f"{rate_per_s!r}/s", "size": size}],
    }, sort_keys=False))


def header_bytes() -> int:
    """h = wire - size for this sender and recipient, read off one simulated message."""
    result = run(scenario(1.0, 5.0, 1000))
    diffs = {r["wire_bytes"] - r["size_bytes"] for r in result.tables.deliveries}
    assert len(diffs) == 1
    return diffs.pop()


@dataclass
class Replication:
    mean_sojourn_s: float
    mean_slowdown: float  # mean of T / S
    utilisation: float  # offered work / time over the arrival window
    busy_s: float  # length of the union of [submitted, delivered] intervals
    work_s: float  # sum of service times S of every message
    count: int


def replicate(seed: int, rate_per_s: float, duration_s: float, size: Any, cut_s: float) -> Replication:
    result = run(scenario(rate_per_s, duration_s, size), seed=seed)
    mail = [r for r in result.tables.deliveries if r["kind"] == "mail"]
    assert all(r["status"] == "delivered" for r in mail)
    window = [r for r in mail if cut_s <= r["submitted_at"] <= duration_s - cut_s]
    service = {id(r): 8.0 * r["wire_bytes"] / C_BPS for r in mail}
    busy, end = 0.0, -math.inf
    for r in sorted(mail, key=lambda r: r["submitted_at"]):
        start, stop = r["submitted_at"], r["delivered_at"]
        busy += max(0.0, stop - max(start, end))
        end = max(end, stop)
    return Replication(
        mean_sojourn_s=statistics.fmean(r["latency_s"] for r in window),
        mean_slowdown=statistics.fmean(r["latency_s"] / service[id(r)] for r in window),
        utilisation=math.fsum(service.values()) / duration_s,
        busy_s=busy,
        work_s=math.fsum(service.values()),
        count=len(mail),
    )


def interval(values: list[float]) -> tuple[float, float]:
    """Mean and 95 % t half-width of replication values."""
    n = len(values)
    return statistics.fmean(values), T975[n - 1] * statistics.stdev(values) / math.sqrt(n)


def assert_inside(values: list[float], theory: float, slack: float, what: str) -> None:
    mean, half = interval(values)
    allowed = half + slack * theory
    assert abs(mean - theory) <= allowed, (
        f"{what}: theory {theory:.6g} outside {mean:.6g} +- {half:.3g} (+ slack {slack * theory:.3g})")


def check(size: Any, size_mean_bytes: float, rho: float, reps: int, duration_s: float, cut_s: float,
          slack: float) -> None:
    h = header_bytes()
    wire_mean = size_mean_bytes + h
    service_mean_s = 8.0 * wire_mean / C_BPS
    lam = rho / service_mean_s
    args = [(seed, lam, duration_s, size, cut_s) for seed in range(1, reps + 1)]
    workers = min(reps, os.cpu_count() or 1, 4)
    if workers > 1 and reps * lam * duration_s > 50_000:  # worth the processes' start-up
        with ProcessPoolExecutor(workers) as pool:
            runs = list(pool.map(_replicate, args))
    else:
        runs = [_replicate(a) for a in args]
    for rep in runs:  # work conservation, exact: the link is busy exactly as long as its work
        assert rep.busy_s == pytest.approx(rep.work_s, rel=1e-9)
    assert_inside([r.utilisation for r in runs], rho, slack, "utilisation")
    assert_inside([r.mean_sojourn_s for r in runs], service_mean_s / (1 - rho), slack, "E[T]")
    assert_inside([r.mean_slowdown for r in runs], 1 / (1 - rho), slack, "E[T/S]")


def _replicate(args: tuple[int, float, float, Any, float]) -> Replication:
    return replicate(*args)


def size_mean(kind: str, mean: float) -> tuple[Any, float]:
    """A size distribution of the given mean (bytes), as YAML data, and its exact mean."""
    if kind == "exponential":
        return {"exponential": {"mean": mean}}, mean
    if kind == "lognormal":
        sigma = 1.0
        return {"lognormal": {"median": mean / math.exp(sigma**2 / 2), "sigma": sigma}}, mean
    if kind == "uniform":
        return {"uniform": {"low": 0.2 * mean, "high": 1.8 * mean}}, mean
    raise AssertionError(kind)


def test_ps_link_quick() -> None:
    """Exponential sizes, rho = 0.5, 5 short replications (about a second)."""
    h = header_bytes()
    size, mean = size_mean("exponential", WIRE_MEAN_BYTES - h)
    check(size, mean, rho=0.5, reps=5, duration_s=400.0, cut_s=40.0, slack=0.05)


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["exponential", "lognormal", "uniform"])
def test_mg1_ps_sojourn_is_insensitive_to_size_distribution(kind: str) -> None:
    """rho = 0.7: E[T] = E[S] / 0.3 = 0.267 s for every size distribution (FIFO would give
    0.267 s, 0.334 s and 0.193 s); 16 replications of 2000 s (about 17 000 messages each)."""
    h = header_bytes()
    size, mean = size_mean(kind, WIRE_MEAN_BYTES - h)
    check(size, mean, rho=0.7, reps=16, duration_s=2000.0, cut_s=200.0, slack=0.02)


@pytest.mark.slow
def test_mm1_heavier_load() -> None:
    """M/M/1 at rho = 0.85: E[T] = 1 / (mu - lam) = 0.533 s; 10 replications of 4000 s."""
    h = header_bytes()
    size, mean = size_mean("exponential", WIRE_MEAN_BYTES - h)
    check(size, mean, rho=0.85, reps=10, duration_s=4000.0, cut_s=400.0, slack=0.03)
