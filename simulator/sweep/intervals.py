"""Student-t 95% confidence intervals of a metric over a point's replications.

This module owns the arithmetic of ``sweep.csv``'s intervals: the t quantile
(:func:`t_quantile_975`), a mean and its interval's half-width (:func:`mean_ci95`), and the
interval clipped to what the metric can take (:func:`ci_bounds`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from .metrics import METRIC_RANGES

_T_975: tuple[float, ...] = (
    12.7062, 4.3027, 3.1824, 2.7764, 2.5706, 2.4469, 2.3646, 2.3060, 2.2622, 2.2281,
    2.2010, 2.1788, 2.1604, 2.1448, 2.1314, 2.1199, 2.1098, 2.1009, 2.0930, 2.0860,
    2.0796, 2.0739, 2.0687, 2.0639, 2.0595, 2.0555, 2.0518, 2.0484, 2.0452, 2.0423,
)
"""Student's t 0.975 quantiles for 1..30 degrees of freedom (to 4 decimals)."""

_Z_975 = 1.959963984540054


def t_quantile_975(df: int) -> float:
    """Student's t 0.975 quantile (two-sided 95%) for ``df`` degrees of freedom.

    A table for 1..30; beyond, the Cornish-Fisher expansion of t around the normal
    quantile to the 1/df**3 term, within 2e-6 of the exact value for df > 30.
    """
    if df < 1:
        raise ValueError(f"degrees of freedom must be at least 1, got {df}")
    if df <= len(_T_975):
        return _T_975[df - 1]
    z = _Z_975
    return (
        z
        + (z**3 + z) / (4 * df)
        + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * df**2)
        + (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / (384 * df**3)
    )


def mean_ci95(values: Sequence[float]) -> tuple[float | None, float | None]:
    """Mean and half-width of its Student-t 95% confidence interval.

    (None, None) without values; the half-width is None with a single value. Values that are
    all equal (a quantity the seed does not change) give that value and a half-width of exactly
    0, not the rounding error of the sum and the squares.
    """
    n = len(values)
    if n == 0:
        return None, None
    if min(values) == max(values):
        return values[0], (None if n == 1 else 0.0)
    mean = math.fsum(values) / n
    if n == 1:
        return mean, None
    variance = math.fsum((v - mean) ** 2 for v in values) / (n - 1)
    return mean, t_quantile_975(n - 1) * math.sqrt(variance / n)


def ci_bounds(metric: str, mean: float | None, half: float | None) -> tuple[float | None, float | None]:
    """The interval ``mean ± half`` clipped to the values ``metric`` can take (:data:`METRIC_RANGES`),
    so that a latency's or a count's interval never reaches below 0; (None, None) without a half-width."""
    if mean is None or half is None:
        return None, None
    lowest, highest = METRIC_RANGES.get(metric, (-math.inf, None))
    low = max(lowest, mean - half)
    high = mean + half if highest is None else min(highest, mean + half)
    return low, high
