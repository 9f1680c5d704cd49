"""The result tables as files in a result folder: written as CSV, Parquet or both (``--format``),
the event log as much of it as ``--events`` keeps, and read back from whichever format a folder
has (CSV first, as it is the default).
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from . import results
from .collector import while_paused
from .csv_columns import columns_by_name
from .eventkinds import parse_detail
from .eventlog import Record
from .events_filter import EventsChoice
from .loads import LINK_COLUMNS, SERVER_COLUMNS
from .logcolumns import LogColumns, log_columns
from .table_schema import typed

__all__ = ["DEFAULT_FORMAT", "FORMATS", "LOAD_TABLE_NAMES", "TABLE_NAMES", "extensions", "has_table", "read_events",
           "read_records", "read_table", "write_tables"]

FORMATS: dict[str, tuple[str, ...]] = {"csv": ("csv",), "parquet": ("parquet",), "both": ("csv", "parquet")}
"""``--format`` choices and the file extensions each writes."""
DEFAULT_FORMAT = "csv"
TABLE_NAMES = ("deliveries", "retrievals", "queues")
"""The derived tables (the event log is ``events``)."""
LOAD_TABLE_NAMES = ("links", "servers")
"""The load tables (:mod:`simulator.loads`), in a folder whose run counted them."""
_COLUMNS = {"deliveries": results.DELIVERY_COLUMNS, "retrievals": results.RETRIEVAL_COLUMNS,
            "queues": results.QUEUE_COLUMNS, "links": LINK_COLUMNS, "servers": SERVER_COLUMNS}


def extensions(fmt: str) -> tuple[str, ...]:
    """The extensions ``fmt`` writes; ValueError for an unknown format."""
    try:
        return FORMATS[fmt]
    except KeyError:
        raise ValueError(f"unknown format {fmt!r}: give one of {', '.join(FORMATS)}") from None


@while_paused
def write_tables(folder: Path, tables: results.Tables, records: Sequence[Record] | LogColumns, events: EventsChoice,
                 fmt: str, step: Callable[[str, str], None],
                 load_tables: Mapping[str, Sequence[dict[str, Any]]] | None = None) -> None:
    """Write the derived tables, the load tables (``load_tables``, by name) and the event log (as
    ``events`` keeps it) in ``fmt`` into ``folder``."""
    exts = extensions(fmt)
    named: list[tuple[str, results.Columns]] = [(name, tables.columns(name)) for name in TABLE_NAMES]
    named += [(name, columns_by_name(rows, _COLUMNS[name])) for name, rows in (load_tables or {}).items()]
    for name, data in named:
        for ext in exts:
            step("write", f"{name}.{ext}")
            if ext == "csv":
                results.write_table(folder / f"{name}.csv", _COLUMNS[name], data)
            else:
                from .parquet_io import write_columns

                write_columns(folder / f"{name}.parquet", name, data)
    if not events.writes_file:
        return
    log = log_columns(records)
    kept = log if events.kinds is None else log.subset(*events.kinds)  # the kinds' fields picked by a mask
    for ext in exts:
        step("write", f"events.{ext}")
        if ext == "csv":
            results.write_events(folder / "events.csv", kept)
        else:
            from .parquet_io import write_records

            write_records(folder / "events.parquet", kept)


def _file(folder: Path, name: str) -> Path | None:
    """The file of table ``name`` in ``folder``: the CSV if there is one, else the Parquet, else None."""
    return next((p for p in (folder / f"{name}.csv", folder / f"{name}.parquet") if p.is_file()), None)


def has_table(folder: Path, name: str) -> bool:
    """Whether ``folder`` holds table ``name`` in either format."""
    return _file(folder, name) is not None


def read_table(folder: str | Path, name: str) -> list[dict[str, Any]]:
    """The rows of a derived table (deliveries, retrievals, queues, links, servers) of the result
    folder ``folder``, typed as the derivation makes them. Raises FileNotFoundError when the folder
    has neither file, ValueError for a bad one or for ``events`` (the log: :func:`read_records`)."""
    if name == "events":
        raise ValueError("the event log is not a derived table: read its records with read_records(folder)")
    folder = Path(folder)
    path = _file(folder, name)
    if path is None:
        raise FileNotFoundError(f"{folder} is not a result folder: {name}.csv is missing")
    if path.suffix == ".parquet":
        from .parquet_io import read_rows

        return read_rows(path, name)
    with open(path, newline="") as f:
        reader = csv.reader(f)
        header = next(reader, [])
        try:
            return typed(name, header, reader)
        except ValueError as error:
            raise ValueError(f"{path}: {error}") from None


def read_records(folder: str | Path) -> list[Record] | None:
    """The event log of the result folder ``folder`` (from events.csv or events.parquet), or None
    when it has neither."""
    path = _file(Path(folder), "events")
    if path is None:
        return None
    if path.suffix == ".parquet":
        from .parquet_io import read_records as read_parquet_records

        return read_parquet_records(path)
    return read_events(path)


def read_events(path: Path) -> list[Record]:
    """The records of an events.csv (times parsed with ``float``, details read back into typed values).

    A ``detail`` text is parsed once per kind however many records repeat it (most do: a
    recipient's deliveries, a queue's lengths), and records with the same text share its values;
    a kind, a message id or a node is one string shared by every record that names it, as in a
    run's own log."""
    with open(path, newline="") as f:
        reader = csv.reader(f)
        header = next(reader, None)
        if header is None or tuple(header) != results.EVENT_COLUMNS:
            raise ValueError(f"{path}: not an event log (header {header!r})")
        records: list[Record] = []
        parsed: dict[tuple[str, str], tuple[Any, ...]] = {}
        strings: dict[str, str] = {}
        share = strings.setdefault
        for line, row in enumerate(reader, start=2):
            if len(row) != len(results.EVENT_COLUMNS):
                raise ValueError(f"{path}:{line}: expected {len(results.EVENT_COLUMNS)} columns, got {len(row)}")
            time_text, event, message_id, node, detail = row
            try:
                values = parsed.get((event, detail))
                if values is None:
                    values = parsed[event, detail] = parse_detail(event, detail)
                records.append((float(time_text), share(event, event), share(message_id, message_id),
                                share(node, node), values))
            except (KeyError, ValueError) as e:
                raise ValueError(f"{path}:{line}: not an event record ({e})") from None
    return records
