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
