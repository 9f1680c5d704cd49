"""The result tables as Parquet files, through pyarrow (imported here only, when a table is
written or read as Parquet).

Each derived table's Arrow schema follows :data:`simulator.table_schema.TABLES`: strings as
``string``, counts as ``int64``, times and durations as ``float64`` (null where the CSV cell is
empty). ``events.parquet`` is the log as one wide typed table (:func:`events_schema`): ``time``,
``event``, ``message_id``, ``node``, then one column per field of the event schema
(:data:`simulator.eventkinds.FIELD_TYPES`: text as ``string``, int as ``int64``, float as
``float64``, list as ``list<string>``, flag as ``bool``), null where a record's kind lacks the
field; it reads back into the same typed records. The files are written without timestamps or
pandas metadata, so the same run gives byte-identical files under the same pyarrow version.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from . import eventkinds
from .eventlog import Record
from .table_schema import FLOAT64, INT64, STRING, TABLES

__all__ = ["PYARROW_HINT", "arrow_schema", "events_schema", "read_records", "read_rows", "write_columns",
           "write_records"]

EVENT_COLUMNS = ("time", "event", "message_id", "node")
"""The columns of events.parquet before one column per field."""

PYARROW_HINT = "pyarrow is needed for Parquet files; install it with: pip install 'pyarrow>=15'"


def _arrow() -> tuple[Any, Any]:
    """pyarrow and pyarrow.parquet."""
    try:
        import pyarrow
        import pyarrow.parquet
    except ImportError as error:
        raise ImportError(PYARROW_HINT) from error
    return pyarrow, pyarrow.parquet


def arrow_schema(table: str) -> Any:
    """The ``pyarrow.Schema`` of a derived ``table`` (``deliveries``, ``retrievals``, ``queues``)."""
    pa, _ = _arrow()
    types = {STRING: pa.string(), INT64: pa.int64(), FLOAT64: pa.float64()}
    return pa.schema([pa.field(c.name, types[c.type], nullable=c.nullable) for c in TABLES[table]])


def events_schema() -> Any:
    """The ``pyarrow.Schema`` of events.parquet (see the module's docstring)."""
    pa, _ = _arrow()
    types = {eventkinds.TEXT: pa.string(), eventkinds.INT: pa.int64(), eventkinds.FLOAT: pa.float64(),
             eventkinds.LIST: pa.list_(pa.string()), eventkinds.FLAG: pa.bool_()}
    base = [pa.field("time", pa.float64(), nullable=False),
            *(pa.field(name, pa.string(), nullable=False) for name in EVENT_COLUMNS[1:])]
    return pa.schema([*base, *(pa.field(name, types[type_]) for name, type_ in eventkinds.FIELD_TYPES.items())])


BATCH_ROWS = 100_000
"""Rows converted to Arrow at a time (each batch is a row group), so writing a large table holds
one batch of columns in memory beside the rows, not a copy of the whole table."""


def _write(path: Path, schema: Any, rows: Sequence[Any], columns: Callable[[Sequence[Any]], list[list[Any]]]) -> None:
    """Write ``rows`` as ``path`` in batches; ``columns`` turns a batch of rows into its columns."""
    pa, pq = _arrow()
    with pq.ParquetWriter(path, schema) as writer:
        for start in range(0, max(len(rows), 1), BATCH_ROWS):
            batch = columns(rows[start:start + BATCH_ROWS])
            arrays = [pa.array(values, type=field.type) for values, field in zip(batch, schema, strict=True)]
            writer.write_table(pa.Table.from_arrays(arrays, schema=schema))


def write_columns(path: Path, table: str, data: Mapping[str, Sequence[Any]]) -> None:
    """Write a derived table given as columns (lists by column name) as ``path``."""
    names = [c.name for c in TABLES[table]]

    def columns(batch: Sequence[int]) -> list[list[Any]]:  # a range of row numbers
        start = batch[0] if len(batch) else 0
        return [list(data[name][start:start + len(batch)]) for name in names]

    _write(path, arrow_schema(table), range(len(data[names[0]])), columns)


def write_records(path: Path, records: Sequence[Record]) -> None:
    """Write event-log records as ``path``, one typed column per field."""
    names = [*EVENT_COLUMNS, *eventkinds.FIELD_TYPES]

    def columns(batch: Sequence[Record]) -> list[list[Any]]:
        wide = eventkinds.columns(batch)
        return [wide[name] for name in names]

    _write(path, events_schema(), records, columns)


def _read(path: Path, schema: Any, what: str) -> Any:
    _, pq = _arrow()
    try:
        data = pq.read_table(path)
    except Exception as error:  # pyarrow raises its own errors for a file that is not Parquet
        raise ValueError(f"{path}: not a Parquet file ({error})") from None
    if data.schema.names != schema.names or data.schema.types != schema.types:
        raise ValueError(f"{path}: not {what} (columns {data.schema.names!r})")
    return data


def read_rows(path: Path, table: str) -> list[dict[str, Any]]:
    """The rows of a table written by :func:`write_columns`, as the derivation makes them."""
    rows: list[dict[str, Any]] = _read(path, arrow_schema(table), f"a {table} table").to_pylist()
    return rows


def read_records(path: Path) -> list[Record]:
    """The records of an events.parquet written by :func:`write_records`, typed as the run made them."""
    data = _read(path, events_schema(), "an event log")
    column = {name: data.column(name).to_pylist() for name in data.schema.names}
    lists = {name for name, type_ in eventkinds.FIELD_TYPES.items() if type_ == eventkinds.LIST}
    for name in lists:
        column[name] = [None if v is None else tuple(v) for v in column[name]]
    fields = {name: [column[f.name] for f in kind.fields] for name, kind in eventkinds.KINDS.items()}
    records: list[Record] = []
    for i, (time_s, event, message_id, node) in enumerate(zip(*(column[n] for n in EVENT_COLUMNS), strict=True)):
        if event not in fields:
            raise ValueError(f"{path}: row {i}: unknown event {event!r}")
        records.append((time_s, event, message_id, node, tuple(values[i] for values in fields[event])))
    return records
