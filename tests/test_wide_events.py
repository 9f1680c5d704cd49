"""The event log as a wide table (a column per field) and the Parquet files written from columns."""

from __future__ import annotations

from pathlib import Path

import pytest

from simulator import load_scenario, parquet_io, run
from simulator.eventkinds import FIELD_TYPES, KINDS
from simulator.float_column import FloatColumn
from simulator.logcolumns import LogColumns
from simulator.results import derive
from simulator.wide_events import BASE_COLUMNS, wide_columns

SCENARIOS = Path(__file__).resolve().parents[1] / "scenarios"


@pytest.fixture(scope="module")
def log() -> LogColumns:
    return LogColumns.of(run(load_scenario(SCENARIOS / "outage-retry.yaml")).records)


def _by_hand(records: list[tuple]) -> dict[str, list]:  # type: ignore[type-arg]
    """The wide table made a record and a field at a time."""
    wide: dict[str, list] = {name: [] for name in (*BASE_COLUMNS, *FIELD_TYPES)}  # type: ignore[type-arg]
    for time_s, event, message_id, node, values in records:
        for name, value in zip(BASE_COLUMNS, (time_s, event, message_id, node), strict=True):
            wide[name].append(value)
        named = {f.name: v for f, v in zip(KINDS[event].fields, values, strict=True)}
        for name in FIELD_TYPES:
            wide[name].append(named.get(name))
    return wide


def test_every_records_fields_sit_in_their_columns(log: LogColumns) -> None:
    records = log.rows_at(range(len(log)))
    wide = wide_columns(log)
    expected = _by_hand(records)
    assert len(log.kinds) > 5  # many kinds, so many fields are laid out side by side
    for name in BASE_COLUMNS:
        assert wide[name] == expected[name]
    for name in FIELD_TYPES:
        if name in wide:
            assert wide[name] == expected[name], name
        else:  # a field of no kind in the log: its column would be empty throughout
            assert all(v is None for v in expected[name]), name
    assert any(isinstance(v, tuple) and v for v in wide["to"])  # lists kept as tuples


def test_a_part_is_that_slice_of_the_whole(log: LogColumns) -> None:
    whole = wide_columns(log)
    start, stop = 17, 53
    part = wide_columns(log, start, stop)
    assert len(part["time"]) == stop - start
    for name, column in part.items():
        assert column == whole[name][start:stop], name
    kinds_in_part = set(part["event"])
    assert kinds_in_part < set(log.kinds)  # a part has fewer kinds than the log ...
    fields_in_part = {f.name for kind in kinds_in_part for f in KINDS[kind].fields}
    assert set(part) - set(BASE_COLUMNS) == fields_in_part  # ... and only those kinds' fields
    assert wide_columns(log, len(log), len(log) + 5)["time"] == []


def test_events_parquet_written_in_small_batches_reads_back_as_the_log(
        log: LogColumns, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parquet_io, "BATCH_ROWS", 7)  # many batches, with kinds and fields missing from some
    path = tmp_path / "events.parquet"
    parquet_io.write_records(path, log)
    assert parquet_io.read_records(path) == log.rows_at(range(len(log)))


def test_a_float_column_with_empty_cells_goes_to_parquet_as_nulls(
        log: LogColumns, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parquet_io, "BATCH_ROWS", 3)
    deliveries = derive(log).columns("deliveries")
    delivered = deliveries["delivered_at"]
    assert isinstance(delivered, FloatColumn) and None in delivered and len(delivered) > 6  # bounced pairs
    path = tmp_path / "deliveries.parquet"
    parquet_io.write_columns(path, "deliveries", deliveries)
    rows = parquet_io.read_rows(path, "deliveries")
    for name, column in deliveries.items():
        assert [row[name] for row in rows] == list(column), name


def test_an_unknown_kind_in_events_parquet_is_named_with_its_row(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = parquet_io.events_schema()
    rows = [{"time": 1.0, "event": "created", "message_id": "m1", "node": "a"},
            {"time": 2.0, "event": "teleported", "message_id": "m1", "node": "b"}]
    path = tmp_path / "events.parquet"
    pq.write_table(pa.Table.from_pylist([{name: row.get(name) for name in schema.names} for row in rows],
                                        schema=schema), path)
    with pytest.raises(ValueError, match=r"row 1: unknown event 'teleported'"):
        parquet_io.read_records(path)


def test_records_read_back_share_one_string_per_message_and_node(log: LogColumns, tmp_path: Path) -> None:
    path = tmp_path / "events.parquet"
    parquet_io.write_records(path, log)
    records = parquet_io.read_records(path)
    ids = [r[2] for r in records]
    assert len({id(i) for i in ids}) == len(set(ids)) < len(ids)
    assert len({id(r[3]) for r in records}) == len({r[3] for r in records})
