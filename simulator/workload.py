"""How much work a scenario asks for, estimated from its numbers without building anything.

:func:`estimate` counts users and devices from the group counts (no group is expanded into
its members) and the expected mail from the traffic rates: an entry with ``N`` senders,
``rate`` per sender and a traffic period ``duration`` creates ``rate * N * duration`` messages
(with a ``daily`` profile or ``steps``, ``N`` times the rate integrated over the period),
each to ``R`` recipients (the mean of ``recipients``, at most the users in ``to``); replies and
forwards (probabilities ``p_r``, ``p_f``, one recipient each) multiply the pairs by
``1 / (1 - p_r - p_f)``, or grow without end when ``p_r + p_f >= 1`` (then only ``until``
stops them, after about ``until / think`` generations). Scripted messages count their
recipients, a mailing list or alias as the final recipients it reaches (a list of 20,000
members is 20,000 pairs; nested lists count each time they are named), worked out from the
counts without expanding anything; a list or alias that alone would reach more than the limit
is refused at the member where its count passed it. Campaigns count theirs (``count``, or the
users ``to`` selects). Random outages change state about ``2 * span / (mtbf + mttr)`` times,
where the span is ``until``, or else the last traffic, scripted or campaign time plus the
longest ``give_up``. A message nobody can take is tried about ``give_up / wait`` times, where
``wait`` is the retry policy's shortest wait (``interval``; for ``backoff`` and ``postfix`` the
waits grow to ``max`` / ``max_backoff``, which then set the pace).

:func:`workload_issues` compares the estimate with :mod:`simulator.limits` and says what is
too much, at the key path responsible, with the numbers. Estimates are expectations, meant to
catch mistakes of orders of magnitude, not to predict a run's exact counts.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field

from .limits import MAX_ATTEMPTS, MAX_DEVICES, MAX_USERS, check_max_messages
from .randomness import Distribution
from .retry import parse_exim_rule
from .scenario.campaigns import CampaignSpec
from .scenario.errors import Loc, Problem, ScenarioError
from .scenario.lists import entries
from .scenario.model import Scenario
from .scenario.servers import RetrySpec
from .scenario.traffic import TrafficSpec
from .scenario.users import GroupSpec

__all__ = ["Workload", "check_workload", "estimate", "workload_issues"]


@dataclass(frozen=True)
class TrafficEstimate:
    """One traffic entry's expected mail, and the factors it is the product of."""

    index: int
    rate_per_s: float
    senders: int
    period_s: float
    recipients: float
    chain_factor: float  # pairs per original pair, replies and forwards included (inf: no end)
    varying: bool = False  # the rate changes over time: rate_per_s is its mean over the period

    @property
    def messages(self) -> float:
        return _product(self.rate_per_s, self.senders, self.period_s)

    @property
    def pairs(self) -> float:
        return _product(self.messages, self.recipients, self.chain_factor)

    def explain(self) -> str:
        mean = "mean " if self.varying else ""
        text = (f"{mean}{self.rate_per_s:.6g}/s x {_count(self.senders)} sender{'s' * (self.senders != 1)} x "
                f"{self.period_s:.6g} s x {self.recipients:.3g} recipient{'s' * (self.recipients != 1)}")
        if self.chain_factor != 1:
            text += f" x {self.chain_factor:.3g} for replies and forwards"
        return text


@dataclass(frozen=True)
class Workload:
    """The estimate of one scenario (see the module docstring for how each part is made)."""

    users: int
    devices: int
    traffic: tuple[TrafficEstimate, ...]
    scripted_pairs: int
    outage_changes: float
    expansions: dict[str, tuple[int, ...]] = field(repr=False)  # list or alias -> what each member reaches
    user_counts: tuple[tuple[int, int, int], ...] = field(repr=False)  # (entry index, users, devices)
    campaign_pairs: tuple[int, ...] = ()  # per campaign

    @property
    def pairs(self) -> float:
        """Expected mail (message, recipient) pairs: traffic, scripted and campaigns."""
        return math.fsum([*(entry.pairs for entry in self.traffic), float(self.scripted_pairs),
                          float(sum(self.campaign_pairs))])


def _float(count: float) -> float:
    """``count`` as a float; integers too large for one are infinite."""
    try:
        return float(count)
    except OverflowError:
        return math.inf


def _product(*factors: float) -> float:
    """A product of non-negative factors in which zero wins over infinity."""
    if any(factor == 0 for factor in factors):
        return 0.0
    result = 1.0
    for factor in factors:
        result *= _float(factor)
    return result


def _mean(distribution: Distribution) -> float:
    try:
        return float(distribution.mean)
    except OverflowError:
        return math.inf


class _Population:
    """Users per traffic selector (domain, group prefix, address), from counts alone."""

    def __init__(self, scenario: Scenario) -> None:
        self.by_domain: dict[str, int] = {}
        self.by_prefix: dict[str, int] = {}
        self.groups = [entry for entry in scenario.users if isinstance(entry, GroupSpec)]
        self.addresses = {entry.address for entry in scenario.users if not isinstance(entry, GroupSpec)}
        self.held = set(scenario.domains())
        for entry in scenario.users:
            count = entry.count if isinstance(entry, GroupSpec) else 1
            self.by_domain[entry.domain] = self.by_domain.get(entry.domain, 0) + count
            if isinstance(entry, GroupSpec):
                self.by_prefix[entry.prefix] = count

    def size(self, selector: str) -> int:
        if "@" in selector:
            return int(selector in self.addresses or any(group.contains(selector) for group in self.groups))
        if selector in self.held:
            return self.by_domain.get(selector, 0)
        return self.by_prefix.get(selector, 0)


def _reach(scenario: Scenario, population: _Population) -> dict[str, tuple[int, ...]]:
    """List or alias address -> the final recipients one message to it reaches through each of
    its members (their sum is what the message reaches): an address 1, a group or a domain its
    users, a nested list or alias what it reaches (each time it is named: a nested list makes its
    own copy). Exact integers, from the counts, nothing expanded; no stack, however deep the
    nesting. The scenario has no loops (validation refused them)."""
    members_of = {address: members for _loc, address, members in entries(scenario)}
    reach: dict[str, tuple[int, ...]] = {}
    total: dict[str, int] = {}
    for root in members_of:
        stack = [root]
        while stack:
            address = stack[-1]
            if address in total:
                stack.pop()
                continue
            pending = [m for m in members_of[address] if m in members_of and m not in total]
            if pending:
                stack.extend(pending)
                continue
            stack.pop()
            reach[address] = tuple(total[m] if m in members_of else 1 if "@" in m else population.size(m)
                                   for m in members_of[address])
            total[address] = sum(reach[address])
    return reach


def _final_recipients(reach: dict[str, tuple[int, ...]], recipients: tuple[str, ...]) -> int:
    """Final recipients of a message to ``recipients``: a list or alias counts what it reaches."""
    return sum(sum(reach[rcpt]) if rcpt in reach else 1 for rcpt in recipients)


def _chain_factor(traffic: TrafficSpec, until_s: float | None) -> float:
    """Pairs per original pair once replies and forwards (and theirs, and so on) are counted."""
    steps = [spec for spec in (traffic.reply, traffic.forward) if spec is not None]
    q = math.fsum(spec.probability for spec in steps)
    if q == 0:
        return 1.0
    if q < 1:
        return 1 / (1 - q)
    think_s = min(_mean(spec.think) for spec in steps)
    if until_s is None or think_s == 0:
        return math.inf
    generations = until_s / think_s
    if q == 1:
        return generations + 1
    log_total = (generations + 1) * math.log(q) - math.log(q - 1)
    return math.inf if log_total > 700 else math.exp(log_total)


def _mean_rate_per_s(traffic: TrafficSpec, period_s: float) -> float:
    """The rate per sender averaged over the traffic period (the rate itself when constant)."""
    profile = traffic.profile()
    if profile is None:
        return float(traffic.rate_per_s or 0.0)
    if period_s <= 0:
        return profile.max_rate_per_s
    return profile.expected(period_s) / period_s


def _campaign_pairs(campaign: CampaignSpec, population: _Population) -> int:
    """A campaign's recipients: its ``count``, or every user it selects (the sender counted too)."""
    selected = sum(population.size(selector) for selector in campaign.to)
    return selected if campaign.count is None else min(campaign.count, selected)


def estimate(scenario: Scenario) -> Workload:
    """The work ``scenario`` asks for; groups stay unexpanded, so this takes no time."""
    population = _Population(scenario)
    user_counts = tuple(
        (i, entry.count if isinstance(entry, GroupSpec) else 1,
         (entry.count if isinstance(entry, GroupSpec) else 1) * entry.access.devices)
        for i, entry in enumerate(scenario.users)
    )
    expansions = _reach(scenario, population)
    period_s = scenario.duration_s if scenario.until_s is None else min(scenario.duration_s, scenario.until_s)
    traffic = tuple(
        TrafficEstimate(
            index=i,
            rate_per_s=_mean_rate_per_s(entry, period_s),
            senders=population.size(entry.from_),
            period_s=period_s,
            recipients=max(1.0, min(_mean(entry.recipients), _float(max(1, population.size(entry.to))))),
            chain_factor=_chain_factor(entry, scenario.until_s),
            varying=entry.profile() is not None,
        )
        for i, entry in enumerate(scenario.traffic)
    )
    return Workload(
        users=sum(users for _, users, _ in user_counts),
        devices=sum(devices for _, _, devices in user_counts),
        traffic=traffic,
        scripted_pairs=sum(_final_recipients(expansions, message.to) for message in scenario.messages),
        outage_changes=_outage_changes(scenario),
        expansions=expansions,
        user_counts=user_counts,
        campaign_pairs=tuple(_campaign_pairs(campaign, population) for campaign in scenario.campaigns),
    )


def _span_s(scenario: Scenario) -> float:
    """How long the run may last: ``until``, or the last traffic or scripted time plus the drain."""
    if scenario.until_s is not None:
        return scenario.until_s
    last_s = max([scenario.duration_s, *(message.at_s for message in scenario.messages),
                  *(campaign.at_s for campaign in scenario.campaigns)])
    give_up_s = max((server.retry.give_up_s or 0.0 for server in scenario.servers.values()), default=0.0)
    return last_s + give_up_s


def _outage_changes(scenario: Scenario) -> float:
    span_s = _span_s(scenario)
    return math.fsum(
        2 * span_s / (outage.mtbf_s + outage.mttr_s)
        for outage in scenario.outages
        if outage.mtbf_s is not None and outage.mttr_s is not None
    )


def _count(count: float) -> str:
    """A count for people: digits grouped, or powers of ten beyond 10**15 (even past a float's range)."""
    if count < 10**15:
        return f"{count:,.0f}"
    if isinstance(count, int):
        digits = str(count)
        return f"{digits[0]}.{digits[1:3]}e+{len(digits) - 1}"
    return f"{count:.3g}"


def _about(count: float) -> str:
    return "more than 1e+308" if math.isinf(count) else f"about {_count(count)}"


_RAISE = "raise the limit with --max-messages (max_messages= in Python) if you mean it"


def workload_issues(scenario: Scenario, max_messages: int) -> list[tuple[Loc, str]]:
    """What in ``scenario`` asks for more than the limits allow, or for what can never happen
    (:mod:`simulator.futile`), as (key path, message)."""
    from .futile import futile_issues

    work = estimate(scenario)
    return [*_population_issues(work), *_expansion_issues(scenario, work, max_messages),
            *_mail_issues(scenario, work, max_messages),
            *_outage_issues(scenario, work, max_messages), *_retry_issues(scenario), *futile_issues(scenario)]


def attempts(retry: RetrySpec) -> tuple[float, str, float]:
    """How often a message nobody takes is tried before ``give_up``, if every attempt fails at
    once: (attempts, the key that sets the pace, its wait in seconds)."""
    give_up_s = retry.give_up_s or 0.0
    if retry.policy in ("fixed", "exchange") and retry.interval_s:
        return 1 + give_up_s / retry.interval_s, "interval", retry.interval_s
    if retry.policy == "backoff" and retry.initial_s and retry.max_s and retry.factor:
        if retry.factor == 1:
            return 1 + give_up_s / retry.initial_s, "initial", retry.initial_s
        growth = math.log(retry.max_s / retry.initial_s) / math.log(retry.factor)
        count = 2 + growth + give_up_s / retry.max_s
        ceiling = 1 + give_up_s / retry.initial_s  # no wait is shorter than the first
        if ceiling < count:  # (a factor so close to 1 that the waits hardly grow before give_up)
            return ceiling, "initial", retry.initial_s
        return count, "max", retry.max_s
    if retry.policy == "postfix" and retry.min_backoff_s and retry.max_backoff_s:
        growth = math.log2(retry.max_backoff_s / retry.min_backoff_s)
        return 2 + growth + give_up_s / retry.max_backoff_s, "max_backoff", retry.max_backoff_s
    if retry.policy == "exim" and retry.rule:
        wait_s = min(step.interval_s for step in parse_exim_rule(retry.rule))
        return 1 + give_up_s / wait_s, "rule", wait_s
    return 1.0, "policy", 0.0


def check_workload(scenario: Scenario, max_messages: int) -> None:
    """Raise :class:`ScenarioError` if ``scenario`` asks for more than the limits (``max_messages``) allow."""
    issues = workload_issues(scenario, check_max_messages(max_messages))
    if issues:
        raise ScenarioError(Problem(".".join(str(part) for part in loc), message) for loc, message in issues)


def _population_issues(work: Workload) -> Iterator[tuple[Loc, str]]:
    if work.users > MAX_USERS:
        i, users, _ = max(work.user_counts, key=lambda item: item[1])
        loc: Loc = ("users", i, "group", "count") if users > MAX_USERS else ("users",)
        yield loc, (f"{_count(work.users)} users in all, more than the {MAX_USERS:,} a scenario may have "
                    "(each takes about 6 KB of memory)")
    elif work.devices > MAX_DEVICES:
        i, _, devices = max(work.user_counts, key=lambda item: item[2])
        loc = ("users", i, "access", "devices") if devices > MAX_DEVICES else ("users",)
        yield loc, f"{_count(work.devices)} devices in all, more than the {MAX_DEVICES:,} a scenario may have"


def _expansion_issues(scenario: Scenario, work: Workload, max_messages: int) -> Iterator[tuple[Loc, str]]:
    """Lists and aliases that alone would reach more than ``max_messages`` final recipients with
    one message; only the innermost are named (those containing them exceed the limit too)."""
    reach = work.expansions
    entries = [(("lists", i, "members"), entry.address, entry.members) for i, entry in enumerate(scenario.lists)]
    entries += [(("aliases", i, "to"), alias.address, alias.to) for i, alias in enumerate(scenario.aliases)]
    for loc, address, members in entries:
        total = sum(reach[address])
        if total <= max_messages or any(sum(reach[m]) > max_messages for m in members if m in reach):
            continue
        running = 0
        for j, count in enumerate(reach[address]):
            running += count
            if running > max_messages:
                yield (*loc, j), (f"one message to '{address}' would reach {_count(total)} final recipients "
                                  "(nested lists and aliases counted each time they are named), more than the "
                                  f"limit of {max_messages:,} (message, recipient) pairs; the count passes it here; "
                                  f"{_RAISE}")
                break


def _mail_issues(scenario: Scenario, work: Workload, max_messages: int) -> Iterator[tuple[Loc, str]]:
    for entry in work.traffic:
        spec = scenario.traffic[entry.index]
        if math.isinf(entry.chain_factor) and entry.messages > 0:
            key = "reply" if spec.reply is not None else "forward"
            yield ("traffic", entry.index, key), (
                "replies and forwards never die out: their probabilities add up to 1 or more, so every "
                "message leads to another and the run would not end; set until, or make them add up to less than 1"
            )
        elif entry.pairs > max_messages:
            yield ("traffic", entry.index), (
                f"{_about(entry.pairs)} messages expected ({entry.explain()}), more than the limit of "
                f"{max_messages:,} (message, recipient) pairs; {_RAISE}"
            )
    if any(entry.pairs > max_messages for entry in work.traffic):
        return
    if work.scripted_pairs > max_messages:
        yield ("messages",), (f"{_count(work.scripted_pairs)} scripted (message, recipient) pairs, more than the limit "
                              f"of {max_messages:,}; {_RAISE}")
    elif sum(work.campaign_pairs) > max_messages:
        yield ("campaigns",), (f"{_count(sum(work.campaign_pairs))} campaign (message, recipient) pairs, more than "
                               f"the limit of {max_messages:,}; {_RAISE}")
    elif work.pairs > max_messages:
        parts = ", ".join(f"traffic.{entry.index}: {_about(entry.pairs)}" for entry in work.traffic)
        campaigns = f", campaigns: {sum(work.campaign_pairs):,}" if work.campaign_pairs else ""
        yield ("traffic",), (f"{_about(work.pairs)} messages expected in all ({parts}, scripted: "
                             f"{work.scripted_pairs:,}{campaigns}), more than the limit of {max_messages:,} "
                             f"(message, recipient) pairs; {_RAISE}")


def _retry_issues(scenario: Scenario) -> Iterator[tuple[Loc, str]]:
    for name, server in scenario.servers.items():
        count, key, wait_s = attempts(server.retry)
        if count > MAX_ATTEMPTS:
            yield ("servers", name, "retry", key), (
                f"a message nobody takes would be tried {_about(count)} times before give_up "
                f"({server.retry.give_up_s:.6g} s, a try every {wait_s:.6g} s), more than the {MAX_ATTEMPTS:,} "
                "allowed; wait longer between tries or give up sooner"
            )


def _outage_issues(scenario: Scenario, work: Workload, max_messages: int) -> Iterator[tuple[Loc, str]]:
    if work.outage_changes <= max_messages:
        return
    i = max((i for i, outage in enumerate(scenario.outages) if outage.mtbf_s is not None),
            key=lambda i: -(scenario.outages[i].mtbf_s or 0) - (scenario.outages[i].mttr_s or 0))
    yield ("outages", i, "mtbf"), (
        f"random outages would change state {_about(work.outage_changes)} times in "
        f"{_span_s(scenario):.6g} s, more than the limit of {max_messages:,}; lengthen mtbf and mttr, "
        f"set a shorter until, or {_RAISE}"
    )
