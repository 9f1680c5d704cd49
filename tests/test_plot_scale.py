"""Plots are drawn from a bounded number of points, however many messages the run had: CDFs from
at most 2,000 exact order statistics (the percentile markers still at the summary's values),
queue curves as per-pixel-column envelopes (first, lowest, highest, last) that keep every peak;
small inputs are drawn whole. The large inputs are built directly (a million values, no simulation).
"""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import pytest

from simulator import plots
from simulator.plotdata import MAX_CDF_POINTS, MAX_STEP_POINTS, cdf_steps, percentile_ranks, step_envelope
from simulator.results import percentile, stats

MILLION = 1_000_000
PERCENTS = (50, 90, 99)


def _gid(fig: Any, gid: str) -> Any:
    found = [a for ax in fig.axes for a in ax.get_children() if a.get_gid() == gid]
    assert len(found) == 1, f"expected one artist {gid!r}, found {len(found)}"
    return found[0]


def _lognormal(n: int, seed: int = 7) -> list[float]:
    rng = np.random.default_rng(seed)
    return list(rng.lognormal(mean=1.0, sigma=2.0, size=n))


def _step_height(xs: np.ndarray, ys: np.ndarray, at: np.ndarray) -> np.ndarray:
    """The height of the step curve through (xs, ys), drawn with where="post", at each of ``at``."""
    index = np.searchsorted(xs, at, side="right") - 1
    return np.where(index >= 0, ys[np.maximum(index, 0)], 0.0)


# ---- CDFs --------------------------------------------------------------------------------------


def test_a_million_value_cdf_draws_at_most_2000_points_and_the_summary_percentiles() -> None:
    values = _lognormal(MILLION)
    fig = plots.cdf_figure({"big": values})
    line = _gid(fig, "cdf:big")
    xs, ys = np.asarray(line.get_xdata()), np.asarray(line.get_ydata())
    assert len(xs) <= MAX_CDF_POINTS
    summary = stats(values)
    ordered = np.sort(values)
    for q in PERCENTS:
        marker = _gid(fig, f"p{q}:big")
        assert marker.get_xdata()[0] == summary[f"p{q}"]  # exactly, not approximately
        assert marker.get_ydata()[0] == pytest.approx(q / 100)
        for rank in percentile_ranks(MILLION, [q]):  # the two values the percentile lies between are drawn
            hit = np.flatnonzero(xs == ordered[rank])
            assert hit.size and ys[hit[-1]] == pytest.approx((rank + 1) / MILLION)
    assert xs[0] == ordered[0] and xs[-1] == ordered[-1] and ys[-1] == 1.0


def test_the_reduced_cdf_stays_within_a_pixel_of_the_full_one() -> None:
    ordered = np.sort(_lognormal(200_000, seed=3))
    xs, ys = cdf_steps(ordered, len(ordered), PERCENTS)
    probe = np.quantile(ordered, np.linspace(0, 1, 20_001))
    full = np.searchsorted(ordered, probe, side="right") / len(ordered)
    assert np.max(np.abs(_step_height(xs, ys, probe) - full)) <= 1.5 / MAX_CDF_POINTS  # < 0.3 px of 400
    assert np.all(np.diff(xs) >= 0) and np.all(np.diff(ys) > 0)


def test_a_cdf_over_all_pairs_keeps_its_plateau_and_counts_when_reduced() -> None:
    values: list[float | None] = list(_lognormal(300_000, seed=5))
    values += [None] * 100_000  # pairs that never got there
    fig = plots.cdf_figure({"some": values})
    line = _gid(fig, "cdf:some")
    assert len(line.get_xdata()) <= MAX_CDF_POINTS
    assert line.get_ydata()[-1] == pytest.approx(0.75)
    plateau = _gid(fig, "plateau:some")
    assert list(plateau.get_ydata()) == pytest.approx([0.75, 0.75])
    assert plateau.get_xdata()[0] == line.get_xdata()[-1]
    assert "300000 with a value, 100000 missing" in line.get_label()


def test_small_cdfs_are_drawn_point_for_point() -> None:
    values = [random.Random(1).expovariate(1.0) for _ in range(MAX_CDF_POINTS)]
    xs, ys = cdf_steps(sorted(values), 2 * MAX_CDF_POINTS, PERCENTS)
    assert list(xs) == sorted(values)
    assert list(ys) == [(i + 1) / (2 * MAX_CDF_POINTS) for i in range(len(values))]


def test_percentile_ranks_bracket_the_interpolated_percentile() -> None:
    ordered = list(range(0, 3000, 3))
    for q in (50, 90, 99, 99.9):
        lo, hi = percentile_ranks(len(ordered), [q])
        assert hi == lo + 1 and ordered[lo] <= percentile(ordered, q) <= ordered[hi]
    assert percentile_ranks(1, PERCENTS) == [0]


def _points_drawn(fig: Any) -> int:
    return sum(len(line.get_xdata()) for ax in fig.axes for line in ax.get_lines())


def test_the_points_a_cdf_figure_draws_do_not_grow_with_the_number_of_values() -> None:
    drawn = {n: _points_drawn(plots.cdf_figure({"run": _lognormal(n, seed=n % 97)}))
             for n in (10_000, 100_000, MILLION)}
    markers = len(PERCENTS)
    assert all(MAX_CDF_POINTS - 8 <= points - markers <= MAX_CDF_POINTS for points in drawn.values()), drawn
    assert drawn[100_000] == drawn[MILLION]


# ---- queue curves ------------------------------------------------------------------------------


def _random_walk(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    times = np.sort(rng.uniform(0, 86_400.0, size=n))
    lengths = np.maximum.accumulate(np.zeros(n))  # zeros, then a walk that never goes below 0
    steps = rng.choice([-1, 1], size=n)
    level = 0
    for i, step in enumerate(steps):
        level = max(level + int(step), 0)
        lengths[i] = level
    return times, lengths


def test_the_envelope_of_a_million_changes_is_bounded_and_keeps_every_slice_extreme() -> None:
    times, lengths = _random_walk(MILLION, seed=11)
    lengths[123_456] = 10_000  # a one-change spike: the peak
    slices = 800
    xs, ys = step_envelope(times, lengths, 86_400.0, slices)
    assert len(xs) <= 4 * slices + 1
    assert ys.max() == 10_000 and xs[np.argmax(ys)] <= times[123_456]
    assert xs[-1] == 86_400.0 and ys[-1] == lengths[-1]
    slice_of = np.minimum((times / 86_400.0 * slices).astype(int), slices - 1)
    drawn_slice = np.minimum((xs[:-1] / 86_400.0 * slices).astype(int), slices - 1)
    for s in np.unique(slice_of)[::37]:
        inside = lengths[slice_of == s]
        shown = ys[:-1][drawn_slice == s]
        assert shown.max() == inside.max() and shown.min() == inside.min() and shown[-1] == inside[-1]


def test_the_points_an_envelope_draws_do_not_grow_with_the_number_of_changes() -> None:
    drawn = {}
    for n in (100_000, MILLION):
        times, lengths = _random_walk(n, seed=n % 89)
        drawn[n] = len(step_envelope(times, lengths, 86_400.0, slices=800)[0])
    assert all(2 * 800 < points <= 4 * 800 + 1 for points in drawn.values()), drawn


def test_queue_timeline_of_many_rows_draws_an_envelope_with_the_peak() -> None:
    times, lengths = _random_walk(150_000, seed=2)
    rows = [{"time": float(t), "server": "mx.a", "queue_length": int(n)} for t, n in zip(times, lengths, strict=True)]
    peak = max(r["queue_length"] for r in rows)
    fig = plots.queue_timeline(rows, 86_400.0, title="many")
    line = _gid(fig, "queue:mx.a")
    assert len(line.get_xdata()) <= 4 * 800 + 1
    assert max(line.get_ydata()) == peak
    assert f"mx.a (peak {peak})" in {t.get_text() for ax in fig.axes for t in (ax.title, ax._left_title)}


def test_small_queue_curves_are_drawn_change_for_change() -> None:
    times = [0.0, 5.0, 5.0, 60.0]
    lengths = [1, 3, 2, 0]
    xs, ys = step_envelope(times, lengths, 100.0, slices=2)
    assert list(xs) == [0.0, 5.0, 5.0, 60.0, 100.0]
    assert list(ys) == [1, 3, 2, 0, 0]
    with pytest.raises(ValueError):
        step_envelope([], [], 100.0, slices=2)
    times_many, lengths_many = _random_walk(MAX_STEP_POINTS, seed=4)  # as many changes as are drawn whole
    xs, ys = step_envelope(times_many, lengths_many, 86_400.0, slices=800)
    assert list(xs) == [*times_many, 86_400.0] and list(ys) == [*lengths_many, lengths_many[-1]]
