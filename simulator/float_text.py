"""Python's shortest float text (``repr``) of many doubles at once.

A result folder's times are written as ``repr`` writes them: the fewest digits that read back as
the same double. ``repr`` costs about half a microsecond a value (the digits, then a float object
and a string for each), and makes most of the time of writing a table of times. orjson writes the
same shortest digits for a whole numpy array in one C call (no float object), and the array's
text is split into the cells: about a quarter of the time of ``repr`` a value, the strings
included (4 million times of a week's run: 0.65 s against 2.74 s).

The two texts can differ only where ``repr`` writes an exponent, a magnitude below 1e-4 or from
1e16 (``repr`` writes ``1e-05`` where orjson writes ``0.00001``, and ``7e-06`` where it writes
``7e-6``), and for nan and the infinities (``null`` in JSON), so those values, which times and
durations rarely are, take ``repr``'s own text: what is returned is always ``repr``'s
(``tests/test_float_text.py`` holds it to that over random doubles and the edges of each range).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import orjson

__all__ = ["float_reprs"]

POSITIONAL_FROM = 1e-4
"""The smallest magnitude ``repr`` writes without an exponent (zero apart)."""
POSITIONAL_BELOW = 1e16
"""The magnitude from which ``repr`` writes an exponent (``1e+16``)."""


def float_reprs(values: Sequence[float] | Any) -> list[str]:
    """``repr`` of each of ``values`` (floats, or a numpy array read as float64)."""
    floats = np.ascontiguousarray(values, dtype=np.float64).reshape(-1)
    if not len(floats):
        return []
    texts = orjson.dumps(floats, option=orjson.OPT_SERIALIZE_NUMPY)[1:-1].decode("ascii").split(",")
    magnitude = np.abs(floats)
    with np.errstate(invalid="ignore"):
        positional = ((magnitude >= POSITIONAL_FROM) & (magnitude < POSITIONAL_BELOW)) | (magnitude == 0.0)
    for i in np.flatnonzero(~positional).tolist():  # an exponent, nan or an infinity: repr's own text
        texts[i] = repr(float(floats[i]))
    return texts
