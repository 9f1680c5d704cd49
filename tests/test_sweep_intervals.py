"""Sweep confidence intervals of quantities that cannot be negative stop at 0 (and the bounce
rate at 1) in sweep.csv, in the printed summary and in the plots; a quantity that every
replication measures alike has a half-width of exactly 0, printed as "± 0".

The statistics are checked on chosen replication values through the same functions a sweep
uses (aggregate, the report, the figures), and once end to end with `mailsim sweep`.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import pytest

from simulator.cli import main
from simulator.cli_sweep import report
from simulator.sweep.aggregation import aggregate
from simulator.sweep.api import SweepOutcome
from simulator.sweep.figures import sweep_figures
from simulator.sweep.intervals import ci_bounds, mean_ci95
from simulator.sweep.metrics import METRICS, RUN_COLUMNS
from simulator.sweep.plan import plan_sweep

# No random draw anywhere: scripted messages, no outages. Every replication is the same run.
FIXED = """\
name: fixed
seed: 3
duration: 1h
network:
  links:
    - {between: [lan.a, mx.a], latency: 1ms}
    - {between: [mx.a, mx.b], latency: 20ms, bandwidth: 10Mbps}
    - {between: [mx.b, lan.b], latency: 5ms}
servers:
  mx.a: {domains: [a.example]}
  mx.b: {domains: [b.example]}
users:
  - {address: s@a.example, at: lan.a}
  - {address: r@b.example, at: lan.b}
messages:
  - {at: 1m, from: s@a.example, to: [r@b.example], size: 30KB}
  - {at: 3m, from: s@a.example, to: [r@b.example], size: 10KB}
"""


def test_equal_values_have_a_half_width_of_exactly_zero() -> None:
    assert mean_ci95([0.1, 0.1, 0.1]) == (0.1, 0.0)  # the plain formula gives 4.2e-17
    assert mean_ci95([2.675] * 5) == (2.675, 0.0)  # ... and 1.4e-15 for three of these
    assert mean_ci95([7.0]) == (7.0, None)
    mean, half = mean_ci95([1.0, 2.0, 3.0])
    assert mean == 2.0 and half == pytest.approx(4.3027 / 3**0.5)


def test_intervals_are_clipped_to_what_the_metric_can_be() -> None:
    assert ci_bounds("delivery_latency_mean_s", 0.01, 0.05) == (0.0, pytest.approx(0.06))
    assert ci_bounds("peak_queue", 3.0, 1.0) == (2.0, 4.0)
    assert ci_bounds("bounce_rate", 0.98, 0.05) == (pytest.approx(0.93), 1.0)
    assert ci_bounds("bounce_rate", 0.5, 0.6) == (0.0, 1.0)
    assert ci_bounds("duplicates", 2.0, None) == (None, None)


@pytest.fixture(scope="module")
def fixed_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("fixed") / "fixed.yaml"
    path.write_text(FIXED)
    return path


def _metrics(**values: float) -> dict[str, Any]:
    base: dict[str, Any] = dict.fromkeys(RUN_COLUMNS, 0)
    base.update({m: 1.0 for m in METRICS})
    base.update(values)
    return base


@pytest.fixture(scope="module")
def outcome(fixed_file: Path) -> SweepOutcome:
    """Two points of three replications each, with chosen metric values: point 0 bounces in one
    replication only (an interval reaching below 0), point 1 bounces alike in all (no spread)."""
    plan = plan_sweep(fixed_file, {"network.links.1.bandwidth": ["1Mbps", "10Mbps"]}, 3)
    bounce = {0: [0.0, 0.0, 0.05], 1: [0.5, 0.5, 0.5]}
    latency = {0: [0.002, 0.001, 0.9], 1: [0.25, 0.25, 0.25]}
    runs = {(p, r): _metrics(bounce_rate=bounce[p][r], delivery_latency_mean_s=latency[p][r])
            for p in range(2) for r in range(3)}
    return SweepOutcome(plan, [], aggregate(plan, runs), 6, 0, 1.0)


def test_sweep_rows_carry_the_clipped_interval(outcome: SweepOutcome) -> None:
    noisy, flat = outcome.points
    mean, half = mean_ci95([0.0, 0.0, 0.05])
    assert half is not None and half > mean  # unclipped, it would reach below 0
    assert (noisy["bounce_rate"], noisy["bounce_rate_ci95"]) == (mean, half)
    assert (noisy["bounce_rate_ci95_low"], noisy["bounce_rate_ci95_high"]) == (0.0, mean + half)
    assert noisy["delivery_latency_mean_s_ci95_low"] == 0.0
    assert (flat["bounce_rate_ci95"], flat["bounce_rate_ci95_low"], flat["bounce_rate_ci95_high"]) == (0.0, 0.5, 0.5)
    assert flat["delivery_latency_mean_s_ci95"] == 0.0


def test_the_summary_prints_clipped_intervals_and_zero_half_widths(outcome: SweepOutcome) -> None:
    text = report(outcome, "this process")
    noisy, flat = text.splitlines()[1:3]
    high = outcome.points[0]["bounce_rate_ci95_high"]
    assert f"bounce rate 0.01667 (95% CI 0 to {high:.2g})" in noisy
    assert "delivery latency mean 0.301 s (95% CI 0 to " in noisy
    assert "-" not in noisy.split(":", 1)[1]  # no negative bound anywhere
    assert "delivery latency mean 0.25 s ± 0 s, bounce rate 0.5 ± 0" in flat
    assert "nan" not in text and "e-1" not in text


def test_the_plot_draws_no_bar_below_zero(outcome: SweepOutcome) -> None:
    [fig] = sweep_figures(outcome.plan, outcome.points).values()
    for metric in ("bounce_rate", "delivery_latency_mean_s"):
        [bars] = [c for ax in fig.axes for c in ax.collections if c.get_gid() == f"ci:{metric}:0,1"]
        segments = bars.get_segments()
        assert len(segments) == 2
        for segment, row in zip(segments, outcome.points, strict=True):
            ys = sorted(y for _x, y in segment)
            assert ys[0] == pytest.approx(row[f"{metric}_ci95_low"]) and ys[0] >= 0.0
            assert ys[1] == pytest.approx(row[f"{metric}_ci95_high"])
        assert bars.axes.get_ylim()[0] >= 0.0
    assert "95% CI bars, clipped at 0" in fig.get_suptitle()


def test_a_sweep_of_a_deterministic_scenario_prints_zero_half_widths(fixed_file: Path, tmp_path: Path) -> None:
    out, err = io.StringIO(), io.StringIO()
    status = main(["sweep", str(fixed_file), "--set", "network.links.1.bandwidth=1Mbps,10Mbps", "-r", "3", "-j", "1",
                   "-o", str(tmp_path / "s"), "--no-plots"], out, err)
    assert status == 0, err.getvalue()
    with open(tmp_path / "s" / "sweep.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    for row in rows:
        assert row["delivery_latency_mean_s_ci95"] == "0.0"
        assert row["delivery_latency_mean_s_ci95_low"] == row["delivery_latency_mean_s"]
        assert row["delivery_latency_mean_s_ci95_high"] == row["delivery_latency_mean_s"]
        assert row["bounce_rate"] == "0.0" and row["bounce_rate_ci95"] == "0.0"
    lines = out.getvalue().splitlines()
    assert [" s ± 0 s, bounce rate 0 ± 0" in line for line in lines[1:3]] == [True, True]
