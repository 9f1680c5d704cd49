"""Traffic whose rate changes over time: a ``daily`` profile (24 hourly rates or multipliers of
the entry's ``rate``, repeating every day) or ``steps`` ((from-time, rate) pairs, piecewise
constant), and the checks that exactly one rate is given."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, model_validator

from .base import Spec
from .errors import raise_at
from .fields import PerSecond, Seconds

HOURS_PER_DAY = 24

Multiplier = Annotated[float, Field(ge=0)]


class DailySpec(Spec):
    """A rate for each hour of the day, repeating every day (hour 0 starts at time 0):
    ``rates`` (per sending user) or ``multipliers`` of the entry's ``rate``."""

    rates_per_s: Annotated[tuple[PerSecond, ...], Field(min_length=HOURS_PER_DAY, max_length=HOURS_PER_DAY)] | None = (
        Field(default=None, alias="rates")
    )
    multipliers: Annotated[tuple[Multiplier, ...], Field(min_length=HOURS_PER_DAY, max_length=HOURS_PER_DAY)] | None = (
        None
    )

    @model_validator(mode="after")
    def _one_form(self) -> DailySpec:
        if (self.rates_per_s is None) == (self.multipliers is None):
            raise_at([((), "a daily profile has either rates or multipliers (24 values, one per hour of day)")], self)
        return self

    def hourly_rates_per_s(self, rate_per_s: float | None) -> tuple[float, ...]:
        """The rate in each hour of the day, per sending user."""
        if self.rates_per_s is not None:
            return self.rates_per_s
        assert self.multipliers is not None and rate_per_s is not None
        return tuple(rate_per_s * multiplier for multiplier in self.multipliers)

    def to_yaml(self) -> dict[str, object]:
        if self.rates_per_s is not None:
            return {"rates": list(self.rates_per_s)}
        return {"multipliers": list(self.multipliers or ())}


class StepSpec(Spec):
    """From ``at`` on (until the next step), each sending user sends ``rate`` messages per second."""

    at_s: Seconds = Field(alias="at")
    rate_per_s: PerSecond = Field(alias="rate")

    def to_yaml(self) -> dict[str, object]:
        return {"at": self.at_s, "rate": self.rate_per_s}


def rate_issues(rate_per_s: float | None, daily: DailySpec | None,
                steps: tuple[StepSpec, ...] | None) -> list[tuple[tuple[str | int, ...], str]]:
    """What is wrong with how a traffic entry gives its rate, as (key path, message)."""
    if daily is not None and steps is not None:
        return [(("steps",), "a traffic entry takes daily or steps, not both")]
    if steps is not None:
        issues: list[tuple[tuple[str | int, ...], str]] = []
        if rate_per_s is not None:
            issues.append((("rate",), "with steps, each step gives the rate: leave rate out"))
        if steps[0].at_s != 0:
            issues.append((("steps", 0, "at"), f"the first step starts at 0 (the rate before it would be unknown), "
                                               f"not at {steps[0].at_s!r} s"))
        for i in range(1, len(steps)):
            if steps[i].at_s <= steps[i - 1].at_s:
                issues.append((("steps", i, "at"), f"steps are in time order: {steps[i].at_s!r} s is not after "
                                                   f"the step before ({steps[i - 1].at_s!r} s)"))
        return issues
    if daily is not None and daily.rates_per_s is not None:
        if rate_per_s is not None:
            return [(("rate",), "with daily rates, the profile gives the rate: leave rate out "
                                "(or give daily multipliers of it)")]
        return []
    if rate_per_s is None:
        return [(("rate",), "required key is missing (or give daily rates or steps)")]
    return []
