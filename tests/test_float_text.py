"""The bulk float text (simulator/float_text.py) is ``repr``'s, double for double.

It takes orjson's text where ``repr`` writes no exponent and ``repr``'s own elsewhere, so the
cases that matter are the doubles of every size (hypothesis draws any double, nan and the
infinities included), the edges where ``repr`` starts or stops writing an exponent, and the
times and durations the result files are made of.
"""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.float_text import POSITIONAL_BELOW, POSITIONAL_FROM, float_reprs


@settings(max_examples=300, deadline=None)
@given(st.lists(st.floats(allow_nan=True, allow_infinity=True, allow_subnormal=True), max_size=60))
def test_every_double_has_reprs_text(values: list[float]) -> None:
    assert float_reprs(values) == list(map(repr, values))
    assert float_reprs(np.array(values, dtype=np.float64)) == list(map(repr, values))


def edges() -> list[float]:
    """The doubles beside each magnitude where ``repr`` changes form, both signs, and the special ones."""
    found: list[float] = [0.0, -0.0, math.nan, math.inf, -math.inf, 5e-324, 1.7976931348623157e308]
    for edge in (POSITIONAL_FROM, POSITIONAL_BELOW, 1e15, 1.0, 0.1):
        below = above = edge
        for _ in range(3):
            below, above = math.nextafter(below, 0.0), math.nextafter(above, math.inf)
            found += [below, edge, above]
    return found + [-value for value in found]


def test_the_edges_of_reprs_forms_have_reprs_text() -> None:
    values = edges()
    assert float_reprs(np.array(values)) == list(map(repr, values))
    texts = dict(zip(values, float_reprs(values), strict=True))
    assert texts[1e16] == "1e+16" and texts[1e-4] == "0.0001"  # the forms themselves, not only agreement
    assert texts[math.nextafter(1e-4, 0.0)] == "9.999999999999999e-05"


def test_times_of_a_long_run_have_reprs_text() -> None:
    rng = np.random.default_rng(12)
    times = np.concatenate([rng.uniform(0.0, 30 * 86_400.0, 50_000), rng.exponential(0.01, 50_000),
                            np.round(rng.uniform(0.0, 86_400.0, 10_000), 3)])
    assert float_reprs(times) == list(map(repr, times.tolist()))


def test_no_values_no_texts() -> None:
    assert float_reprs([]) == []
    assert float_reprs(np.zeros(0)) == []
