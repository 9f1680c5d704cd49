"""What a run leaves for the cyclic garbage collector: reference cycles a fixed number of
processes make, none per message. ``World.run`` pauses the collector on that ground; a change
that made a cycle per message (a session holding a callback to itself, say) would grow memory
for as long as a run goes, and fails here."""

from __future__ import annotations

import gc
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

import bench  # noqa: E402

from simulator import load_scenario  # noqa: E402
from simulator.world import World  # noqa: E402


def cyclic_garbage(messages: int, **variant: bool) -> tuple[int, int]:
    """Objects only the cyclic collector can free after a run of about ``messages`` messages, and
    the messages the run made."""
    world = World(load_scenario(bench.scenario_text(messages, **variant)))
    gc.collect()
    world.run()
    found = gc.collect()
    return found, world.ctx.messages_created


@pytest.mark.parametrize("variant", [{}, {"retrieval": True}, {"outages": True}, {"capacity": True}],
                         ids=["default", "imap-idle", "outages", "capacity"])
def test_reference_cycles_do_not_grow_with_messages(variant: dict[str, bool]) -> None:
    small, small_messages = cyclic_garbage(300, **variant)
    large, large_messages = cyclic_garbage(1200, **variant)
    assert large_messages > 3 * small_messages
    # Outages start and stop sessions of polling devices (processes), which may leave a cycle
    # each; that depends on time, not on traffic. Nothing may scale with the messages.
    assert large - small < 0.05 * (large_messages - small_messages), (small, large)


def test_run_restores_the_collector_as_it_found_it() -> None:
    world = World(load_scenario(bench.scenario_text(50)))
    assert gc.isenabled()
    world.run()
    assert gc.isenabled()
    gc.disable()
    try:
        World(load_scenario(bench.scenario_text(50))).run()
        assert not gc.isenabled()
    finally:
        gc.enable()
