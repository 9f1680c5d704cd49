"""The aggregates plots are drawn from: a bounded number of points however long the run, so a
figure costs the same to draw at ten thousand messages and at ten million.

- :func:`cdf_points`: an empirical CDF as a :class:`CdfPoints`, a fixed grid of its exact order
  statistics (at most ``max_points``, evenly spaced by rank, the first and the last value
  included, and the two values each marked percentile lies between) with the percentiles
  themselves, computed as the summary computes them. Between two points drawn the curve is off
  by less than ``1 / max_points`` of the axis height (well under a pixel at 2,000 points), and
  every percentile marker sits between the same two values as on the full curve.
  :func:`cdf_steps` picks the grid from values already sorted.
- :func:`step_envelope`: a step curve over time (a queue's length, a load per time bin) as a
  per-pixel-column envelope: of the changes within each column of the figure's width, the
  first, the lowest, the highest and the last are kept, at their own times and in time order,
  so every peak and trough is drawn and the curve looks the same at the figure's resolution.
  At most four points per column are drawn once the curve has more than
  ``MAX_STEP_POINTS`` changes.

Small inputs come back whole, so their plots are drawn point for point.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from .results import percentile

__all__ = ["MAX_CDF_POINTS", "MAX_STEP_POINTS", "CdfPoints", "cdf_points", "cdf_steps", "envelope_indices",
           "percentile_ranks", "step_envelope"]

MAX_CDF_POINTS = 2_000
"""At most this many points per CDF curve."""

MAX_STEP_POINTS = 10_000
"""A step curve with at most this many changes is drawn whole (cheap enough; it looks the same)."""

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


def percentile_ranks(n: int, percents: Iterable[float]) -> list[int]:
    """The ranks (0-based, in sorted order) of the two values each percentile interpolates between,
    as :func:`simulator.results.percentile` does over ``n`` values."""
    ranks: set[int] = set()
    for q in percents:
        pos = (n - 1) * q / 100.0
        lo = int(np.floor(pos))
        ranks.update((lo, min(lo + 1, n - 1)))
    return sorted(r for r in ranks if 0 <= r < n)


def cdf_steps(ordered: Sequence[float] | FloatArray, total: int, percents: Iterable[float] = (),
              max_points: int = MAX_CDF_POINTS) -> tuple[FloatArray, FloatArray]:
    """(x, y) corners of the CDF of the sorted values ``ordered`` over ``total`` pairs: the i-th
    value (0-based) at height ``(i + 1) / total``, every one of them when there are at most
    ``max_points``; else ``max_points`` of them at most, evenly spaced by rank, always with the
    first, the last and the two around each of ``percents`` (see :func:`percentile_ranks`)."""
    values = np.asarray(ordered, dtype=np.float64)
    n = len(values)
    if n <= max_points:
        ranks = np.arange(n)
    else:
        around = percentile_ranks(n, percents)
        even = np.linspace(0, n - 1, max(max_points - len(around), 2)).round().astype(np.int64)
        ranks = np.union1d(even, np.asarray(around, dtype=np.int64))
    return values[ranks], (ranks + 1) / total


@dataclass(frozen=True, slots=True)
class CdfPoints:
    """What a CDF curve is drawn from, its size bounded whatever the number of values: the
    corners ``(xs_s[i], ys[i])`` (exact order statistics, see :func:`cdf_steps`), how many values
    there were (``count``) of how many pairs (``total``: the curve levels off at
    ``count / total``), and the percentiles of the values (``{50: ..., 90: ...}``), exactly as
    :func:`simulator.results.percentile` gives them over all the values."""

    xs_s: FloatArray
    ys: FloatArray
    count: int
    total: int
    percentiles_s: dict[float, float]


def cdf_points(values: Sequence[float] | FloatArray, total: int | None = None, percents: Iterable[float] = (),
               max_points: int = MAX_CDF_POINTS) -> CdfPoints:
    """The :class:`CdfPoints` of ``values`` (in any order, no NaN) over ``total`` pairs (default:
    as many as there are values), with the percentiles ``percents`` (of the values)."""
    ordered = np.sort(np.asarray(values, dtype=np.float64))
    wanted = tuple(percents)
    count = len(ordered)
    xs, ys = cdf_steps(ordered, count if total is None else total, wanted, max_points)
    found = {q: percentile(ordered, q) for q in wanted} if count else {}
    return CdfPoints(xs, ys, count, count if total is None else total, found)


def step_envelope(times_s: Sequence[float] | FloatArray, values: Sequence[float] | FloatArray, end_s: float,
                  slices: int, max_points: int = MAX_STEP_POINTS) -> tuple[FloatArray, FloatArray]:
    """(x, y) to draw with ``where="post"`` for the step curve that takes ``values[i]`` from
    ``times_s[i]`` (non-decreasing) on and holds the last value to ``end_s`` (the last point).

    With at most ``max_points`` (or ``4 * slices``) changes the curve comes back whole. Otherwise
    ``[0, end_s]`` is cut into ``slices`` equal columns (one per pixel, or narrower), and of the
    changes in each column the first, the lowest, the highest and the last are kept (each once,
    the earliest of equal lowest or highest values), at their own times and in time order: a
    subsequence of the curve's own points, so every value drawn is one the curve took, every
    column's extremes are drawn, and between columns the curve holds exactly its own value.
    """
    times = np.asarray(times_s, dtype=np.float64)
    ys = np.asarray(values, dtype=np.float64)
    if not len(ys):
        raise ValueError("a step curve needs at least one value")
    if len(times) <= max(max_points, 4 * slices) or end_s <= 0:
        return np.append(times, end_s), np.append(ys, ys[-1])
    kept = envelope_indices(np.minimum((times / end_s * slices).astype(np.int64), slices - 1), ys)
    return np.append(times[kept], end_s), np.append(ys[kept], ys[-1])


def envelope_indices(column: IntArray, values: FloatArray) -> IntArray:
    """The positions, ascending, of the first, the lowest, the highest and the last value of each
    run of equal ``column`` numbers (non-decreasing); the earliest of equal lowest or highest."""
    n = len(values)
    starts = np.flatnonzero(np.diff(column, prepend=-1))
    ends = np.append(starts[1:], n) - 1
    run_of = np.repeat(np.arange(len(starts)), np.diff(np.append(starts, n)))
    lowest = _first_where(values == np.minimum.reduceat(values, starts)[run_of], run_of, len(starts))
    highest = _first_where(values == np.maximum.reduceat(values, starts)[run_of], run_of, len(starts))
    return np.unique(np.concatenate([starts, lowest, highest, ends]))


def _first_where(hit: npt.NDArray[np.bool_], run_of: IntArray, runs: int) -> IntArray:
    """For each run (every run has a hit), the first position at which ``hit`` holds."""
    positions = np.flatnonzero(hit)
    first = positions[np.flatnonzero(np.diff(run_of[positions], prepend=-1))]
    assert len(first) == runs
    return first
