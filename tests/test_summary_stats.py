"""The summary's statistics and its counts per access protocol, against plain recounts."""

from __future__ import annotations

import math
import random
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from simulator import results
from simulator.runner import run
from simulator.scenario import load_scenario

SCENARIOS = Path(__file__).parent.parent / "scenarios"


def sorted_stats(values: list[float]) -> dict[str, float | None]:
    """The statistics from a whole sort, as they were taken before."""
    ordered = sorted(values)
    return {"count": len(ordered), "mean": math.fsum(ordered) / len(ordered),
            **{f"p{q}": results.percentile(ordered, q) for q in (50, 90, 99)}, "max": ordered[-1]}


@pytest.mark.parametrize("size", [1, 2, 3, 10, 99, 100, 101, 1000])
def test_stats_from_a_partition_are_those_of_a_sort(size: int) -> None:
    rng = random.Random(size)
    values = [rng.choice([rng.random() * 100, 1.5, 2.0, 0.0]) for _ in range(size)]
    got = results.stats(np.array(values))
    assert got == sorted_stats(values)
    assert all(type(v) is float for k, v in got.items() if k != "count")


MIXED_ZEROS = [0.0, -1.0, 0.0, -0.0, 0.0, 0.0, 0.0, 0.0, 0.0, -0.0, -1.0, -0.0, -1.0, 0.0, -1.0, -1.0, -0.0, 0.0, -0.0,
               -0.0, -0.0, -1.0, 0.0, -1.0, -0.0, -1.0]
"""Zeros of both signs for which a partition alone puts a 0.0 last, where a stable sort puts the last -0.0."""


@pytest.mark.parametrize(("values", "sign"), [([0.0, -0.0], -1.0), ([-0.0, 0.0], 1.0), (MIXED_ZEROS, -1.0)])
def test_a_negative_zero_is_where_a_stable_sort_puts_it(values: list[float], sign: float) -> None:
    """Equal zeros keep their order, so the largest value is the last of them, whatever its sign."""
    largest = results.stats(values)["max"]
    assert largest == 0.0 and math.copysign(1.0, largest) == sign


def test_stats_of_nothing_are_none() -> None:
    assert results.stats(np.zeros(0))["mean"] is None


def test_peak_queues_are_each_servers_longest_in_name_order() -> None:
    queues = {"server": ["mx.b", "mx.a", "mx.b", "mx.a", "mx.c"], "queue_length": [0, 3, 2, 1, -1]}
    assert list(results._peaks(queues).items()) == [("mx.a", 3), ("mx.b", 2)]


def test_retrievals_per_protocol_are_the_retrieval_rows_of_each_delivered_pair() -> None:
    result = run(load_scenario(SCENARIOS / "readers.yaml"))
    protocol_of = results.device_protocols(result.log)
    devices = Counter(v[0] for _t, e, _m, _n, v in result.records if e == "device")
    got = Counter(zip(result.tables.columns("retrievals")["message_id"],
                      result.tables.columns("retrievals")["recipient"], strict=True))
    expected: dict[str, dict[str, int]] = {}
    for row in result.tables.deliveries:
        if row["kind"] == "mail" and row["status"] == "delivered" and row["recipient"] in protocol_of:
            counts = expected.setdefault(protocol_of[row["recipient"]], Counter())
            copies = got[(row["message_id"], row["recipient"])]
            counts.update(delivered=1, retrievals=copies, everywhere=copies >= devices[row["recipient"]])
    summary = result.summary["retrieval_by_protocol"]
    assert sorted(summary) == sorted(expected) and len(summary) > 1
    for protocol, counts in expected.items():
        assert summary[protocol]["delivered"] == counts["delivered"]
        assert summary[protocol]["retrievals"] == counts["retrievals"] > 0
        assert summary[protocol]["every_device_share"] == counts["everywhere"] / counts["delivered"]


def test_retrievals_counted_a_few_users_at_a_time_are_those_counted_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    result = run(load_scenario(SCENARIOS / "readers.yaml"))
    at_once = results.by_protocol(result.tables, result.log)
    monkeypatch.setattr(results, "RETRIEVALS_AT_A_TIME", 3)
    assert results.by_protocol(result.tables, result.log) == at_once
    assert len(result.tables.columns("retrievals")["message_id"]) > 3 * len(results.device_protocols(result.log))
