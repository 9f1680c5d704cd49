"""Queueing theory on a server's processing stage: ``workers: c`` with exponential processing
times and Poisson arrivals is an M/M/c queue, and the mean wait for a worker is Erlang C's.

Set-up: 21 users of one domain write to each other at 0.1 messages per second each (Poisson, so
``lam = 2.1/s`` in all), through their own server, which processes each message for an
exponential time of mean ``1/mu = 1 s`` on ``c = 3`` workers (``rho = lam / (c mu) = 0.7``).
Submission takes the same constant time for every message (no bandwidth limits), so acceptances
are Poisson too. The wait of a message is its ``processing`` record's time minus its ``accepted``
record's time.

Theory (Erlang C): with ``a = lam / mu``, ``P(wait) = C(c, a) =
(a^c / c!) (c / (c - a)) / (sum_{k<c} a^k / k! + (a^c / c!) (c / (c - a)))`` and
``E[Wq] = C(c, a) / (c mu - lam)`` (0.5470 s here).

Statistics: ``R`` replications with independent seeds; in each, messages accepted in the first
``WARM_UP_S`` seconds are dropped (the queue starts empty; its relaxation time at rho = 0.7 is
about ten seconds), the rest give one mean. The analytic value must lie within 4 standard errors
of the mean of the replication means (a normal 99.99 % band; each replication mean averages
thousands of waits, so they are close to normal), and that band must be narrow (under 12 % of
the value), so the test tells M/M/c from what a wrong stage would be: one worker three times as
fast (M/M/1, E[Wq] = 0.78 s, 42 % more), four workers (0.10 s), or no wait at all.
"""

from __future__ import annotations

import math
import statistics

import pytest
import yaml

from simulator import load_scenario
from simulator.world import World

C = 3
MU = 1.0
USERS = 21
RATE_PER_USER = 0.1
LAM = USERS * RATE_PER_USER
DURATION_S = 4800.0
WARM_UP_S = 200.0
REPLICATIONS = 16


def erlang_c_mean_wait(c: int, lam: float, mu: float) -> float:
    a = lam / mu
    top = a**c / math.factorial(c) * c / (c - a)
    p_wait = top / (sum(a**k / math.factorial(k) for k in range(c)) + top)
    return p_wait / (c * mu - lam)


def scenario(seed: int) -> str:
    return yaml.safe_dump({
        "name": "mmc", "seed": seed, "duration": DURATION_S,
        "network": {"links": [{"between": ["lan.a", "mx.a"], "latency": "1ms"}]},
        "servers": {"mx.a": {"domains": ["a.example"], "workers": C, "processing": {"exponential": {"mean": 1 / MU}}}},
        "users": [{"group": {"prefix": "u", "count": USERS, "domain": "a.example"}, "at": "lan.a",
                   "access": {"protocol": "pop3", "poll": "1h"}}],
        "traffic": [{"from": "a.example", "to": "a.example", "rate": f"{RATE_PER_USER}/s", "size": "1KB"}],
    }, sort_keys=False)


def mean_wait(seed: int) -> float:
    world = World(load_scenario(scenario(seed)))
    world.run()
    assert world.ctx.busy == 0
    accepted: dict[str, float] = {}
    waits = []
    for time_s, event, mid, _node, _detail in world.log.records:
        if event == "accepted":
            accepted[mid] = time_s
        elif event == "processing" and accepted[mid] >= WARM_UP_S:
            waits.append(time_s - accepted[mid])
    assert len(waits) > 0.8 * LAM * (DURATION_S - WARM_UP_S)
    return statistics.fmean(waits)


def test_erlang_c_of_the_test_set_up() -> None:
    assert erlang_c_mean_wait(1, 0.5, 1.0) == pytest.approx(1.0)  # M/M/1: rho / (mu - lam)
    assert erlang_c_mean_wait(C, LAM, MU) == pytest.approx(0.5470, abs=1e-4)


@pytest.mark.slow
def test_mean_wait_for_a_worker_is_erlang_c() -> None:
    means = [mean_wait(seed) for seed in range(1, REPLICATIONS + 1)]
    theory = erlang_c_mean_wait(C, LAM, MU)
    centre = statistics.fmean(means)
    error = statistics.stdev(means) / math.sqrt(len(means))
    assert 4 * error < 0.12 * theory, f"band too wide to tell: {means}"
    assert abs(centre - theory) <= 4 * error, f"mean wait {centre:.4f} s, Erlang C {theory:.4f} s, se {error:.4f}"
