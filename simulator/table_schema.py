"""The result tables' columns and types: one schema for the CSV files read back, the Parquet files
and the pandas DataFrames.

Each table (``deliveries``, ``retrievals``, ``queues``, ``events``, and the load tables ``links`` and
``servers``) is a tuple of columns, each
with a type: ``string``, ``int64`` or ``float64``, and whether it may be empty (a CSV's empty
cell, Parquet's null, pandas' NaN). A time that has not happened (``delivered_at`` of a bounced
pair) is empty; an empty string column (``code`` of a pair never tried) is the empty string,
not null.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from .loads import LINK_COLUMNS, SERVER_COLUMNS
from .results import DELIVERY_COLUMNS, EVENT_COLUMNS, QUEUE_COLUMNS, RETRIEVAL_COLUMNS

__all__ = ["FLOAT64", "INT64", "STRING", "TABLES", "Column", "dtypes", "typed"]

STRING, INT64, FLOAT64 = "string", "int64", "float64"


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    nullable: bool = False


def _table(names: tuple[str, ...], types: dict[str, str], nullable: frozenset[str] = frozenset()) -> tuple[Column, ...]:
    return tuple(Column(n, types.get(n, STRING), n in nullable) for n in names)


TABLES: dict[str, tuple[Column, ...]] = {
    "deliveries": _table(DELIVERY_COLUMNS, {
        "size_bytes": INT64, "wire_bytes": INT64, "submitted_at": FLOAT64, "delivered_at": FLOAT64,
        "retrieved_at": FLOAT64, "attempts": INT64, "latency_s": FLOAT64, "duplicates": INT64,
    }, frozenset({"delivered_at", "retrieved_at", "latency_s"})),
    "retrievals": _table(RETRIEVAL_COLUMNS, {"device": INT64, "retrieved_at": FLOAT64}),
    "queues": _table(QUEUE_COLUMNS, {"time": FLOAT64, "queue_length": INT64}),
    "events": _table(EVENT_COLUMNS, {"time": FLOAT64}),
    "links": _table(LINK_COLUMNS, {"time": FLOAT64, "duration_s": FLOAT64, "bytes": FLOAT64, "throughput_bps": FLOAT64,
                                   "utilisation": FLOAT64}, frozenset({"utilisation"})),
    "servers": _table(SERVER_COLUMNS, {"time": FLOAT64, "duration_s": FLOAT64,
                                       **dict.fromkeys(SERVER_COLUMNS[3:], INT64)}),
}
"""Every table's columns, in file order."""


def dtypes(table: str) -> dict[str, str]:
    """The pandas dtypes of ``table``'s numeric columns (the string columns stay objects)."""
    return {c.name: c.type for c in TABLES[table] if c.type != STRING}


_PARSE = {STRING: str, INT64: int, FLOAT64: float}


def typed(table: str, header: list[str], rows: Iterable[list[str]]) -> list[dict[str, Any]]:
    """The CSV rows (after ``header``) of ``table`` as the rows the derivation makes: numbers
    parsed, empty cells of nullable columns None. Raises ValueError for a header that is not the
    table's, a row of another length, or a cell that is not of its column's type."""
    columns = TABLES[table]
    if header != [c.name for c in columns]:
        raise ValueError(f"not a {table} table (header {header!r})")
    parsers = [(c.name, _PARSE[c.type], c.nullable) for c in columns]
    out = []
    for line, cells in enumerate(rows, start=2):
        if len(cells) != len(parsers):
            raise ValueError(f"line {line}: expected {len(parsers)} columns, got {len(cells)}")
        try:
            out.append({name: None if nullable and text == "" else parse(text)
                        for (name, parse, nullable), text in zip(parsers, cells, strict=True)})
        except ValueError as error:
            raise ValueError(f"line {line}: {error}") from None
    return out
