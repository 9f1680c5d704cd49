"""The event log as one wide table, a column per field, gathered kind by kind.

``events.parquet`` and :attr:`simulator.runner.Result.events` show the log as one wide table:
``time``, ``event``, ``message_id``, ``node``, then a column per field name of the event schema
(:data:`simulator.eventkinds.FIELD_TYPES`), empty (None) where a record's kind lacks the field.
The records of one kind share their fields, so a part of the log is laid out a kind at a time:
the positions of the kind's records (from the log's kind codes, a numpy comparison), their
values gathered with one C call, split into the kind's fields by ``zip`` and put in place in each
field's column by numpy. No Python step is taken per record or per cell.
"""

from __future__ import annotations

from typing import Any

from .eventkinds import FIELD_TYPES, KINDS
from .logcolumns import EVENT, MESSAGE_ID, NODE, TIME, VALUES, LogColumns, take

__all__ = ["BASE_COLUMNS", "wide_columns"]

BASE_COLUMNS = ("time", "event", "message_id", "node")
"""The wide table's columns before one column per field."""
_FIELDS = {name: tuple(f.name for f in kind.fields) for name, kind in KINDS.items()}


def wide_columns(log: LogColumns, start: int = 0, stop: int | None = None) -> dict[str, Any]:
    """Records ``start`` to ``stop`` (by default all) of ``log`` as wide columns by name, each a
    list: ``time``, ``event``, ``message_id``, ``node`` (the log's own strings), then each field of
    :data:`FIELD_TYPES` that a kind of these records has, holding the records' values (tuples for
    lists), None where a record's kind has no such field or leaves it empty. A field no kind of
    these records has is left out (its column would be None throughout)."""
    import numpy as np

    stop = len(log) if stop is None else min(stop, len(log))
    start = min(start, stop)
    positions = np.arange(start, stop)
    codes, kinds = log.codes_at(EVENT, positions)
    node_codes, nodes = log.codes_at(NODE, positions)
    out: dict[str, Any] = {
        "time": log.span(TIME, start, stop),
        "event": np.array(kinds, dtype=object)[codes].tolist(),
        "message_id": log.span(MESSAGE_ID, start, stop),
        "node": np.array(nodes, dtype=object)[node_codes].tolist(),
    }
    fields: dict[str, Any] = {}
    values = log.span(VALUES, start, stop)
    for code in np.unique(codes).tolist():
        names = _FIELDS[kinds[code]]
        if not names:
            continue
        at = np.flatnonzero(codes == code)
        for name, column in zip(names, zip(*take(values, at.tolist()), strict=True), strict=True):
            if name not in fields:
                fields[name] = np.full(stop - start, None, dtype=object)
            fields[name][at] = np.fromiter(column, dtype=object, count=len(at))
    # as lists: Arrow reads a list of strings many times faster than a numpy array of objects
    out.update((name, fields[name].tolist()) for name in FIELD_TYPES if name in fields)
    return out
