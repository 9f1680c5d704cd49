"""Time bins for the load tables (links.csv, servers.csv): the bin width, and the binned series
the network and the servers keep while a run goes, in O(bins) memory each.

Bin ``k`` covers ``[k * width_s, (k + 1) * width_s)``; the last bin of a run ends at the run's end.

The default width is the smallest of :data:`LADDER_S` (1 s, 2 s, 10 s, 30 s, 1 min, 5 min, 10 min,
30 min, 1 h, 2 h, 6 h, 12 h, 1 d, then doubling) for which the whole run fits in :data:`MAX_BINS`
bins. The run's end is not known in advance, so the width starts at 1 s and moves up the ladder
as soon as a time falls beyond ``MAX_BINS`` bins; each width is a whole multiple of the one before,
so the bins already filled merge exactly (sums add, maxima take the larger). A width given by the
user (``mailsim run --bin``, ``run(..., bin_s=)``) never changes.
"""

from __future__ import annotations

import math

MAX_BINS = 300
"""At most this many bins in a run with the default width."""

LADDER_S: tuple[float, ...] = (1.0, 2.0, 10.0, 30.0, 60.0, 300.0, 600.0, 1800.0, 3600.0, 7200.0, 21600.0,
                               43200.0, 86400.0)
"""The default widths, smallest first; beyond the last, the width doubles."""


MAX_GIVEN_ROWS = 1_000_000
"""A width given by the user may make at most this many rows of links.csv and servers.csv together
over the traffic period (see :func:`check_given_width`)."""


def check_width(width_s: float) -> None:
    """ValueError unless ``width_s`` is a positive, finite number of seconds."""
    if not (width_s > 0 and math.isfinite(width_s)):
        raise ValueError(f"a bin width must be a positive number of seconds, not {width_s!r}")


def check_given_width(width_s: float, duration_s: float, series: int) -> None:
    """ValueError when a given width ``width_s`` is not a positive number of seconds, or would cut
    the traffic period (``duration_s``) into so many bins that the ``series`` rows per bin (a row
    per link direction and per server) pass :data:`MAX_GIVEN_ROWS`: each row is kept in memory
    until the tables are written, so a width of a nanosecond would exhaust it before anything is
    written. The message gives the smallest width allowed."""
    check_width(width_s)
    bins, series = bin_count(duration_s, width_s), max(1, series)
    if bins * series > MAX_GIVEN_ROWS:
        raise ValueError(f"a bin width of {width_s:g} s cuts the {duration_s:g} s traffic period into {bins:,} "
                         f"bins, {bins * series:,} rows of links.csv and servers.csv ({series} a bin); at most "
                         f"{MAX_GIVEN_ROWS:,}: use a width of at least {duration_s * series / MAX_GIVEN_ROWS:.3g} s")


def default_width_s(end_s: float) -> float:
    """The default width for a run that ends at ``end_s`` (the rule :class:`Bins` follows as it grows)."""
    width = LADDER_S[0]
    while end_s >= MAX_BINS * width:
        width = _next_width(width)
    return width


def bin_count(end_s: float, width_s: float) -> int:
    """How many bins cover ``[0, end_s]``: at least one."""
    return max(1, math.ceil(end_s / width_s))


def _next_width(width_s: float) -> float:
    for step in LADDER_S:
        if step > width_s:
            return step
    return 2.0 * width_s


class Bins:
    """The bin width of one run and the series binned with it.

    It remembers the bin of the last time looked up (``lo_s`` to ``hi_s``, bin ``current``): most
    times asked for fall in it (a transfer's start and end, a session's open and close), and two
    comparisons cost much less than a float floor division and an ``int`` call. It is kept only
    for a whole-number width, for which every time in ``[k * width, (k + 1) * width)`` floor-divides
    to exactly ``k`` (``k * width`` is exact), so a remembered bin is the one ``//`` gives.
    """

    __slots__ = ("_exact", "_limit_s", "current", "fixed", "hi_s", "lo_s", "series", "width_s")

    def __init__(self, width_s: float | None = None) -> None:
        if width_s is not None:
            check_width(width_s)
        self.fixed = width_s is not None
        self.width_s = LADDER_S[0] if width_s is None else float(width_s)
        self._limit_s = math.inf if self.fixed else MAX_BINS * self.width_s  # a time here needs wider bins
        self.series: list[SumSeries | LevelSeries] = []
        self._exact = self.width_s.is_integer()  # whether the last bin looked up is remembered
        self.lo_s = self.hi_s = 0.0  # the bin remembered: none yet
        self.current = 0

    def sums(self) -> SumSeries:
        """A new series of amounts added per bin (bits carried)."""
        series = SumSeries(self)
        self.series.append(series)
        return series

    def levels(self) -> LevelSeries:
        """A new series of a level's maximum per bin (open sessions)."""
        series = LevelSeries(self)
        self.series.append(series)
        return series

    def reach(self, time_s: float) -> None:
        """Widen the bins (unless fixed) so that ``time_s``, the run's end, is within the last of them."""
        if time_s >= self._limit_s:
            self._grow(time_s)

    def index(self, time_s: float) -> int:
        """The bin holding ``time_s`` (the width grows first if the time is beyond the last bin)."""
        if self.lo_s <= time_s < self.hi_s:
            return self.current
        if time_s >= self._limit_s:
            self._grow(time_s)
        width = self.width_s
        k = int(time_s // width)
        if self._exact and time_s >= 0.0:
            self.lo_s, self.hi_s, self.current = k * width, (k + 1) * width, k
        return k

    def _grow(self, time_s: float) -> None:
        width = self.width_s
        while time_s >= MAX_BINS * width:
            width = _next_width(width)
        factor = round(width / self.width_s)
        for series in self.series:
            series.merge(factor)
        self.width_s = width
        self._limit_s = MAX_BINS * width
        self._exact = width.is_integer()
        self.lo_s = self.hi_s = 0.0  # the bins changed: nothing remembered


class SumSeries:
    """Amounts per bin; an amount spread over an interval is split in proportion to its overlap
    with each bin (the parts add up to the amount exactly)."""

    __slots__ = ("bins", "values")

    def __init__(self, bins: Bins) -> None:
        self.bins = bins
        self.values: list[float] = []

    def spread(self, start_s: float, end_s: float, amount: float) -> None:
        """Add ``amount`` moved evenly over ``[start_s, end_s]`` (at ``start_s`` if the interval is empty)."""
        bins = self.bins
        if bins.lo_s <= start_s and end_s < bins.hi_s:  # within the bin last looked up (most transfers)
            k = bins.current
            values = self.values
            if k >= len(values):
                values.extend([0.0] * (k + 1 - len(values)))
            values[k] += amount
            return
        if end_s >= bins._limit_s:  # widen first (the series merge): both ends are binned at the new width
            bins._grow(end_s)
        first = bins.index(start_s)
        last = bins.index(end_s)
        width = bins.width_s
        values = self.values
        if last >= len(values):
            values.extend([0.0] * (last + 1 - len(values)))
        if first != last and last * width == end_s:
            last -= 1  # ends on a bin's edge: nothing in the next bin
        if first == last:
            values[first] += amount
            return
        rate = amount / (end_s - start_s)
        done = 0.0
        for k in range(first, last):
            part = rate * (min((k + 1) * width, end_s) - max(k * width, start_s))
            values[k] += part
            done += part
        values[last] += amount - done

    def merge(self, factor: int) -> None:
        v = self.values
        self.values = [math.fsum(v[i:i + factor]) for i in range(0, len(v), factor)]

    def finish(self, count: int) -> list[float]:
        """The amounts of bins ``0 .. count - 1`` (anything after folded into the last)."""
        v = self.values
        out = v[:count] + [0.0] * (count - len(v))
        if len(v) > count:
            out[-1] += math.fsum(v[count:])
        return out


class LevelSeries:
    """A level that steps up and down (open sessions) and its maximum in each bin."""

    __slots__ = ("bins", "level", "maxima")

    def __init__(self, bins: Bins) -> None:
        self.bins = bins
        self.level = 0
        self.maxima: list[int] = []

    def close(self, time_s: float) -> None:
        """The level goes down by one at ``time_s``: no new maximum, only the bins it leaves behind."""
        bins = self.bins
        k = bins.current if bins.lo_s <= time_s < bins.hi_s else bins.index(time_s)  # (index's first test, inlined)
        maxima = self.maxima
        if k >= len(maxima):
            maxima.extend([self.level] * (k + 1 - len(maxima)))
        self.level -= 1

    def change(self, time_s: float, delta: int) -> None:
        """The level moves by ``delta`` at ``time_s`` (times never go back)."""
        bins = self.bins
        k = bins.current if bins.lo_s <= time_s < bins.hi_s else bins.index(time_s)  # (as in close)
        maxima = self.maxima
        level = self.level
        if k >= len(maxima):
            maxima.extend([level] * (k + 1 - len(maxima)))  # bins without a change hold the level
        level = self.level = level + delta
        if level > maxima[k]:
            maxima[k] = level

    def merge(self, factor: int) -> None:
        m = self.maxima
        self.maxima = [max(m[i:i + factor]) for i in range(0, len(m), factor)]

    def finish(self, count: int) -> list[int]:
        """The maxima of bins ``0 .. count - 1`` (anything after folded into the last)."""
        m = self.maxima
        out = m[:count] + [self.level] * (count - len(m))
        if len(m) > count:
            out[-1] = max(out[-1], *m[count:])
        return out
