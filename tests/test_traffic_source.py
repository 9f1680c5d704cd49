"""A Poisson source's arrivals: one timer (a kernel.Alarm) set again for each arrival."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from simulator import kernel
from simulator.scenario import load_scenario
from simulator.world import World

QUICKSTART = Path(__file__).resolve().parent.parent / "scenarios" / "quickstart.yaml"


def scheduled(env: Any) -> list[Any]:
    """Every entry of the world's schedule (both of its heaps)."""
    return [*env._queue, *env._later]


def test_a_poisson_source_is_one_alarm_set_again_for_every_arrival() -> None:
    world = World(load_scenario(QUICKSTART.read_text(), max_messages=10**12))
    env = world.env
    world.start()
    alarms = [entry[3] for entry in scheduled(env) if isinstance(entry[3], kernel.Alarm)]
    assert len(alarms) == 1  # the one traffic entry's next arrival
    alarm = alarms[0]
    fired = 0
    while env.peek() < 3600.0:
        due = min(scheduled(env))[3]
        created = world.ctx.messages_created
        env.step()
        if due is alarm:
            fired += 1
            assert world.ctx.messages_created == created + 1  # the arrival made its message
            # and set the same alarm again for the next one (before the source's end, 2 h)
            assert [entry[3] for entry in scheduled(env)].count(alarm) == 1
    assert fired >= 2


def test_counts_and_sizes_drawn_in_blocks_are_rounded_as_round_and_max_would_round_them() -> None:
    from collections.abc import Iterator
    from itertools import islice

    import numpy as np

    from simulator.traffic import _whole_draws

    # ties (half to even), negatives, values below the least, and large lognormal sizes
    values = [0.5, 1.5, 2.5, -0.5, -3.2, 0.49999999999999994, 2.0000000001, 7.5, 1e12 + 0.5, 123456.5]
    rng = np.random.default_rng(5)
    values += rng.lognormal(8.0, 2.0, size=2000).tolist() + rng.uniform(-2.0, 4.0, size=2000).tolist()
    for least in (0, 1):
        source = iter(values + [0.0] * 1024)

        def produce(n: int, source: Iterator[float] = source) -> np.ndarray:
            return np.array(list(islice(source, n)))

        draws = _whole_draws(produce, least)
        got = list(islice(iter(draws, None), len(values)))
        assert got == [max(least, round(v)) for v in values]
        assert all(type(g) is int for g in got)
