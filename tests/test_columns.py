"""The columnar pieces behind the result files: the CSV writer against the csv module, the
detail texts of many records against each record's fields, the log's columns and groups by
kind, the derived tables as columns and as rows, and the collector paused and resumed.
"""

from __future__ import annotations

import csv
import gc
import io
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import run_yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator import csv_columns, event_cells, load_scenario, results, run
from simulator.collector import paused
from simulator.event_cells import DetailCells
from simulator.eventkinds import detail_texts, text_fields
from simulator.float_column import FloatColumn
from simulator.logcolumns import EVENT, TIME, VALUES, LogColumns
from simulator.results import DELIVERY_COLUMNS, Tables, derive, write_events

ROOT = Path(__file__).parent.parent

cells = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True, allow_infinity=True),
    st.text(alphabet=st.sampled_from(list("ab ,\"\n\r=@.-é0")), max_size=8),
)


def csv_module_text(header: list[str], columns: list[list[Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(zip(*columns, strict=True))
    return out.getvalue()


@settings(max_examples=300, deadline=None)
@given(rows=st.integers(min_value=2, max_value=5).flatmap(
    lambda width: st.lists(st.lists(cells, min_size=width, max_size=width), max_size=12)), chunk_rows=st.integers(1, 4))
def test_the_columnar_writer_writes_what_the_csv_module_writes(rows: list[list[Any]], chunk_rows: int,
                                                               tmp_path_factory: pytest.TempPathFactory) -> None:
    width = len(rows[0]) if rows else 3
    header = [f"c{k}" for k in range(width)]
    columns = [[row[k] for row in rows] for k in range(width)]
    path = tmp_path_factory.mktemp("csv") / "t.csv"
    original = csv_columns.CHUNK_ROWS
    csv_columns.CHUNK_ROWS = chunk_rows  # several chunks, some with a carriage return and some without
    try:
        csv_columns.write_csv(path, header, columns)
    finally:
        csv_columns.CHUNK_ROWS = original
    assert path.read_bytes().decode() == csv_module_text(header, columns)


def test_columns_of_uneven_length_or_a_wrong_count_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="different lengths"):
        csv_columns.write_csv(tmp_path / "t.csv", ["a", "b"], [[1, 2], [1]])
    with pytest.raises(ValueError, match="2 columns for a header of 3"):
        csv_columns.write_csv(tmp_path / "t.csv", ["a", "b", "c"], [[1], [2]])
    assert not (tmp_path / "t.csv").exists()


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from([0.0, -0.0, 1.5, 604800.0123066081, 1e16, 1e-05, math.inf, -math.inf, math.nan]),
                max_size=40), st.integers(1, 5))
def test_a_column_of_floats_is_each_floats_repr(values: list[float], repeat: int) -> None:
    column = [v for v in values for _ in range(repeat)]  # runs of equal values, as times often come
    assert csv_columns.column_cells(column) == list(map(repr, column))
    # a float64 array gives the floats' own text (not numpy's scalar text, ``np.float64(1.5)``)
    known = np.array([not math.isnan(v) for v in column], dtype=np.bool_)
    texts = csv_columns.column_cells(FloatColumn(np.array(column, dtype=np.float64), known))
    assert texts == [repr(v) if not math.isnan(v) else "" for v in column]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(alphabet=st.sampled_from(list("ab ,\"\n\r=")), max_size=6), min_size=1, max_size=8))
def test_quoted_cells_are_the_csv_modules_cells(texts: list[str]) -> None:
    got = "".join(f"{cell},x\n" for cell in csv_columns.quote_cells(texts))
    assert got == csv_module_text(["a", "b"], [texts, ["x"] * len(texts)]).partition("\n")[2]


def test_columns_given_as_cells_are_written_as_they_are(tmp_path: Path) -> None:
    cells = csv_columns.quote_cells(["a,b", "c"])
    assert cells == ['"a,b"', "c"]
    with csv_columns.csv_file(tmp_path / "given.csv", ["n", "text"]) as write:
        write([[1, 2], cells], as_cells=(1,))
    with csv_columns.csv_file(tmp_path / "again.csv", ["n", "text"]) as write:
        write([[1, 2], cells])  # not said to be cells: quoted once more
    assert (tmp_path / "given.csv").read_text() == 'n,text\n1,"a,b"\n2,c\n'
    assert (tmp_path / "again.csv").read_text() == 'n,text\n1,"""a,b"""\n2,c\n'


@pytest.fixture(scope="module")
def varied_log() -> list[Any]:
    """Records of every kind the scenarios make between them: lists and aliases, outages, bounces."""
    records: list[Any] = []
    for name in ("mailing-list", "outage-retry", "capacity", "conversations"):
        records += run(load_scenario(ROOT / "scenarios" / f"{name}.yaml")).records
    return records


def test_detail_texts_are_each_records_fields_in_order(varied_log: list[Any]) -> None:
    log = LogColumns.of(varied_log)
    events, values = log.column(EVENT), log.column(VALUES)
    expected = [" ".join(f"{k}={v}" for k, v in text_fields(e, v).items()) for e, v in zip(events, values, strict=True)]
    assert detail_texts(events, values) == expected
    assert detail_texts(events, values, ((k, log.where(k)) for k in log.kinds)) == expected
    optional_absent = [t for e, t in zip(events, expected, strict=True) if e == "created" and "about=" not in t]
    assert optional_absent and any("about=" in t for t in expected)  # both shapes of an optional field occur


def test_detail_texts_leave_a_record_in_no_group_empty() -> None:
    events = ["enqueued", "delivered", "enqueued"]
    values = [(3,), ("a@x",), (4,)]
    assert detail_texts(events, values, [("enqueued", [2, 0])]) == ["queue=3", "", "queue=4"]
    assert detail_texts(events, values) == ["queue=3", "rcpt=a@x", "queue=4"]


@pytest.mark.parametrize(("part", "kept"), [(7, event_cells.KEPT_CELLS), (1000, event_cells.KEPT_CELLS), (500, 5)])
def test_detail_cells_are_the_quoted_detail_texts(varied_log: list[Any], part: int, kept: int,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """Made a part at a time, kept by values, and started again when full (``kept`` 5): the same cells."""
    monkeypatch.setattr(event_cells, "KEPT_CELLS", kept)
    log = LogColumns.of(varied_log)
    events, values = log.column(EVENT), log.column(VALUES)
    cells = DetailCells()
    got = [cell for start in range(0, len(events), part)
           for cell in cells(events[start:start + part], values[start:start + part])]
    assert got == csv_columns.quote_cells(detail_texts(events, values))
    assert len(cells._held) <= kept
    assert any(cell.startswith('"') for cell in got)  # some quoted: lists of several recipients


def test_detail_cells_of_one_values_tuple_in_two_kinds_are_each_kinds() -> None:
    shared = ("a@x", ("b@x", "c@x"))
    cells = DetailCells()
    assert cells(["accepted", "bounce_sent"], [shared, shared]) == ['"from=a@x rcpts=b@x,c@x"',
                                                                    '"dsn=a@x rcpts=b@x,c@x"']
    assert cells(["bounce_sent", "accepted"], [shared, shared]) == ['"dsn=a@x rcpts=b@x,c@x"',
                                                                    '"from=a@x rcpts=b@x,c@x"']


def test_detail_cells_hold_the_values_they_keep_so_that_no_other_values_take_their_id() -> None:
    cells = DetailCells()
    for length in range(200):  # values made and dropped: without the hold, a new tuple would soon reuse an id
        assert cells(["enqueued"], [(length,)]) == [f"queue={length}"]


def test_the_log_columns_group_every_record_by_kind_in_log_order(varied_log: list[Any]) -> None:
    log = LogColumns.of(varied_log)
    assert len(log) == len(varied_log)
    assert sum(len(log.where(k)) for k in log.kinds) == len(varied_log) == len(log)
    assert set(log.kinds) == {r[1] for r in varied_log}
    for kinds in (("delivered",), ("enqueued", "dequeued"), ("expanded", "bounced", "deferred"), ("no-such",)):
        assert log.where(*kinds) == [i for i, r in enumerate(varied_log) if r[1] in kinds]
    assert log.count("created") == sum(r[1] == "created" for r in varied_log) > 0
    assert log.rows("bounced", "deferred") == [r for r in varied_log if r[1] in ("bounced", "deferred")]
    assert log.column(TIME, log.rows("delivered")) == [r[0] for r in varied_log if r[1] == "delivered"]
    assert LogColumns.of([]).where("created") == []


def test_positions_in_parts_are_the_positions_in_order(varied_log: list[Any]) -> None:
    log = LogColumns.of(varied_log)
    for kinds in (("delivered",), ("enqueued", "dequeued", "bounced", "refused"), ("no-such",)):
        for part in (1, 3, 1_000_000):
            parts = list(log.where_in_parts(*kinds, part=part))
            assert all(0 < len(p) <= part for p in parts)
            assert [i for p in parts for i in p] == log.where(*kinds)


def test_servers_csv_is_the_same_read_in_small_parts(monkeypatch: pytest.MonkeyPatch) -> None:
    """The server loads walk the queue changes and refusals a part at a time: parts of 7 records
    give the rows that one part of all of them gives."""
    text = (ROOT / "scenarios" / "provider-day.yaml").read_text()
    whole = run(load_scenario(text)).server_rows
    plain = LogColumns.where_in_parts

    def small(self: LogColumns, *kinds: str, part: int = 7) -> Any:
        return plain(self, *kinds, part=7)

    monkeypatch.setattr(LogColumns, "where_in_parts", small)
    assert run(load_scenario(text)).server_rows == whole
    assert any(r["queue_max"] for r in whole) and any(r["refused_421"] for r in whole if "refused_421" in r)


def test_events_csv_is_the_records_as_the_csv_module_writes_them(varied_log: list[Any], tmp_path: Path) -> None:
    write_events(tmp_path / "events.csv", varied_log)
    rows = list(csv.reader(io.StringIO((tmp_path / "events.csv").read_text())))
    assert rows[0] == ["time", "event", "message_id", "node", "detail"]
    assert len(rows) == len(varied_log) + 1
    assert any("," in row[4] for row in rows)  # quoted detail cells read back whole
    assert [(float(r[0]), r[1], r[2], r[3]) for r in rows[1:]] == [r[:4] for r in varied_log]


def test_events_csv_written_in_parts_is_the_same_file(varied_log: list[Any], tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    write_events(tmp_path / "whole.csv", varied_log)
    monkeypatch.setattr(results, "EVENT_CHUNK_RECORDS", 1000)
    write_events(tmp_path / "parts.csv", varied_log)
    assert len(varied_log) > 3000
    assert (tmp_path / "parts.csv").read_bytes() == (tmp_path / "whole.csv").read_bytes()


def test_tables_as_columns_and_as_rows_agree() -> None:
    result = run(load_scenario(ROOT / "scenarios" / "mailing-list.yaml"))
    tables = derive(result.records, sorted(result.scenario.servers))
    assert tables == derive(LogColumns.of(result.records), sorted(result.scenario.servers))
    deliveries = tables.columns("deliveries")
    assert tables.deliveries[0] == {name: deliveries[name][0] for name in DELIVERY_COLUMNS}
    assert len(tables.deliveries) == len(deliveries["message_id"]) > 0
    again = Tables.of_rows(tables.deliveries, tables.retrievals, tables.queues)
    assert again == tables and again is not tables
    assert again != Tables.of_rows(tables.deliveries[1:], tables.retrievals, tables.queues)
    assert "deliveries=" in repr(tables)


def test_an_empty_log_derives_empty_tables_with_every_column() -> None:
    tables = derive([], ["mx.a"])
    assert tables.deliveries == [] and tables.retrievals == []
    assert tables.queues == [{"time": 0.0, "server": "mx.a", "queue_length": 0}]
    assert tuple(tables.columns("deliveries")) == DELIVERY_COLUMNS


def test_the_collector_pauses_in_the_block_and_resumes_even_after_an_error() -> None:
    assert gc.isenabled()
    with pytest.raises(RuntimeError), paused():
        assert not gc.isenabled()
        with paused():  # nested: still paused after the inner block
            pass
        assert not gc.isenabled()
        raise RuntimeError("stop")
    assert gc.isenabled()


def test_what_the_paused_block_kept_is_not_walked_by_a_young_collection_and_its_cycles_are_still_freed() -> None:
    class Node:
        def __init__(self) -> None:
            self.me = self

    gc.collect()
    with paused():
        kept = [(str(i), i) for i in range(5000)]  # tracked tuples, the kind the event log keeps
        for _ in range(100):
            Node()  # a reference cycle that only the collector can free
    young_collections = gc.get_stats()[0]["collections"]
    more = [[i] for i in range(2000)]  # allocations after the block: young collections run again
    assert gc.get_stats()[0]["collections"] > young_collections and len(more) == 2000
    # but none walked what the block kept: a collection that did would have stopped tracking
    # these tuples (they hold no container)
    assert all(gc.is_tracked(t) for t in kept)
    assert gc.collect() >= 100  # every Node: found by a full collection


def test_a_small_run_saves_the_same_files_through_rows_and_columns(tmp_path: Path) -> None:
    """The table's rows, gathered into columns again (as the load tables are), give the same text."""
    result = run_yaml(ROOT.joinpath("scenarios", "quickstart.yaml").read_text())
    folder = result.save(tmp_path / "out", with_plots=False)
    again = csv_columns.columns_of(result.tables.deliveries, DELIVERY_COLUMNS)
    csv_columns.write_csv(tmp_path / "again.csv", DELIVERY_COLUMNS, again)
    assert (tmp_path / "again.csv").read_bytes() == (folder / "deliveries.csv").read_bytes()
