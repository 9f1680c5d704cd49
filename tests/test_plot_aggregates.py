"""The aggregates the plots are drawn from: a step curve's per-pixel-column envelope keeps each
column's first, lowest, highest and last change in time order (a property over random curves);
a CDF's points are exact order statistics at their ranks, with the summary's percentiles; and a
figure drawn from ten times the input draws as many points, the same bytes every time.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator import plots
from simulator.load_plots import servers_figure
from simulator.mailpairs import distinct_codes, shared_aggregate, shared_pairs
from simulator.plotdata import MAX_CDF_POINTS, cdf_points, envelope_indices, percentile_ranks, step_envelope
from simulator.results import percentile

PERCENTS = (50, 90, 99)


@st.composite
def step_curves(draw: Any) -> tuple[np.ndarray, np.ndarray, float, int]:
    """(times, values, end, columns): a random step curve, times non-decreasing (repeats allowed)."""
    n = draw(st.integers(1, 80))
    gaps = draw(st.lists(st.sampled_from([0.0, 0.25, 1.0, 3.5, 10.0]), min_size=n, max_size=n))
    values = draw(st.lists(st.integers(0, 6), min_size=n, max_size=n))
    times = np.cumsum(gaps)
    end_s = float(times[-1]) + draw(st.sampled_from([0.0, 0.5, 20.0]))
    return times, np.array(values, dtype=np.float64), end_s, draw(st.integers(1, 7))


@settings(max_examples=300, deadline=None)
@given(step_curves())
def test_the_envelope_keeps_every_columns_first_lowest_highest_and_last_in_time_order(
        curve: tuple[np.ndarray, np.ndarray, float, int]) -> None:
    times, values, end_s, slices = curve
    if end_s <= 0:
        end_s = 1.0
    xs, ys = step_envelope(times, values, end_s, slices, max_points=0)
    column = np.minimum((times / end_s * slices).astype(np.int64), slices - 1)
    if len(times) <= 4 * slices:  # as few changes as a column can draw: the curve as it is
        assert list(xs) == [*times, end_s] and list(ys) == [*values, values[-1]]
        return
    kept = envelope_indices(column, values)
    assert list(xs) == [*times[kept], end_s] and list(ys) == [*values[kept], values[-1]]
    assert np.all(np.diff(kept) > 0)  # each point once, in time order: a subsequence of the curve
    for c in np.unique(column):
        inside = np.flatnonzero(column == c)
        mine = kept[column[kept] == c]
        assert len(mine) <= 4
        assert inside[0] in mine and inside[-1] in mine  # its first and its last change
        assert values[mine].min() == values[inside].min() and values[mine].max() == values[inside].max()
        low, high = inside[np.argmin(values[inside])], inside[np.argmax(values[inside])]
        assert low in mine and high in mine  # the earliest of equal extremes


def test_the_envelope_of_a_long_curve_is_bounded_by_the_columns() -> None:
    rng = np.random.default_rng(4)
    for n in (50_000, 500_000):
        times = np.sort(rng.uniform(0, 1000.0, n))
        values = rng.integers(0, 50, n).astype(np.float64)
        xs, ys = step_envelope(times, values, 1000.0, slices=800)
        assert 3 * 800 < len(xs) <= 4 * 800 + 1
        assert ys.max() == values.max() and ys.min() == values.min()
        assert (xs[-1], ys[-1]) == (1000.0, values[-1])


@settings(max_examples=100, deadline=None)
@given(st.lists(st.floats(0, 1e6, allow_nan=False), min_size=1, max_size=400), st.integers(0, 50),
       st.integers(4, 60))
def test_cdf_points_are_exact_order_statistics_at_their_ranks(values: list[float], missing: int,
                                                              max_points: int) -> None:
    ordered = sorted(values)
    n, total = len(values), len(values) + missing
    points = cdf_points(values, total, PERCENTS, max_points=max_points)
    ranks = np.rint(points.ys * total).astype(int) - 1  # height (rank + 1) / total
    assert list(points.xs_s) == [ordered[r] for r in ranks]
    assert ranks[0] == 0 and ranks[-1] == n - 1  # the first and the last value
    assert np.all(np.diff(ranks) > 0) and len(ranks) <= max(n, max_points)
    assert set(percentile_ranks(n, PERCENTS)) <= set(ranks.tolist())
    assert points.percentiles_s == {q: percentile(ordered, q) for q in PERCENTS}
    assert (points.count, points.total) == (n, total)


def test_cdf_points_of_many_values_are_an_even_grid_by_rank() -> None:
    values = np.random.default_rng(9).lognormal(0.0, 2.0, 300_000)
    points = cdf_points(values, len(values), PERCENTS)
    ranks = np.rint(points.ys * len(values)).astype(int) - 1
    assert MAX_CDF_POINTS - 2 * len(PERCENTS) <= len(ranks) <= MAX_CDF_POINTS
    assert np.max(np.diff(ranks)) <= np.ceil(len(values) / (MAX_CDF_POINTS - 2 * len(PERCENTS) - 1))
    assert list(points.xs_s) == list(np.sort(values)[ranks])


def _deliveries(n: int, seed: int) -> dict[str, list[Any]]:
    """A deliveries table of ``n`` pairs as columns: a tenth bounced, a fifth never read."""
    rng = np.random.default_rng(seed)
    submitted = rng.uniform(0, 86_400.0, n)
    latency = rng.lognormal(0.0, 1.5, n)
    bounced = rng.random(n) < 0.1
    unread = rng.random(n) < 0.2
    status = np.where(bounced, "bounced", "delivered")
    delivered = np.where(bounced, np.nan, submitted + latency)
    retrieved = np.where(bounced | unread, np.nan, delivered + rng.exponential(60.0, n))
    domains = [f"d{i}.example" for i in range(12)]
    none = [None if np.isnan(v) else float(v) for v in delivered]
    return {
        "kind": ["mail"] * n, "status": status.tolist(),
        "recipient": [f"u{i % 97}@{domains[i % len(domains)]}" for i in range(n)],
        "submitted_at": submitted.tolist(), "delivered_at": none,
        "retrieved_at": [None if np.isnan(v) else float(v) for v in retrieved],
        "latency_s": [None if v is None else float(lat) for v, lat in zip(none, latency, strict=True)],
        "attempts": rng.integers(1, 4, n).tolist(),
    }


def _line_lengths(fig: Any) -> dict[str, int]:
    return {str(line.get_gid()): len(line.get_xdata()) for ax in fig.axes for line in ax.get_lines()
            if line.get_gid()}


def test_a_cdf_figure_of_ten_times_the_pairs_draws_as_many_points() -> None:
    small, big = _deliveries(30_000, 1), _deliveries(300_000, 2)  # over 2,000 in each group
    for draw in (plots.latency_cdf, plots.latency_cdf_by_domain):
        lengths = _line_lengths(draw(small)), _line_lengths(draw(big))
        assert lengths[0].keys() == lengths[1].keys()
        for gid, drawn in lengths[1].items():
            if gid.startswith("cdf:"):
                assert MAX_CDF_POINTS - 2 * len(PERCENTS) <= drawn <= MAX_CDF_POINTS
                assert abs(drawn - lengths[0][gid]) <= 2 * len(PERCENTS)  # where the percentiles fall
            else:  # markers and plateaus
                assert drawn == lengths[0][gid]


def test_a_queue_figure_of_ten_times_the_changes_draws_at_most_four_points_a_column() -> None:
    drawn = {}
    for n in (40_000, 400_000):
        rng = np.random.default_rng(n)
        queues = {"time": np.sort(rng.uniform(0, 86_400.0, n)).tolist(), "server": ["mx.a"] * n,
                  "queue_length": rng.integers(0, 30, n).tolist()}
        fig = plots.queue_timeline(queues, 86_400.0)
        drawn[n] = _line_lengths(fig)["queue:mx.a"]
        width_px = round(fig.get_figwidth() * plots.DPI)
        assert 3 * width_px < drawn[n] <= 4 * width_px + 1
        assert max(fig.axes[0].get_lines()[0].get_ydata()) == max(queues["queue_length"])


def test_a_servers_figure_of_ten_times_the_bins_draws_as_many_points() -> None:
    drawn = {}
    for bins in (20_000, 200_000):
        rows = [{"time": float(k), "duration_s": 1.0, "server": "mx.a", "queue_max": (k * 7) % 11,
                 "sessions_max": (k * 3) % 5, "workers_busy_max": 0} for k in range(bins)]
        drawn[bins] = _line_lengths(servers_figure(rows))
    assert drawn[20_000] == drawn[200_000]
    assert all(points <= 4 * 800 + 1 for points in drawn[200_000].values())


def test_a_figure_of_many_pairs_is_the_same_bytes_every_time() -> None:
    table = _deliveries(100_000, 3)
    assert plots.png_bytes(plots.latency_cdf(table)) == plots.png_bytes(plots.latency_cdf(table))


@pytest.mark.parametrize("n", [0, 1, 5])
def test_cdf_points_of_few_values_are_every_value(n: int) -> None:
    values = [3.0 * i for i in range(n, 0, -1)]
    points = cdf_points(values, n + 2, PERCENTS)
    assert list(points.xs_s) == sorted(values)
    assert list(points.ys) == [(i + 1) / (n + 2) for i in range(n)]
    assert points.percentiles_s == ({q: percentile(sorted(values), q) for q in PERCENTS} if n else {})


def test_inside_shared_pairs_an_aggregate_is_made_once_per_table_and_name() -> None:
    made: list[str] = []

    def make(label: str) -> list[str]:
        made.append(label)
        return [label]

    table, other = {"time": [1.0]}, {"time": [1.0]}
    with shared_pairs():
        first = shared_aggregate("curve", (table,), lambda: make("a"))
        assert shared_aggregate("curve", (table,), lambda: make("b")) is first  # kept: not made again
        assert shared_aggregate("curve", (other,), lambda: make("c")) == ["c"]  # another table (equal, not it)
        assert shared_aggregate("curve 2", (table,), lambda: make("d")) == ["d"]  # another aggregate of it
    assert shared_aggregate("curve", (table,), lambda: make("e")) == ["e"]  # closed: nothing kept
    assert made == ["a", "c", "d", "e"]


def test_a_figure_drawn_again_from_its_kept_aggregate_is_the_same_figure() -> None:
    table = _deliveries(5_000, 4)
    alone = plots.png_bytes(plots.latency_cdf_by_domain(table))
    with shared_pairs():
        first = plots.png_bytes(plots.latency_cdf_by_domain(table))
        again = plots.png_bytes(plots.latency_cdf_by_domain(table))
    assert alone == first == again


@given(st.lists(st.sampled_from(["a", "b", "mx.c", "", "é"]), max_size=60))
def test_distinct_codes_number_values_in_the_order_first_seen(values: list[str]) -> None:
    distinct, codes = distinct_codes(values)
    assert distinct == list(dict.fromkeys(values))
    assert [distinct[c] for c in codes] == values


def test_a_domain_only_non_final_pairs_go_to_is_no_group() -> None:
    pair = {"status": "delivered", "submitted_at": 1.0, "delivered_at": 2.0, "retrieved_at": None,
            "latency_s": 1.0, "attempts": 1}
    rows = [{**pair, "kind": "bounce", "recipient": "owner@dsn.example"},
            {**pair, "kind": "mail", "recipient": "list@lists.example", "status": "expanded"},
            {**pair, "kind": "mail", "recipient": "u@mail.example"}]
    columns = {key: [r[key] for r in rows] for key in rows[0]}
    assert list(plots.latency_by_domain(columns)) == ["mail.example"]
    protocols = {"u@mail.example": "imap", "owner@dsn.example": "pop3"}
    assert list(plots.latency_by_protocol(columns, protocols)) == ["imap"]
