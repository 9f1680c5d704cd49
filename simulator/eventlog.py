"""The append-only event log: the single source every table, statistic and plot derives from.

A record reads as a plain tuple ``(time_s, event, message_id, node, values)``. ``values`` are the
record's typed fields in the order its kind declares them (:mod:`simulator.eventkinds`, the
schema, which also gives their ``key=value`` text in ``events.csv``). The log is the only writer:
every component appends through it, and every reader unpacks ``values``.

The records lie flat in one list, five fields after five fields, for the whole life of the log:
no tuple is kept per record (a 5-tuple costs 96 bytes beside the list's 40 of pointers, about
70 MB at 100,000 messages), so the garbage collector has nothing per record to track. Readers see
them as tuples through :class:`FlatRecords`, made when read; column readers
(:mod:`simulator.logcolumns`) slice the flat list instead.

Most records' values repeat: a recipient's ``delivered`` and ``retrieved`` values, a queue's
length, a message's recipients as each server accepts and relays it. :meth:`EventLog.share_values`,
called between batches of events (``run`` does), makes every such value the one tuple of its equal
values seen first, so the copies are freed: about 60 of the 90 MB of values at 100,000 messages.
Equal values write the same text, as their fields are of one type each (kinds with a float field
are left out: ``60`` and ``60.0`` are equal, and their texts differ).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from itertools import islice
from typing import Any, overload

from .eventkinds import FLOAT, KINDS

Record = tuple[float, str, str, str, tuple[Any, ...]]
FIELDS = 5
"""Fields per record in the flat list."""
_EVENT, _VALUES = 1, 4  # where a record's kind and values sit among its fields
SHARED_KINDS = frozenset(name for name, kind in KINDS.items()
                         if name != "created" and all(f.type != FLOAT for f in kind.fields))
"""The kinds whose equal values :meth:`EventLog.share_values` makes one tuple: those without a
float field, but ``created`` (whose values, with their sizes and recipients, are each a message's own)."""


class FlatRecords(Sequence[Record]):
    """The records of a flat list (``FIELDS`` fields after ``FIELDS`` fields) as a sequence of
    tuples, each made when read. A view: records appended to the list later are seen too. Equal
    to any sequence of the same records (a list of tuples read back from a folder, say)."""

    __slots__ = ("flat",)

    def __init__(self, flat: list[Any]) -> None:
        self.flat = flat

    def __len__(self) -> int:
        return len(self.flat) // FIELDS

    @overload
    def __getitem__(self, index: int) -> Record: ...

    @overload
    def __getitem__(self, index: slice) -> list[Record]: ...

    def __getitem__(self, index: int | slice) -> Record | list[Record]:
        if isinstance(index, slice):
            start, stop, step = index.indices(len(self))
            if step != 1:
                return [self[i] for i in range(start, stop, step)]
            return _records(self.flat, start, max(start, stop))
        n = len(self)
        if index < 0:
            index += n
        if not 0 <= index < n:
            raise IndexError("record index out of range")
        base = index * FIELDS
        return tuple(self.flat[base:base + FIELDS])

    def __iter__(self) -> Iterator[Record]:
        fields = islice(self.flat, len(self) * FIELDS)
        return zip(fields, fields, fields, fields, fields)  # noqa: B905 (one iterator, five fields a step)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, FlatRecords):
            return self.flat == other.flat
        if not isinstance(other, Sequence) or isinstance(other, str | bytes):
            return NotImplemented
        return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=True))

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"FlatRecords({len(self)} records)"


def _records(flat: list[Any], start: int, stop: int) -> list[Record]:
    """Records ``start`` to ``stop`` of ``flat`` as tuples."""
    return list(zip(*(flat[start * FIELDS + f:stop * FIELDS:FIELDS] for f in range(FIELDS)), strict=True))


class EventLog:
    """An append-only log of records in simulated-time order, kept flat (see the module's text)."""

    __slots__ = ("_flat", "_seen", "_shared", "extend")

    def __init__(self) -> None:
        self._flat: list[Any] = []
        # What a writer calls with the five fields of a record, as a tuple.
        self.extend = self._flat.extend
        self._seen: dict[str, dict[tuple[Any, ...], tuple[Any, ...]]] = {kind: {} for kind in SHARED_KINDS}
        self._shared = 0  # the records before this position in the flat list have had share_values

    def share_values(self) -> None:
        """Make the values of each record appended since the last call, of a kind in
        :data:`SHARED_KINDS`, the tuple of the first equal values of that kind (see the module's text)."""
        flat, start, seen = self._flat, self._shared, self._seen
        end = len(flat)
        events, values = flat[start + _EVENT:end:FIELDS], flat[start + _VALUES:end:FIELDS]
        flat[start + _VALUES:end:FIELDS] = [v if (first := seen.get(e)) is None else first.setdefault(v, v)
                                            for e, v in zip(events, values, strict=True)]
        self._shared = end

    @property
    def records(self) -> FlatRecords:
        """Every record, read as a ``(time_s, event, message_id, node, values)`` tuple."""
        return FlatRecords(self._flat)

    def append(self, time_s: float, event: str, message_id: str = "", node: str = "",
               values: tuple[Any, ...] = ()) -> None:
        self.extend((time_s, event, message_id, node, values))

    def __len__(self) -> int:
        return len(self._flat) // FIELDS

    def __iter__(self) -> Iterator[Record]:
        return iter(self.records)
