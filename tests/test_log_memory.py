"""What a run's result holds in memory: the log in compact columns (no tuple or float object per
record), the world gone once ``run`` returns, and a result saved with ``keep_log=False`` (as
``mailsim run`` saves it) without its log, writing the same files."""

from __future__ import annotations

import gc
import json
import math
import struct
import weakref
from array import array
from pathlib import Path

import pytest

from simulator import collector, eventkinds, load_scenario, run
from simulator.eventkinds import KINDS
from simulator.eventlog import EventLog, Records
from simulator.float_column import FloatColumn
from simulator.runner import Result
from simulator.world import World

ROOT = Path(__file__).resolve().parent.parent
SCENARIO = ROOT / "scenarios" / "outage-retry.yaml"


def test_a_runs_log_keeps_no_tuple_per_record() -> None:
    result = run(load_scenario(SCENARIO))
    gc.collect()
    records = [o for o in gc.get_objects()
               if type(o) is tuple and len(o) == 5 and isinstance(o[1], str) and o[1] in KINDS]
    assert len(result.records) > 1000
    assert records == []
    assert all(type(r) is tuple and len(r) == 5 for r in result.records)  # read as tuples all the same


def test_a_runs_log_is_held_in_compact_columns() -> None:
    result = run(load_scenario(SCENARIO))
    log = result.records.log
    assert len(log) == len(result.records) > 1000
    assert isinstance(log.times, array) and log.times.itemsize == 8  # no float object per record
    assert log.kinds.codes.itemsize == log.nodes.codes.itemsize == 1  # a byte a record: few kinds, few nodes
    assert len(log.times) == len(log.kinds) == len(log.message_ids) == len(log.nodes) == len(log.values) == len(log)
    assert not any(type(o) is float for o in gc.get_referents(log.message_ids, log.values))


def test_records_read_as_the_tuples_appended() -> None:
    log = EventLog()
    written = [(float(i), "delivered", f"m{i}", "mx.a", (f"u{i}@a",)) for i in range(7)]
    for record in written:
        log.append(*record)
    records = log.records
    assert isinstance(records, Records)
    assert records[3] == written[3] and records[-1] == written[-1]
    assert records[2:5] == written[2:5] and records[::3] == written[::3]
    assert records == written and written == records
    assert records != written[:-1]
    with pytest.raises(IndexError):
        records[7]


def test_the_world_is_freed_when_run_returns_even_with_the_collector_off() -> None:
    gc.disable()
    try:
        result = run(load_scenario(SCENARIO))
        assert not any(isinstance(o, World) for o in gc.get_objects())
    finally:
        gc.enable()
    assert result.summary["counts"]["submitted"] > 0


def _files(folder: Path) -> dict[str, str]:
    return json.loads((folder / "manifest.json").read_text())["files"]


def test_saving_without_keeping_the_log_writes_the_same_files_and_lets_the_log_go(tmp_path: Path) -> None:
    scenario = load_scenario(SCENARIO)
    kept, released = run(scenario), run(scenario)
    kept.save(tmp_path / "kept")
    released.save(tmp_path / "released", keep_log=False)
    assert _files(tmp_path / "kept") == _files(tmp_path / "released")  # every file's sha256, plots included
    assert released.records == []
    assert released.summary == kept.summary
    assert released.tables == kept.tables
    with pytest.raises(ValueError, match="let it go when it was saved"):
        released.plot_journey(kept.records[0][2])
    with pytest.raises(ValueError, match="let it go when it was saved"):
        _ = released.events
    assert released.render_plots().keys() == kept.render_plots().keys()  # what the plots read was kept


def test_mailsim_run_writes_the_folder_the_library_writes(tmp_path: Path) -> None:
    from simulator.cli import main

    assert main(["run", str(SCENARIO), "-o", str(tmp_path / "cli"), "-q"]) == 0
    Result.save(run(load_scenario(SCENARIO)), tmp_path / "library")
    assert _files(tmp_path / "cli") == _files(tmp_path / "library")


def test_a_subset_of_kinds_reads_as_those_records_and_gives_the_same_breakdown() -> None:
    from simulator.breakdown import EVENTS_READ, time_breakdown

    result = run(load_scenario(ROOT / "scenarios" / "mailing-list.yaml"))
    subset = result.log.subset(*EVENTS_READ)
    assert list(subset.records) == [r for r in result.records if r[1] in EVENTS_READ]
    assert 0 < len(subset) < len(result.log)
    deliveries = result.tables.columns("deliveries")
    assert time_breakdown(subset, deliveries) == time_breakdown(result.log, deliveries)
    assert len(result.breakdown_columns["latency_s"]) > 0


def test_equal_values_become_one_tuple_but_those_of_kinds_with_a_float_field() -> None:
    log = EventLog()
    written = [(0.0, "delivered", "m1", "mx.a", tuple(["u@a"])),
               (0.5, "deferred", "m1", "mx.a", (tuple(["u@a"]), "421", 60)),
               (1.0, "delivered", "m2", "mx.a", tuple(["u@a"])),  # equal values, another tuple
               (1.5, "deferred", "m2", "mx.a", (tuple(["u@a"]), "421", 60.0))]
    assert written[0][4] is not written[2][4]
    for record in written[:2]:
        log.append(*record)
    log.compact()  # what came so far
    for record in written[2:]:
        log.append(*record)
    log.compact()  # only what came since
    delivered = [r[4] for r in log.records if r[1] == "delivered"]
    deferred = [r[4] for r in log.records if r[1] == "deferred"]
    assert delivered[0] is delivered[1]
    assert [type(values[2]) for values in deferred] == [int, float]  # 60 == 60.0, but "60" != "60.0" in events.csv
    assert log.records == written


def test_a_runs_repeated_values_are_shared() -> None:
    result = run(load_scenario(SCENARIO))
    delivered = [v for _t, e, _m, _n, v in result.records if e == "delivered"]
    assert len({id(v) for v in delivered}) == len(set(delivered)) < len(delivered)


SCENARIOS = sorted((ROOT / "scenarios").glob("*.yaml"))
PYTHON_TYPES = {eventkinds.TEXT: str, eventkinds.INT: int, eventkinds.FLOAT: float, eventkinds.LIST: tuple,
                eventkinds.FLAG: bool}


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_every_field_holds_its_declared_type_so_equal_values_write_the_same_text(path: Path) -> None:
    """EventLog.compact makes equal values one tuple: that keeps events.csv as it is only if a
    field never holds two types that compare equal (1 and True in an int field; floats are left out).
    It keeps times as doubles: every writer's time must be a float (the clock), or ``5`` would come
    back as ``5.0``."""
    world = World(load_scenario(path.read_text(), max_messages=10**9))
    world.run()  # (no compaction: the records are in the log's tail as the writers appended them)
    assert {type(t) for t in world.log._tail[0::5]} == {float}
    seen = 0
    for _time_s, kind, _mid, _node, values in world.log.records:
        for spec, value in zip(KINDS[kind].fields, values, strict=False):
            if value is None:
                continue
            assert type(value) is PYTHON_TYPES[spec.type], (kind, spec.name, value)
            seen += 1
    assert seen > 0


def _bits(x: float) -> bytes:
    return struct.pack("d", x)


def test_times_read_back_exactly_however_they_were_given() -> None:
    log = EventLog()
    floats = [0.0, -0.0, math.nan, math.inf, 1e-320, 0.1 + 0.2, 86400.000001]
    for t in floats:
        log.append(t, "delivered", "m1", "mx.a", ("u@a",))
    log.compact()
    assert isinstance(log.times, array)  # floats only so far: kept as doubles
    assert [_bits(r[0]) for r in log.records] == [_bits(t) for t in floats]  # -0.0 and nan's bits included
    log.append(7, "delivered", "m2", "mx.a", ("u@a",))  # not a float: every time is kept as given from now on
    log.append(7.5, "delivered", "m3", "mx.a", ("u@a",))
    times = [r[0] for r in log.records]
    assert type(times[-2]) is int and times[-2] == 7 and type(times[-1]) is float
    assert [_bits(t) for t in times[:-2]] == [_bits(t) for t in floats]


def test_a_log_of_many_nodes_widens_its_codes_and_reads_back_the_same() -> None:
    log = EventLog()
    written = [(float(i), "enqueued", f"m{i}", f"node{i % 300}", (i,)) for i in range(900)]
    for k, record in enumerate(written):
        log.append(*record)
        if k % 100 == 99:
            log.compact()  # the 257th node comes in a later batch than the first
    assert log.records == written
    assert log.nodes.codes.itemsize == 2 and len(log.nodes.names) == 300
    assert log.kinds.codes.itemsize == 1


def test_a_subset_of_a_log_keeps_its_records_of_those_kinds_only() -> None:
    log = EventLog()
    written = [(float(i), ("delivered", "enqueued", "sent")[i % 3], f"m{i}", "mx.a", (f"u{i}@a",)) for i in range(30)]
    for record in written:
        log.append(*record)
    log.compact()
    mask = bytes(r[1] != "enqueued" for r in written)
    assert log.subset(mask).records == [r for r in written if r[1] != "enqueued"]


def test_the_time_breakdown_keeps_the_chain_records_as_typed_columns_sorted_by_message() -> None:
    from simulator.breakdown_legs import CHAIN_EVENTS, _Chain

    result = run(load_scenario(ROOT / "scenarios" / "mailing-list.yaml"))
    asked = [*sorted({r[2] for r in result.records if r[1] in CHAIN_EVENTS}), "no such message"]
    chain = _Chain(result.log, asked)
    # no Python object per record: positions, doubles and one- or two-byte codes
    assert (chain.positions.dtype.kind, chain.times.dtype.name) == ("i", "float64")
    assert chain.kinds.itemsize == 1 and chain.nodes.itemsize <= 2
    records = result.records
    for mid, start, stop in zip(asked, chain.starts.tolist(), chain.stops.tolist(), strict=True):
        assert [records[p] for p in chain.positions[start:stop].tolist()] == \
            [r for r in records if r[2] == mid and r[1] in CHAIN_EVENTS]  # the message's records, in log order
    assert chain.starts[-1] == chain.stops[-1]


# ---- figures freed as they are drawn ------------------------------------------------------------


class _Node:
    def __init__(self) -> None:
        self.me = self  # a reference cycle: only the cyclic collector frees it


def test_a_block_frees_the_cycles_it_made_and_sets_nothing_aside_after_it() -> None:
    gc.disable()
    try:
        before = _Node()
        kept_before = weakref.ref(before)
        with collector.freeing_new_cycles() as free:
            made = _Node()
            gone = weakref.ref(made)
            del made, before
            assert gone() is not None  # a cycle waits for the collector
            free()
            assert gone() is None
            assert kept_before() is not None  # what existed before the block is not walked
        assert gc.get_freeze_count() == 0
        gc.collect()
        assert kept_before() is None
    finally:
        gc.enable()


def test_what_outlives_a_collection_is_not_walked_again_until_the_block_ends() -> None:
    gc.disable()
    try:
        with collector.freeing_new_cycles() as free:
            survivor = _Node()
            kept = weakref.ref(survivor)
            free()
            del survivor  # garbage now, but set aside by the first collection
            later = _Node()
            gone = weakref.ref(later)
            del later
            free()
            assert gone() is None  # made after the first collection: freed by the second
            assert kept() is not None  # set aside: not walked again
        assert gc.get_freeze_count() == 0
        gc.collect()
        assert kept() is None
    finally:
        gc.enable()


def test_a_block_leaves_what_a_program_froze_as_it_was() -> None:
    gc.disable()
    gc.freeze()
    try:
        frozen = gc.get_freeze_count()
        with collector.freeing_new_cycles() as free:
            made = _Node()
            gone = weakref.ref(made)
            del made
            free()
            assert gone() is not None  # left to the collector, as it was
        assert gc.get_freeze_count() == frozen
    finally:
        gc.unfreeze()
        gc.enable()


def test_drawing_the_plots_leaves_no_figure_in_memory() -> None:
    from matplotlib.figure import Figure

    result = run(load_scenario(SCENARIO))
    gc.disable()
    try:
        images = result.render_plots()
        assert len(images) >= 8
        assert not [o for o in gc.get_objects() if isinstance(o, Figure)]
    finally:
        gc.enable()


def test_the_tables_times_are_float64_columns_without_a_float_object_each() -> None:
    result = run(load_scenario(SCENARIO))
    deliveries, retrievals, queues = (result.tables.columns(name) for name in ("deliveries", "retrievals", "queues"))
    columns = [deliveries[name] for name in ("submitted_at", "delivered_at", "retrieved_at", "latency_s")]
    columns += [retrievals["retrieved_at"], queues["time"]]
    for column in columns:
        assert isinstance(column, FloatColumn)
        assert column.values.dtype == "float64" and column.values.nbytes == 8 * len(column)
    delivered = [status == "delivered" for status in deliveries["status"]]
    assert 0 < sum(delivered) < len(delivered)  # the outage bounced some mail: cells left empty
    assert [t is not None for t in deliveries["delivered_at"]] == delivered
    assert all(isinstance(t, float) for t in queues["time"])


def test_a_log_of_times_given_as_ints_keeps_its_tables_times_as_given() -> None:
    log = EventLog()
    log.append(0, "created", "m1", "mx", ("mail", "a@x", "a@x", ("b@y",), 10, 20, None, None))
    log.append(5, "delivered", "m1", "mx", ("b@y",))
    log.compact()
    from simulator.results import derive

    deliveries = derive(log.records).columns("deliveries")
    assert deliveries["submitted_at"] == [0] and type(deliveries["submitted_at"][0]) is int
    assert deliveries["delivered_at"] == [5] and type(deliveries["delivered_at"][0]) is int
