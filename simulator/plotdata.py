"""The points a plot draws, bounded in number however long the run: a figure costs the same to
draw at ten thousand messages and at ten million.

- :func:`cdf_steps`: an empirical CDF (a step at each value) as at most ``max_points`` of its
  own corners, exact order statistics picked evenly by rank, plus the two values each marked
  percentile lies between. Between two corners drawn the curve is off by less than
  ``1 / max_points`` of the axis height (well under a pixel at 2,000 points), and every
  percentile marker sits between the same two values as on the full curve.
- :func:`step_envelope`: a step curve over time (a queue's length) as a per-pixel envelope:
  within each pixel-wide slice of time, the lowest and the highest value the curve takes there
  and the value it leaves the slice with. Every maximum and minimum of the curve is drawn,
  at most three points per slice, once the curve has more than ``MAX_STEP_POINTS`` changes.

Small inputs come back whole, so their plots are drawn exactly as before.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import numpy.typing as npt

__all__ = ["MAX_CDF_POINTS", "MAX_STEP_POINTS", "cdf_steps", "percentile_ranks", "step_envelope"]

MAX_CDF_POINTS = 2_000
"""At most this many points per CDF curve."""

MAX_STEP_POINTS = 10_000
"""A step curve with at most this many changes is drawn whole (cheap enough; it looks the same)."""

FloatArray = npt.NDArray[np.float64]


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


def step_envelope(times_s: Sequence[float] | FloatArray, values: Sequence[float] | FloatArray, end_s: float,
                  slices: int, max_points: int = MAX_STEP_POINTS) -> tuple[FloatArray, FloatArray]:
    """(x, y) to draw with ``where="post"`` for the step curve that takes ``values[i]`` from
    ``times_s[i]`` (non-decreasing) on and holds the last value to ``end_s`` (the last point).

    With at most ``max_points`` (or ``2 * slices``) changes the curve comes back whole. Otherwise
    ``[0, end_s]`` is cut into ``slices`` equal slices (one per pixel, or narrower): a slice with one change keeps
    it as it is; a slice with several is drawn at the time of its first change as a vertical
    bar from the lowest to the highest value taken in it, then the value it ends with.
    """
    times = np.asarray(times_s, dtype=np.float64)
    ys = np.asarray(values, dtype=np.float64)
    if not len(ys):
        raise ValueError("a step curve needs at least one value")
    if len(times) <= max(max_points, 2 * slices) or end_s <= 0:
        return np.append(times, end_s), np.append(ys, ys[-1])
    slice_of = np.minimum((times / end_s * slices).astype(np.int64), slices - 1)
    starts = np.flatnonzero(np.diff(slice_of, prepend=-1))  # first change of each slice that has one
    lows = np.minimum.reduceat(ys, starts)
    highs = np.maximum.reduceat(ys, starts)
    lasts = ys[np.append(starts[1:], len(times)) - 1]
    xs = np.repeat(times[starts], 3)
    ys_all = np.column_stack([lows, highs, lasts]).ravel()
    keep = np.ones(len(xs), dtype=bool)  # a slice with one change gives three equal points: keep one
    keep[1:] = (xs[1:] != xs[:-1]) | (ys_all[1:] != ys_all[:-1])
    return np.append(xs[keep], end_s), np.append(ys_all[keep], lasts[-1])
