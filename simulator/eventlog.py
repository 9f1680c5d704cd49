"""The append-only event log: the single source every table, statistic and plot derives from.

A record is a plain tuple ``(time_s, event, message_id, node, detail)``. ``detail`` is a
space-separated list of ``key=value`` fields (values never contain spaces), so the log reads
the same in memory and in ``events.csv``. The vocabulary of events is documented in
``docs/events.md``; :func:`fields` parses a detail string back into a dict.
"""

from __future__ import annotations

from collections.abc import Iterator

Record = tuple[float, str, str, str, str]


class EventLog:
    """An append-only list of records in simulated-time order."""

    __slots__ = ("records",)

    def __init__(self) -> None:
        self.records: list[Record] = []

    def append(self, time_s: float, event: str, message_id: str = "", node: str = "", detail: str = "") -> None:
        self.records.append((time_s, event, message_id, node, detail))

    def __len__(self) -> int:
        return len(self.records)

    def __iter__(self) -> Iterator[Record]:
        return iter(self.records)



def fields(detail: str) -> dict[str, str]:
    """Parse ``"a=1 b=x,y"`` into ``{"a": "1", "b": "x,y"}``."""
    out: dict[str, str] = {}
    for part in detail.split():
        key, _, value = part.partition("=")
        out[key] = value
    return out
