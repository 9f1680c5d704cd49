"""The result tables as Parquet files, through pyarrow (imported here only, when a table is
written or read as Parquet).

Each table's Arrow schema follows :data:`simulator.table_schema.TABLES`: strings as ``string``,
counts as ``int64``, times and durations as ``float64`` (null where the CSV cell is empty). The
files are written without timestamps or pandas metadata, so the same run gives byte-identical
files under the same pyarrow version.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from .eventlog import Record
from .table_schema import FLOAT64, INT64, STRING, TABLES

__all__ = ["PYARROW_HINT", "arrow_schema", "read_records", "read_rows", "write_records", "write_rows"]

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
    """The ``pyarrow.Schema`` of ``table`` (a name of :data:`~simulator.table_schema.TABLES`)."""
    pa, _ = _arrow()
    types = {STRING: pa.string(), INT64: pa.int64(), FLOAT64: pa.float64()}
    return pa.schema([pa.field(c.name, types[c.type], nullable=c.nullable) for c in TABLES[table]])


BATCH_ROWS = 100_000
"""Rows converted to Arrow at a time (each batch is a row group), so writing a large table holds
one batch of columns in memory beside the rows, not a copy of the whole table."""


def _write(path: Path, table: str, rows: Sequence[Any], columns: Callable[[Sequence[Any]], list[list[Any]]]) -> None:
    """Write ``rows`` as ``path`` in batches; ``columns`` turns a batch of rows into its columns."""
    pa, pq = _arrow()
    schema = arrow_schema(table)
    with pq.ParquetWriter(path, schema) as writer:
        for start in range(0, max(len(rows), 1), BATCH_ROWS):
            batch = columns(rows[start:start + BATCH_ROWS])
            arrays = [pa.array(values, type=field.type) for values, field in zip(batch, schema, strict=True)]
            writer.write_table(pa.Table.from_arrays(arrays, schema=schema))


def write_rows(path: Path, table: str, rows: Sequence[dict[str, Any]]) -> None:
    """Write the rows (dicts keyed by column name) of a derived table as ``path``."""
    names = [c.name for c in TABLES[table]]
    _write(path, table, rows, lambda batch: [[row[name] for row in batch] for name in names])


def write_records(path: Path, records: Sequence[Record]) -> None:
    """Write event-log records as ``path`` (the columns of events.csv)."""
    width = len(TABLES["events"])
    _write(path, "events", records,
           lambda batch: [list(column) for column in zip(*batch, strict=True)] if batch else [[]] * width)


def _read(path: Path, table: str) -> Any:
    _, pq = _arrow()
    try:
        data = pq.read_table(path)
    except Exception as error:  # pyarrow raises its own errors for a file that is not Parquet
        raise ValueError(f"{path}: not a Parquet file ({error})") from None
    expected = arrow_schema(table)
    if data.schema.names != expected.names or data.schema.types != expected.types:
        raise ValueError(f"{path}: not a {table} table (columns {data.schema.names!r})")
    return data


def read_rows(path: Path, table: str) -> list[dict[str, Any]]:
    """The rows of a table written by :func:`write_rows`, as the derivation makes them."""
    rows: list[dict[str, Any]] = _read(path, table).to_pylist()
    return rows


def read_records(path: Path) -> list[Record]:
    """The records of an events.parquet written by :func:`write_records`."""
    data = _read(path, "events")
    return list(zip(*(data.column(i).to_pylist() for i in range(data.num_columns)), strict=True))
