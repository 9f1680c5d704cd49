"""The benchmark's ``--capacity`` variant: the issue-14 features on the benchmark scenario.

It owns what ``--capacity`` adds to the scenario ``bench.scenario_text`` writes, as YAML lines:

- a daily curve on every traffic entry (:data:`DAILY_MULTIPLIERS`, a morning peak at 9:00 of
  3.5 times the mean; they average 1, so the entry's ``rate`` stays the daily mean and the day's
  total is unchanged);
- a processing stage on every server (:data:`WORKERS` workers, exponential times of mean
  :data:`PROCESSING_MEAN_S`; light enough that the stage stays stable at the peak, see
  :func:`peak_utilisation`);
- a team list on every domain (``team@<domain>``, the domain's first :data:`TEAM_SIZE` users) and
  a share :data:`LIST_SHARE` of the messages posted to them. Traffic selectors name users only,
  so the posts are scripted messages: times drawn from the same daily curve, senders uniform
  among all users, lists chosen by the traffic's own flows, text sizes from the traffic's
  lognormal, all from this module's own seeded ``random.Random``. The traffic's rates are scaled
  by ``1 - LIST_SHARE``, so about as many messages are written in all.

A post to a list is one message with no final recipient and one copy that the list's server
delivers to the members, so the count of messages delivered stays comparable with the default
scenario (one per message written); the members' (message, recipient) pairs add about
``LIST_SHARE * (TEAM_SIZE - 1)`` deliveries per message.
"""

from __future__ import annotations

import bisect
import itertools
import random
from collections.abc import Sequence

HOUR_S = 3600.0
DAILY_MULTIPLIERS: tuple[float, ...] = (
    0.1, 0.1, 0.1, 0.1, 0.1, 0.1,  # 00-05
    0.5, 1.5, 3.0, 3.5, 2.5, 1.5,  # 06-11: the morning peak at 09
    1.0, 1.5, 2.0, 1.6, 1.2, 1.0,  # 12-17
    0.8, 0.6, 0.5, 0.4, 0.2, 0.1,  # 18-23
)
WORKERS = 4
PROCESSING_MEAN_S = 0.1
TEAM_SIZE = 10
LIST_SHARE = 0.02  # of the messages written: posts to a team list
LIST_SEED_OFFSET = 14  # the posts' stream: random.Random(seed * 1000 + offset), apart from the scenario's


def daily_line() -> str:
    """The ``daily`` key of a traffic entry (indented as an entry's key)."""
    return "    daily: {multipliers: [" + ", ".join(repr(m) for m in DAILY_MULTIPLIERS) + "]}"


def server_keys() -> str:
    """The processing keys added to every server's flow mapping."""
    return f"workers: {WORKERS}, processing: {{exponential: {{mean: {PROCESSING_MEAN_S!r}s}}}}"


def peak_utilisation(messages: int, servers: int) -> float:
    """Utilisation of one server's workers at the peak hour, were every message processed twice
    (by its sender's server and its recipient's) and spread evenly over the servers."""
    mean_rate_per_s = 2 * messages / servers / (24 * HOUR_S)
    return mean_rate_per_s * max(DAILY_MULTIPLIERS) * PROCESSING_MEAN_S / WORKERS


def team_address(domain: str) -> str:
    return f"team@{domain}.example"


def list_lines(domains: Sequence[str]) -> list[str]:
    """The ``lists`` section: each domain's team, its first ``TEAM_SIZE`` users."""
    lines = ["lists:"]
    for name in domains:
        members = ", ".join(f"{name}{k + 1:03d}@{name}.example" for k in range(TEAM_SIZE))
        lines.append(f"  - {{address: {team_address(name)}, members: [{members}]}}")
    return lines


def post_times_s(count: int, rng: random.Random) -> list[float]:
    """``count`` times in the first day drawn from the daily curve (an hour with probability
    proportional to its multiplier, then uniform in it), in increasing order."""
    cumulative = list(itertools.accumulate(DAILY_MULTIPLIERS))
    times = []
    for _ in range(count):
        hour = bisect.bisect_right(cumulative, rng.random() * cumulative[-1])
        times.append((min(hour, len(DAILY_MULTIPLIERS) - 1) + rng.random()) * HOUR_S)
    return sorted(times)


def message_lines(messages: int, domains: Sequence[str], flows: Sequence[tuple[int, float]],
                  users_per_domain: int, seed: int) -> list[str]:
    """The ``messages`` section: about ``LIST_SHARE * messages`` posts to the team lists."""
    rng = random.Random(seed * 1000 + LIST_SEED_OFFSET)
    count = round(LIST_SHARE * messages)
    if count == 0:
        return []
    offsets = [offset for offset, _ in flows]
    shares = [share for _, share in flows]
    lines = ["messages:"]
    for at_s in post_times_s(count, rng):
        home = rng.randrange(len(domains))
        sender = f"{domains[home]}{rng.randrange(users_per_domain) + 1:03d}@{domains[home]}.example"
        to = domains[(home + rng.choices(offsets, shares)[0]) % len(domains)]
        size_bytes = max(0, round(rng.lognormvariate(0.0, 1.5) * 10_000))  # the traffic's median 10 KB, sigma 1.5
        lines.append(f"  - {{at: {at_s!r}, from: {sender}, to: {team_address(to)}, size: {size_bytes}}}")
    return lines
