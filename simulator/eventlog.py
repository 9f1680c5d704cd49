"""The append-only event log: the single source every table, statistic and plot derives from.

A record reads as a plain tuple ``(time_s, event, message_id, node, values)`` (while a run
appends, the log keeps its fields flat; see :class:`EventLog`). ``values`` are the record's
typed fields in the order its kind declares them (:mod:`simulator.eventkinds`, the schema,
which also gives their ``key=value`` text in ``events.csv``). The log is the only writer:
every component appends through it, and every reader unpacks ``values``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

Record = tuple[float, str, str, str, tuple[Any, ...]]


class EventLog:
    """An append-only log of records in simulated-time order.

    While a run appends, the records lie flat in one list, five fields after five fields: no
    tuple survives per record, so the garbage collector has nothing per record to track and
    each record costs five pointers. ``records`` regroups what was appended since the last read.
    """

    __slots__ = ("_flat", "_rows", "extend")

    def __init__(self) -> None:
        self._rows: list[Record] = []
        self._flat: list[Any] = []
        # What a writer calls with the five fields of a record, as a tuple.
        self.extend = self._flat.extend

    @property
    def records(self) -> list[Record]:
        """Every record as a ``(time_s, event, message_id, node, values)`` tuple."""
        flat = self._flat
        if flat:
            fields = iter(flat)
            self._rows.extend(zip(fields, fields, fields, fields, fields, strict=True))
            flat.clear()
        return self._rows

    def append(self, time_s: float, event: str, message_id: str = "", node: str = "",
               values: tuple[Any, ...] = ()) -> None:
        self.extend((time_s, event, message_id, node, values))

    def __len__(self) -> int:
        return len(self._rows) + len(self._flat) // 5

    def __iter__(self) -> Iterator[Record]:
        return iter(self.records)

