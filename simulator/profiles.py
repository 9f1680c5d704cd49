"""Rates that change over time: piecewise-constant rate profiles and the exact sampling of
their arrivals by inversion of the cumulative rate.

A :class:`RateProfile` is a rate per second that is constant between breakpoints: the
24 hours of a daily profile (repeating every day, time 0 being midnight) or the (from-time,
rate) steps of a traffic entry (the last step lasting for ever). Its cumulative rate
``Λ(t) = ∫₀ᵗ rate`` is piecewise linear, so a non-homogeneous Poisson process is sampled
exactly by inversion: from time ``t``, the next arrival is the ``t'`` with
``Λ(t') - Λ(t) = E`` for a unit-mean exponential draw ``E``. Each arrival costs one draw
(thinning would cost one per candidate, and more the higher the peak is above the mean), zero-rate
periods are skipped without draws, and the same draws give the same arrivals whatever the
profile's scale, so sweeping a profile compares like with like.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

__all__ = ["DAY_S", "HOUR_S", "Arrivals", "RateProfile"]

HOUR_S = 3600.0
DAY_S = 86400.0
_MAX_PERIODS = 1e12  # periods beyond any run's reach (durations stop at 3650 days)


@dataclass(frozen=True)
class RateProfile:
    """A piecewise-constant rate: ``rates_per_s[i]`` from ``starts_s[i]`` until the next start.

    ``starts_s`` begins at 0 and increases. With ``period_s`` the profile repeats every period
    (every start lies inside it); without, the last rate lasts for ever.
    """

    starts_s: tuple[float, ...]
    rates_per_s: tuple[float, ...]
    period_s: float | None = None
    ends_s: tuple[float, ...] = field(init=False, repr=False, compare=False)
    period_amount: float = field(init=False, repr=False, compare=False)  # expected arrivals in a period

    def __post_init__(self) -> None:
        if not self.starts_s or len(self.starts_s) != len(self.rates_per_s):
            raise ValueError("a rate profile needs one rate per start, and at least one")
        if self.starts_s[0] != 0 or any(b <= a for a, b in zip(self.starts_s, self.starts_s[1:], strict=False)):
            raise ValueError("a rate profile's starts begin at 0 and increase")
        if any(not math.isfinite(rate) or rate < 0 for rate in self.rates_per_s):
            raise ValueError("a rate profile's rates are finite and not negative")
        if self.period_s is not None and self.starts_s[-1] >= self.period_s:
            raise ValueError("a periodic profile's starts lie inside its period")
        ends = (*self.starts_s[1:], self.period_s if self.period_s is not None else math.inf)
        object.__setattr__(self, "ends_s", ends)
        object.__setattr__(self, "period_amount", math.fsum(
            rate * (end - start) for start, end, rate in zip(self.starts_s, ends, self.rates_per_s, strict=True)
            if rate > 0))

    @classmethod
    def daily(cls, hourly_rates_per_s: Sequence[float]) -> RateProfile:
        """The profile with rate ``hourly_rates_per_s[h]`` in hour ``h`` of every day."""
        return cls(tuple(h * HOUR_S for h in range(len(hourly_rates_per_s))), tuple(hourly_rates_per_s), DAY_S)

    def scaled(self, factor: float) -> RateProfile:
        """Every rate times ``factor`` (the rate of ``factor`` senders together)."""
        return RateProfile(self.starts_s, tuple(rate * factor for rate in self.rates_per_s), self.period_s)

    @property
    def max_rate_per_s(self) -> float:
        return max(self.rates_per_s)

    def expected(self, end_s: float) -> float:
        """``Λ(end_s)``: the expected arrivals in ``[0, end_s)``."""
        periods = 0
        local_s = end_s
        if self.period_s is not None:
            periods = math.floor(end_s / self.period_s)
            local_s = end_s - periods * self.period_s
        parts = [periods * self.period_amount] if periods else []
        for start, end, rate in zip(self.starts_s, self.ends_s, self.rates_per_s, strict=True):
            if start >= local_s:
                break
            if rate > 0:
                parts.append(rate * (min(end, local_s) - start))
        return math.fsum(parts)

    def locate(self, now_s: float) -> tuple[float, float, int]:
        """Where ``now_s`` falls: ``(base_s, local_s, i)``, the start of its period (0 without a
        period), its time since then, and the segment ``i`` that time lies in."""
        base_s = 0.0
        local_s = now_s
        period_s = self.period_s
        if period_s is not None:
            base_s = math.floor(now_s / period_s) * period_s
            local_s = now_s - base_s
        return base_s, local_s, bisect_right(self.starts_s, local_s) - 1

    def time_after(self, now_s: float, amount: float) -> float:
        """The time ``t >= now_s`` with ``Λ(t) - Λ(now_s) = amount`` (``math.inf`` if the rate
        never accumulates that much): the next arrival after ``now_s`` for a unit exponential ``amount``."""
        if self.period_s is not None and self.period_amount <= 0:
            return math.inf
        base_s, local_s, i = self.locate(now_s)
        return self.walk(base_s, local_s, i, amount)

    def walk(self, base_s: float, local_s: float, i: int, amount: float) -> float:
        """:meth:`time_after` from where :meth:`locate` found the present: segment by segment
        (whole periods at once) until ``amount`` has accumulated."""
        rates, ends = self.rates_per_s, self.ends_s  # (most walks end in their first segment: the rest is read later)
        while True:
            rate, end = rates[i], ends[i]
            if rate > 0:
                need_s = amount / rate
                if local_s + need_s < end or math.isinf(end):  # (the last step lasts for ever)
                    return base_s + local_s + need_s
                amount = max(0.0, amount - (end - local_s) * rate)
            elif math.isinf(end):
                return math.inf
            i += 1
            local_s = end
            if i == len(rates):  # only periodic profiles get here: on to the next period
                period_s, per_period = self.period_s, self.period_amount
                assert period_s is not None
                i, local_s = 0, 0.0
                base_s += period_s
                periods = amount / per_period
                if periods > _MAX_PERIODS:  # (a rate so small that no run lasts that long)
                    return math.inf
                whole = math.ceil(periods) - 1
                if whole > 0:  # skip whole periods at once, leaving an amount in (0, per_period]
                    base_s += whole * period_s
                    amount -= whole * per_period


class Arrivals:
    """The arrivals of a profile's Poisson process one after another, as gaps from the present.

    :meth:`gap` is ``profile.time_after(now_s, amount) - now_s`` for the time ``clock()`` reads
    (which never goes back) and the next unit exponential ``amount`` from ``unit``, bit for bit.
    Arrivals come in time order, so most of them fall in the segment of the one before (there
    are many arrivals an hour): what :meth:`RateProfile.locate` found is kept for as long as it
    would find it again, and such an arrival goes straight to :meth:`RateProfile.walk`, without
    the search for its segment.
    """

    __slots__ = ("_base_s", "_clock", "_i", "_profile", "_to_s", "_unit")

    _NARROWING_STEPS = 4  # floats below a segment's end tried before giving up keeping it

    def __init__(self, profile: RateProfile, unit: Callable[[], float], clock: Callable[[], float]) -> None:
        self._profile = profile
        self._unit = unit
        self._clock = clock
        # Until _to_s (nothing at first), ``locate`` finds segment _i of the period starting at _base_s.
        self._to_s = 0.0
        self._base_s = 0.0
        self._i = 0

    def gap(self) -> float:
        """The time from now to the next arrival (``math.inf`` if there is none)."""
        clock, unit = self._clock, self._unit  # (read, then called: ``self._clock()`` looks it up as a method)
        now_s = clock()
        amount = unit()
        profile = self._profile
        if now_s < self._to_s:
            base_s = self._base_s
            # (now_s - base_s: locate's local time, made as it makes it)
            return profile.walk(base_s, now_s - base_s, self._i, amount) - now_s
        if profile.period_s is not None and profile.period_amount <= 0:
            return math.inf
        base_s, local_s, i = profile.locate(now_s)
        self._keep(now_s, base_s, local_s, i)
        return profile.walk(base_s, local_s, i, amount) - now_s

    def _keep(self, now_s: float, base_s: float, local_s: float, i: int) -> None:
        """Keep segment ``i``, where ``locate`` found ``now_s``, until as near its end as can be shown.

        ``locate`` is monotone in the time (neither the period's start nor the segment index
        decreases as the time grows), so a segment found both at ``now_s`` and at the last float
        before the kept end is found at every time between. Rounding can put the last floats
        before a period's end into the next period: the end is then narrowed by a float or two.
        """
        profile = self._profile
        self._to_s = now_s  # nothing kept unless shown below
        if local_s < 0:
            return
        to_s = base_s + profile.ends_s[i]
        for _ in range(self._NARROWING_STEPS):
            last_s = math.nextafter(to_s, -math.inf)
            if last_s < now_s:
                return
            last_base_s, _, last_i = profile.locate(last_s)
            if last_base_s == base_s and last_i == i:
                self._to_s = to_s
                self._base_s, self._i = base_s, i
                return
            to_s = last_s
