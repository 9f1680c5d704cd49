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
from itertools import repeat
from pathlib import Path
from typing import Any

from . import eventkinds
from .eventlog import Record
from .float_column import FloatColumn
from .logcolumns import LogColumns
from .table_schema import FLOAT64, INT64, STRING, TABLES
from .wide_events import BASE_COLUMNS, wide_columns

__all__ = ["PYARROW_HINT", "arrow_schema", "events_schema", "read_records", "read_rows", "write_columns",
           "write_records"]

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
            *(pa.field(name, pa.string(), nullable=False) for name in BASE_COLUMNS[1:])]
    return pa.schema([*base, *(pa.field(name, types[type_]) for name, type_ in eventkinds.FIELD_TYPES.items())])


BATCH_ROWS = 100_000
"""Rows converted to Arrow at a time (each batch is a row group), so writing a large table holds
one batch of columns in memory beside the table, not a copy of the whole of it."""


def _write(path: Path, schema: Any, rows: int, batch: Callable[[int, int], list[Any]]) -> None:
    """Write a table of ``rows`` rows as ``path`` in batches; ``batch(start, stop)`` gives those
    rows' columns, in the schema's order (a :class:`FloatColumn` goes to Arrow as its array)."""
    pa, pq = _arrow()
    with pq.ParquetWriter(path, schema) as writer:
        for start in range(0, max(rows, 1), BATCH_ROWS):
            columns = batch(start, min(start + BATCH_ROWS, rows))
            arrays = [_array(pa, values, field.type) for values, field in zip(columns, schema, strict=True)]
            writer.write_table(pa.Table.from_arrays(arrays, schema=schema))


def _array(pa: Any, values: Any, type_: Any) -> Any:
    """``values`` as an Arrow array of ``type_``: a :class:`FloatColumn` from its float64 array,
    its empty cells null (no float object made per value); a count, that many nulls."""
    if isinstance(values, FloatColumn):
        return pa.array(values.values, type=type_, mask=None if values.known is None else ~values.known)
    if isinstance(values, int):
        return pa.nulls(values, type=type_)
    return pa.array(values, type=type_)


def write_columns(path: Path, table: str, data: Mapping[str, Sequence[Any]]) -> None:
    """Write a derived table given as columns (sequences by column name) as ``path``."""
    names = [c.name for c in TABLES[table]]

    def batch(start: int, stop: int) -> list[Any]:
        return [data[name][start:stop] if isinstance(data[name], FloatColumn) else list(data[name][start:stop])
                for name in names]

    _write(path, arrow_schema(table), len(data[names[0]]), batch)


def write_records(path: Path, log: LogColumns) -> None:
    """Write the records of an event log as ``path``, one typed column per field."""
    names = [*BASE_COLUMNS, *eventkinds.FIELD_TYPES]

    def batch(start: int, stop: int) -> list[Any]:
        wide = wide_columns(log, start, stop)
        return [wide.get(name, stop - start) for name in names]  # a count: a field these records lack

    _write(path, events_schema(), len(log), batch)


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
    """The records of an events.parquet written by :func:`write_records`, typed as the run made them.

    Read a kind at a time: each kind's records are found by their ``event`` codes, and only the
    columns of that kind's fields are read at their rows. A kind, a node or a message id is one
    string object however many records name it (as in a run's own log)."""
    import numpy as np

    pa, _ = _arrow()
    data = _read(path, events_schema(), "an event log")
    codes, kinds = _coded(pa, data.column("event"))
    for code, kind in enumerate(kinds):
        if kind not in eventkinds.KINDS:
            raise ValueError(f"{path}: row {int(np.flatnonzero(codes == code)[0])}: unknown event {kind!r}")
    values = np.empty(len(codes), dtype=object)
    for code, kind in enumerate(kinds):
        at = np.flatnonzero(codes == code)
        rows = pa.array(at)
        fields = [_python(data.column(f.name).take(rows), f.name) for f in eventkinds.KINDS[kind].fields]
        values[at] = np.fromiter(zip(*fields, strict=True) if fields else repeat((), len(at)), dtype=object,
                                 count=len(at))
    named = [np.array(names, dtype=object)[numbers].tolist()
             for numbers, names in (_coded(pa, data.column(name)) for name in BASE_COLUMNS[1:])]
    return list(zip(data.column("time").to_pylist(), *named, values.tolist(), strict=True))


def _coded(pa: Any, column: Any) -> tuple[Any, list[str]]:
    """A column of strings as each row's number (a numpy array) in the list of its distinct strings."""
    import pyarrow.compute as pc

    distinct = pc.unique(column)
    numbers = pc.index_in(column, value_set=distinct).to_numpy()
    return numbers, distinct.to_pylist()


def _python(column: Any, name: str) -> list[Any]:
    """The Python values of an event field's column as a run logs them (a list as a tuple)."""
    values: list[Any] = column.to_pylist()
    if eventkinds.FIELD_TYPES[name] == eventkinds.LIST:
        return [None if v is None else tuple(v) for v in values]
    return values
