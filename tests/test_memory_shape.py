"""What a run leaves in memory. For the cyclic garbage collector: reference cycles a fixed number
of processes make, none per message. ``World.run`` pauses the collector on that ground; a change
that made a cycle per message (a session holding a callback to itself, say) would grow memory
for as long as a run goes, and fails here. In the simulated world (the event log apart): what
in-flight messages need and fixed-size aggregates, nothing per finished message (a mailbox that
remembered the id of every message it was given, say, or kept every message an IMAP client had
fetched long ago)."""

from __future__ import annotations

import gc
import re
import sys
import types
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"
SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"
sys.path.insert(0, str(BENCHMARKS))

import bench  # noqa: E402

from simulator import load_scenario  # noqa: E402
from simulator.world import World  # noqa: E402

VARIANTS = [{}, {"retrieval": True}, {"outages": True}, {"capacity": True}]
VARIANT_IDS = ["default", "imap-idle", "outages", "capacity"]
MOST_IDS = 10  # of messages still in flight as a run ends: the last POP3 sessions catch a few before QUIT
MESSAGE_ID = re.compile(r"[md]\d+\Z")  # mail and DSNs (simulator.context.Context.new_id)
# Code and types are shared by every world; following them would reach the whole interpreter (a
# function is followed into its closure only: what it was made with in the run).
NOT_FOLLOWED = (types.ModuleType, type, types.BuiltinFunctionType, types.CodeType)


def cyclic_garbage(messages: int, **variant: bool) -> tuple[int, int]:
    """Objects only the cyclic collector can free after a run of about ``messages`` messages, and
    the messages the run made."""
    world = World(load_scenario(bench.scenario_text(messages, **variant)))
    gc.collect()
    world.run()
    found = gc.collect()
    return found, world.ctx.messages_created


@pytest.mark.parametrize("variant", VARIANTS, ids=VARIANT_IDS)
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


def kept_by_world(scenario_text: str) -> tuple[int, int, int]:
    """After a run of ``scenario_text``: the bytes of what the world still references (each object
    reached once, the event log and the scenario apart), the message ids among them, and the
    messages the run made."""
    world = World(load_scenario(scenario_text))
    world.run()
    seen = {id(world.log), id(world.scenario)}
    stack: list[object] = [world]
    size_bytes = ids = 0
    while stack:
        found = stack.pop()
        if id(found) in seen or isinstance(found, NOT_FOLLOWED):
            continue
        seen.add(id(found))
        size_bytes += sys.getsizeof(found)
        if type(found) is str:
            ids += MESSAGE_ID.match(found) is not None
        elif isinstance(found, types.FunctionType):
            stack.extend(found.__closure__ or ())
        else:
            stack.extend(gc.get_referents(found))
    return size_bytes, ids, world.ctx.messages_created


def assert_flat(small_text: str, large_text: str) -> None:
    """What the world holds after a run of ``large_text`` (about four times the messages of
    ``small_text``) holds at most :data:`MOST_IDS` message ids, and grows by less than 40 bytes a
    message (the odd time bin of its load series)."""
    small_bytes, _, small_messages = kept_by_world(small_text)
    large_bytes, large_ids, large_messages = kept_by_world(large_text)
    assert large_messages > 3 * small_messages
    assert large_ids <= MOST_IDS, large_ids
    assert large_bytes - small_bytes < 40 * (large_messages - small_messages), (small_bytes, large_bytes)


@pytest.mark.parametrize("variant", VARIANTS, ids=VARIANT_IDS)
def test_finished_messages_leave_the_world(variant: dict[str, bool]) -> None:
    """Every message here is finished by the end of the run (delivered and retrieved, or bounced)
    but those of the last POP3 sessions, which the run's end catches before their QUIT: no id of
    the others may stay (a mailbox's, a device's or a server's record of them)."""
    assert_flat(bench.scenario_text(1200, **variant), bench.scenario_text(4800, **variant))


def test_finished_messages_leave_the_world_whichever_way_users_read() -> None:
    """Users with two devices each, reading by POP3 that deletes, POP3 that keeps mail on the
    server, IMAP with IDLE and webmail, and an outage that cuts their sessions: no read mark,
    \\Seen flag, held message or mailbox entry is kept for a message every device has (the
    last polls of the run may leave a few)."""
    text = (SCENARIOS / "readers.yaml").read_text().replace(
        "  - {group: {prefix: web,",
        "  - {group: {prefix: keep, count: 20, domain: home.example}, at: homes,"
        " access: {protocol: pop3, keep: true, devices: 2, poll: 10m}}\n  - {group: {prefix: web,")
    assert "prefix: keep" in text and "duration: 8h" in text
    assert_flat(text.replace("duration: 8h", "duration: 4h"), text.replace("duration: 8h", "duration: 16h"))
