"""The append-only event log: the single source every table, statistic and plot derives from.

A record reads as a plain tuple ``(time_s, event, message_id, node, detail)`` (while a run
appends, the log keeps its fields flat; see :class:`EventLog`). ``detail`` is a
space-separated list of ``key=value`` fields (values never contain spaces), so the log reads
the same in memory and in ``events.csv``. The vocabulary of events is documented in
``docs/events.md``; :func:`fields` parses a detail string back into a dict.
"""

from __future__ import annotations

from collections.abc import Iterator

Record = tuple[float, str, str, str, str]


class EventLog:
    """An append-only log of records in simulated-time order.

    While a run appends, the records lie flat in one list, five fields after five fields: no
    tuple survives per record, so the garbage collector has nothing per record to track and
    each record costs five pointers. ``records`` regroups what was appended since the last read.
    """

    __slots__ = ("_flat", "_rows", "extend")

    def __init__(self) -> None:
        self._rows: list[Record] = []
        self._flat: list[float | str] = []
        # What a writer calls with the five fields of a record, as a tuple.
        self.extend = self._flat.extend

    @property
    def records(self) -> list[Record]:
        """Every record as a ``(time_s, event, message_id, node, detail)`` tuple."""
        flat = self._flat
        if flat:
            fields = iter(flat)
            self._rows.extend(zip(fields, fields, fields, fields, fields, strict=True))  # type: ignore[arg-type]
            flat.clear()
        return self._rows

    def append(self, time_s: float, event: str, message_id: str = "", node: str = "", detail: str = "") -> None:
        self.extend((time_s, event, message_id, node, detail))

    def __len__(self) -> int:
        return len(self._rows) + len(self._flat) // 5

    def __iter__(self) -> Iterator[Record]:
        return iter(self.records)


def fields(detail: str) -> dict[str, str]:
    """Parse ``"a=1 b=x,y"`` into ``{"a": "1", "b": "x,y"}``."""
    out: dict[str, str] = {}
    for part in detail.split():
        key, _, value = part.partition("=")
        out[key] = value
    return out
