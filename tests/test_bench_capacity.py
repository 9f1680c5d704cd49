"""The benchmark's ``--capacity`` scenario validates, runs at a small size with every feature it
claims (a daily curve, workers on every server, team lists that get posts), and its report puts
its ratio beside the default scenario's."""

from __future__ import annotations

import io
import math
import random
import sys
from collections import Counter
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

import bench  # noqa: E402
import capacity_variant  # noqa: E402

from simulator import load_scenario, run  # noqa: E402

MESSAGES = 1000


@pytest.fixture(scope="module")
def result():
    return run(load_scenario(bench.scenario_text(MESSAGES, retrieval=True, capacity=True)))


def test_the_curve_keeps_the_daily_total() -> None:
    assert len(capacity_variant.DAILY_MULTIPLIERS) == 24
    assert math.isclose(math.fsum(capacity_variant.DAILY_MULTIPLIERS), 24.0)
    assert max(capacity_variant.DAILY_MULTIPLIERS) == capacity_variant.DAILY_MULTIPLIERS[9]


def test_every_server_processes_and_every_entry_follows_the_curve(result) -> None:
    scenario = result.scenario
    assert len(scenario.servers) == len(bench.DOMAINS)
    assert all(server.workers == capacity_variant.WORKERS for server in scenario.servers.values())
    text = bench.scenario_text(MESSAGES, capacity=True)
    assert text.count("    daily: {multipliers:") == len(bench.DOMAINS) * len(bench.FLOWS)
    assert "daily" not in bench.scenario_text(MESSAGES) and "lists:" not in bench.scenario_text(MESSAGES)
    assert capacity_variant.peak_utilisation(2_000_000, len(bench.DOMAINS)) < 0.5  # stable even at 2M messages
    assert [entry.daily is not None for entry in scenario.traffic] == [True] * len(scenario.traffic)


def test_the_capacity_run_processes_expands_and_delivers(result) -> None:
    counts = Counter(record[1] for record in result.records)
    deliveries = result.tables.deliveries
    posts = round(capacity_variant.LIST_SHARE * MESSAGES)
    expanded = [row for row in deliveries if row["status"] == "expanded"]
    assert len(expanded) == posts
    assert {row["recipient"].split("@")[0] for row in expanded} == {"team"}
    posted = {row["message_id"] for row in expanded}
    copies = Counter(row["message_id"] for row in deliveries if row["about"] in posted and row["status"] == "delivered")
    assert len(copies) == posts and set(copies.values()) == {capacity_variant.TEAM_SIZE}
    # every accepted message goes through a worker: one processing record per message and server
    assert counts["processing"] == counts["processed"] > result.summary["counts"]["messages"]
    summary = result.summary["counts"]
    assert summary["pending"] == 0 and summary["expanded"] == posts
    # about as many messages as the default scenario writes (Poisson: within 4 standard deviations)
    assert abs(summary["messages"] - MESSAGES) < 4 * math.sqrt(MESSAGES) + 1


def test_the_posts_follow_the_daily_curve() -> None:
    times_s = capacity_variant.post_times_s(20_000, random.Random(3))
    assert times_s == sorted(times_s) and times_s[0] >= 0 and times_s[-1] < 24 * 3600
    per_hour = Counter(int(t // 3600) for t in times_s)
    for hour, multiplier in enumerate(capacity_variant.DAILY_MULTIPLIERS):
        expected = 20_000 * multiplier / 24
        assert abs(per_hour[hour] - expected) < 5 * math.sqrt(expected) + 1, hour


def test_the_report_puts_both_ratios_side_by_side() -> None:
    out = io.StringIO()
    argv = ["--capacity", "--retrieval", "--messages", "300", "--no-memory", "--no-whole-run"]
    assert bench.main(argv, out=out) == 0
    text = out.getvalue()
    lines = text.splitlines()
    assert "capacity features: daily curve, server workers, team lists" in lines[0]
    rows = {line.split()[0]: line.split() for line in lines
            if line.startswith(("  default ", "  --capacity ")) and len(line.split()) == 8}
    assert set(rows) == {"default", "--capacity"}
    default_ratio, capacity_ratio = float(rows["default"][-2]), float(rows["--capacity"][-2])
    assert default_ratio > 0 and capacity_ratio > 0
    quotient = next(line for line in lines if line.startswith("  --capacity / default:")).split()
    # The quotient of the unrounded ratios, printed to 2 decimals; the ratios printed to 3 decimals
    # may each be 0.0005 off, which moves their quotient by up to 0.0005 * (1 + q) / default.
    printed = capacity_ratio / default_ratio
    assert abs(float(quotient[3]) - printed) <= 0.005 + 0.0005 * (1 + printed) / default_ratio + 1e-9
    label, last = lines[-1].split()
    assert label == "ratio:" and len(last.split(".")[1]) == 2
    assert abs(float(last) - capacity_ratio) <= 0.005 + 0.0005 + 1e-9  # the same ratio, to 2 decimals and to 3
