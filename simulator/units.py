"""Quantities with units, as written in scenario files, to plain SI numbers.

This module owns the unit grammar of SCENARIO.md ("Units in YAML"):

- durations (``250ms``, ``30s``, ``30m``, ``2h``, ``5d``, ``1d2h``) to seconds,
- sizes (``512B``, ``75KB``, ``10KiB``, ``25MB``, ``2MiB``, ``1GB``) to bytes,
- bandwidths (``56kbps``, ``100Mbps``, ``1Gbps``) to bits per second,
- rates (``40/d``, ``5/h``, ``0.5/m``, ``2/s``) to events per second,

and the reverse direction for people (:func:`format_duration`).

A plain number (or a string holding one) is already in the SI base unit.
Negative, non-finite and boolean values are refused; every refusal is a
:class:`ValueError` whose message names the accepted forms.  Unit arithmetic is
exact (done on :class:`fractions.Fraction`), so ``"1d2h"`` is exactly 93600.0 and
``"0.1s"`` is the float nearest to 0.1.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from fractions import Fraction

from .brief import brief

__all__ = [
    "BANDWIDTH_PATTERN",
    "BANDWIDTH_UNITS_BPS",
    "DURATION_PATTERN",
    "DURATION_UNITS_S",
    "RATE_PATTERN",
    "RATE_UNITS_S",
    "SIZE_PATTERN",
    "SIZE_UNITS_BYTES",
    "format_duration",
    "parse_bandwidth",
    "parse_duration",
    "parse_rate",
    "parse_size",
]

# A decimal number without sign: 12, 12.5, .5, 12., 1e3, 2.5E-3 (ASCII digits only).
_NUMBER = r"(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?"

DURATION_UNITS_S: dict[str, Fraction] = {
    "d": Fraction(86400),
    "h": Fraction(3600),
    "m": Fraction(60),
    "s": Fraction(1),
    "ms": Fraction(1, 1000),
}
"""Seconds per duration unit, largest first (the order compound durations use)."""

SIZE_UNITS_BYTES: dict[str, int] = {
    "B": 1,
    "KB": 1000,
    "kB": 1000,
    "KiB": 1024,
    "MB": 1000**2,
    "MiB": 1024**2,
    "GB": 1000**3,
    "GiB": 1024**3,
    "TB": 1000**4,
    "TiB": 1024**4,
}
"""Bytes per size unit: decimal (KB = 1000) and binary (KiB = 1024) prefixes."""

BANDWIDTH_UNITS_BPS: dict[str, int] = {
    "bps": 1,
    "kbps": 1000,
    "Kbps": 1000,
    "Mbps": 1000**2,
    "Gbps": 1000**3,
    "Tbps": 1000**4,
}
"""Bits per second per bandwidth unit (network prefixes are decimal)."""

RATE_UNITS_S: dict[str, Fraction] = {
    "s": Fraction(1),
    "m": Fraction(60),
    "h": Fraction(3600),
    "d": Fraction(86400),
}
"""Seconds per rate denominator: ``5/h`` is 5 events per 3600 s."""

_DURATION_PART = re.compile(rf"({_NUMBER})(ms|d|h|m|s)")
_DURATION_FULL = re.compile(rf"(?:{_NUMBER}(?:ms|d|h|m|s))+")
_SIZE = re.compile(rf"({_NUMBER})\s*([A-Za-z]+)?")
_BANDWIDTH = re.compile(rf"({_NUMBER})\s*([A-Za-z]+)?")
_RATE = re.compile(rf"({_NUMBER})\s*/\s*([a-z]+)")



def _either(units: Iterable[str]) -> str:
    """A regex alternation of unit names, longest first (so ``ms`` is tried before ``m``)."""
    return "|".join(sorted((re.escape(unit) for unit in units), key=len, reverse=True))


_PLAIN = rf"\s*\+?{_NUMBER}\s*"  # what _plain_number accepts in a string

DURATION_PATTERN = (
    rf"^(?:{_PLAIN}|(?=.*[0-9]) *"
    + "".join(rf"(?:{_NUMBER} *{re.escape(unit)} *)?" for unit in DURATION_UNITS_S)
    + ")$"
)
"""The strings :func:`parse_duration` accepts, as a regular expression (ECMAScript-compatible,
for the JSON Schema): a number, or each unit of ``DURATION_UNITS_S`` at most once, in order."""

SIZE_PATTERN = rf"^(?:{_PLAIN}|\s*{_NUMBER}\s*(?:{_either(SIZE_UNITS_BYTES)})\s*)$"
"""The strings :func:`parse_size` accepts (units from ``SIZE_UNITS_BYTES``)."""

BANDWIDTH_PATTERN = rf"^(?:{_PLAIN}|\s*{_NUMBER}\s*(?:{_either(BANDWIDTH_UNITS_BPS)})\s*)$"
"""The strings :func:`parse_bandwidth` accepts (units from ``BANDWIDTH_UNITS_BPS``)."""

RATE_PATTERN = rf"^(?:{_PLAIN}|\s*{_NUMBER}\s*/\s*(?:{_either(RATE_UNITS_S)})\s*)$"
"""The strings :func:`parse_rate` accepts (denominators from ``RATE_UNITS_S``)."""

_DURATION_FORMS = "use forms like 250ms, 30s, 30m, 2h, 5d, 1d2h or a number of seconds"
_SIZE_FORMS = "use forms like 512B, 75KB, 10KiB, 25MB, 2MiB, 1GB, 1GiB or a number of bytes"
_BANDWIDTH_FORMS = "use forms like 56kbps, 100Mbps, 1Gbps or a number of bits per second"
_RATE_FORMS = "use forms like 40/d, 5/h, 0.5/m, 2/s or a number of events per second"


def _plain_number(value: object, kind: str, forms: str) -> Fraction | None:
    """Return ``value`` as an exact non-negative number if it is a plain number.

    Returns None when ``value`` is a string that is not a plain number (the
    caller then tries its unit grammar).  Raises ValueError for booleans,
    negative or non-finite numbers and values of other types.
    """
    if isinstance(value, bool):
        raise ValueError(f"{brief(value)} is not a {kind}: {forms}")
    if isinstance(value, int | float):
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"{brief(value)} is not a {kind}: it must be finite")
        if value < 0:
            raise ValueError(f"{brief(value)} is not a {kind}: it must not be negative")
        return Fraction(value)
    if not isinstance(value, str):
        raise ValueError(f"{brief(value)} is not a {kind}: {forms}")
    text = value.strip()
    if text.startswith("-"):
        raise ValueError(f"{brief(value)} is not a {kind}: it must not be negative")
    if text.startswith("+"):
        text = text[1:]
    if _is_number(text):
        return Fraction(text)
    return None


def _is_number(text: str) -> bool:
    return re.fullmatch(_NUMBER, text) is not None


def _unparseable(value: object, kind: str, forms: str) -> ValueError:
    text = str(value)
    return ValueError(f'"{text if len(text) <= 60 else text[:57] + "..."}" is not a {kind}: {forms}')


def _float(exact: Fraction, value: object, kind: str) -> float:
    result = float(exact)  # correctly rounded
    if not math.isfinite(result):
        raise ValueError(f"{brief(value)} is not a {kind}: it is too large")
    return result


_SPLIT_NUMBER = re.compile(r"[0-9.] +[0-9.]")  # spaces inside a number


def parse_duration(value: object) -> float:
    """Parse a duration to seconds.

    Accepts ``250ms``, ``30s``, ``30m`` (minutes), ``2h``, ``5d``, compounds with
    units in decreasing order such as ``1d2h`` or ``1h30m``, and plain numbers
    (int, float or numeric string) meaning seconds.
    """
    kind = "duration"
    plain = _plain_number(value, kind, _DURATION_FORMS)
    if plain is not None:
        return _float(plain, value, kind)
    assert isinstance(value, str)
    if _SPLIT_NUMBER.search(value):  # "5 1d" is no duration, not 51 days
        raise _unparseable(value, kind, _DURATION_FORMS)
    text = value.replace(" ", "")
    if not _DURATION_FULL.fullmatch(text):
        raise _unparseable(value, kind, _DURATION_FORMS)
    order = list(DURATION_UNITS_S)
    total = Fraction(0)
    last_rank = -1
    for match in _DURATION_PART.finditer(text):
        number, unit = match.groups()
        rank = order.index(unit)
        if rank <= last_rank:
            raise ValueError(
                f'"{value}" is not a duration: write each unit once, largest first (d, h, m, s, ms)'
            )
        last_rank = rank
        total += Fraction(number) * DURATION_UNITS_S[unit]
    return _float(total, value, kind)


def parse_size(value: object) -> int:
    """Parse a size to bytes (rounded to the nearest whole byte).

    Accepts ``512B``, ``75KB``/``75kB`` (x1000), ``10KiB`` (x1024), ``MB``, ``MiB``,
    ``GB``, ``GiB``, ``TB``, ``TiB`` and plain numbers meaning bytes.
    """
    kind = "size"
    plain = _plain_number(value, kind, _SIZE_FORMS)
    if plain is None:
        assert isinstance(value, str)
        match = _SIZE.fullmatch(value.strip())
        if match is None or match.group(2) not in SIZE_UNITS_BYTES:
            raise _unparseable(value, kind, _SIZE_FORMS)
        plain = Fraction(match.group(1)) * SIZE_UNITS_BYTES[match.group(2)]
    _float(plain, value, kind)  # refuse absurdly large sizes like the other parsers
    return math.floor(plain + Fraction(1, 2))


def parse_bandwidth(value: object) -> float:
    """Parse a bandwidth to bits per second.

    Accepts ``bps``, ``kbps``, ``Mbps``, ``Gbps``, ``Tbps`` (decimal prefixes)
    and plain numbers meaning bits per second.
    """
    kind = "bandwidth"
    plain = _plain_number(value, kind, _BANDWIDTH_FORMS)
    if plain is None:
        assert isinstance(value, str)
        match = _BANDWIDTH.fullmatch(value.strip())
        if match is None or match.group(2) not in BANDWIDTH_UNITS_BPS:
            raise _unparseable(value, kind, _BANDWIDTH_FORMS)
        plain = Fraction(match.group(1)) * BANDWIDTH_UNITS_BPS[match.group(2)]
    return _float(plain, value, kind)


def parse_rate(value: object) -> float:
    """Parse a rate to events per second.

    Accepts ``N/s``, ``N/m`` (per minute), ``N/h``, ``N/d`` and plain numbers
    meaning events per second.
    """
    kind = "rate"
    plain = _plain_number(value, kind, _RATE_FORMS)
    if plain is None:
        assert isinstance(value, str)
        match = _RATE.fullmatch(value.strip())
        if match is None or match.group(2) not in RATE_UNITS_S:
            raise _unparseable(value, kind, _RATE_FORMS)
        plain = Fraction(match.group(1)) / RATE_UNITS_S[match.group(2)]
    return _float(plain, value, kind)


def format_duration(seconds: float) -> str:
    """Write a duration for people, in the form :func:`parse_duration` reads.

    Whole milliseconds are written as a compound (``5400`` -> ``"1h30m"``,
    ``0.25`` -> ``"250ms"``, ``0`` -> ``"0s"``); anything finer is written as
    exact seconds (``"0.0001s"``).  ``parse_duration(format_duration(x)) == x``
    for every finite ``x >= 0``.
    """
    if isinstance(seconds, bool) or not isinstance(seconds, int | float):
        raise ValueError(f"{seconds!r} is not a number of seconds")
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"{seconds!r} is not a duration: it must be finite and not negative")
    exact_ms = Fraction(seconds) * 1000
    if exact_ms.denominator != 1:
        return f"{float(seconds)!r}s"
    remaining_ms = int(exact_ms)
    if remaining_ms == 0:
        return "0s"
    parts: list[str] = []
    for unit, unit_s in DURATION_UNITS_S.items():
        unit_ms = int(unit_s * 1000)
        count, remaining_ms = divmod(remaining_ms, unit_ms)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)
