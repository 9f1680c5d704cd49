"""What a valid scenario asks for that can never happen, found before running it.

A scenario can be well-formed and still ask for something the run would quietly skip, giving
a result that looks fine but is not the experiment the user wrote:

- a traffic entry with a rate above 0 whose ``to`` has no user but the sender (``from`` and
  ``to`` name the same single user): the sender never writes to itself, so the entry would
  send nothing. (``rate: 0`` says so on purpose and stays allowed.)
- ``duration: 0`` with a traffic entry whose rate is above 0: traffic creates messages only
  before ``duration``, so the entry would send nothing.
- a scheduled outage that starts after ``until``: the run has stopped before it, so it would
  never happen (as a scripted message after ``until`` would never be sent).

:func:`futile_issues` returns them as (key path, message), like the limits' issues, so they
are reported with their line by the loader. Nothing here prints.
"""

from __future__ import annotations

from collections.abc import Iterator

from .scenario import Scenario
from .scenario.errors import Loc
from .scenario.users import GroupSpec

__all__ = ["futile_issues"]


def futile_issues(scenario: Scenario) -> list[tuple[Loc, str]]:
    """What in ``scenario`` would silently never happen, as (key path, message)."""
    return [*_no_traffic_period(scenario), *_self_only_traffic(scenario), *_outages_after_until(scenario)]


def _no_traffic_period(scenario: Scenario) -> Iterator[tuple[Loc, str]]:
    sending = [f"traffic.{i}" for i, traffic in enumerate(scenario.traffic) if traffic.max_rate_per_s > 0]
    if scenario.duration_s == 0 and sending:
        yield ("duration",), (f"0 s, but {', '.join(sending)} {'has' if len(sending) == 1 else 'have'} a rate above 0: "
                              "traffic creates messages only before duration, so it would send nothing "
                              "(use rate: 0 if you mean it)")


def _self_only_traffic(scenario: Scenario) -> Iterator[tuple[Loc, str]]:
    for i, traffic in enumerate(scenario.traffic):
        if traffic.max_rate_per_s <= 0:
            continue
        only = _only_member(scenario, traffic.to)
        if only is not None and only == _only_member(scenario, traffic.from_):
            yield ("traffic", i, "to"), (f"'{traffic.to}' has no user but the sender ('{traffic.from_}'), who never "
                                         "writes to itself: the entry would send nothing (use rate: 0 if you mean it)")


def _only_member(scenario: Scenario, selector: str) -> str | None:
    """The one user a selector names (an address, or a one-member group's prefix), or None when
    it names no user or more than one."""
    members: list[str] = []
    for entry in scenario.users:
        if isinstance(entry, GroupSpec):
            if "@" in selector and entry.contains(selector):
                members.append(selector)
            elif selector in (entry.prefix, entry.domain):
                members += [entry.address(1)] if entry.count == 1 else ["", ""]  # two or more: never the only one
        elif selector in (entry.address, entry.domain):
            members.append(entry.address)
        if len(members) > 1:
            return None
    return members[0] if members else None


def _outages_after_until(scenario: Scenario) -> Iterator[tuple[Loc, str]]:
    until_s = scenario.until_s
    if until_s is None:
        return
    for i, outage in enumerate(scenario.outages):
        if outage.start_s is not None and outage.start_s > until_s:
            yield ("outages", i, "start"), (f"{outage.start_s!r} s is after until ({until_s!r} s): "
                                            "the outage would never happen")
