"""The append-only event log: the single source every table, statistic and plot derives from.

A record reads as a plain tuple ``(time_s, event, message_id, node, values)``. ``values`` are the
record's typed fields in the order its kind declares them (:mod:`simulator.eventkinds`, the
schema, which also gives their ``key=value`` text in ``events.csv``). The log is the only writer:
every component appends through it, and every reader unpacks ``values``.

Writers append a record's five fields flat to a list, the tail (one C call a record:
:attr:`EventLog.extend`). Between batches of events (``run`` calls :meth:`EventLog.compact`), the
tail moves into columns and is emptied: times into an ``array('d')`` (8 bytes, no float object),
kinds and nodes as small integer codes of a table (:class:`simulator.coded.CodedColumn`, a byte
or two), message ids and values as references to the objects the writers made. That is about 27
bytes a record where the flat list took 40 and a float object 24 more: about 30 MB less at
100,000 messages (8 records each). No tuple is kept per record, so the garbage collector has
nothing per record to track. Readers see tuples (:class:`Records`, made when read; equal to the
tuples appended) or read the columns (:mod:`simulator.logcolumns`); a read compacts the log first,
which changes nothing it holds. A float read back from the array is the same double (``-0.0``
and nan included); should a time not be a ``float`` (an ``int``, say), the time column becomes a
list of the objects themselves, so that every time reads back as it was appended.

Most records' values repeat: a recipient's ``delivered`` and ``retrieved`` values, a queue's
length, a message's recipients as each server accepts and relays it. Compacting also makes every
such value the one tuple of its equal values seen first, so the copies are freed: about 60 of
the 90 MB of values at 100,000 messages. Equal values write the same text, as their fields are
of one type each (kinds with a float field are left out: ``60`` and ``60.0`` are equal, and their
texts differ).
"""

from __future__ import annotations

import struct
from array import array
from collections.abc import Callable, Iterable, Iterator, Sequence
from itertools import chain, compress
from operator import call
from typing import Any, Final, overload

from .coded import CodedColumn, take
from .eventkinds import FLOAT, KINDS

Record = tuple[float, str, str, str, tuple[Any, ...]]
FIELDS = 5
"""Fields per record in the tail."""
# Where each field sits in a record.
TIME: Final = 0
EVENT: Final = 1
MESSAGE_ID: Final = 2
NODE: Final = 3
VALUES: Final = 4
SHARED_KINDS = frozenset(name for name, kind in KINDS.items()
                         if name != "created" and all(f.type != FLOAT for f in kind.fields))
"""The kinds whose equal values :meth:`EventLog.compact` makes one tuple: those without a float
field, but ``created`` (whose values, with their sizes and recipients, are each a message's own)."""
READ_RECORDS = 16_384
"""Records made into tuples at a time when the log is read whole (a copy of each column's slice
lives while they are read)."""
_SAME: Callable[[Any, Any], Any] = {}.get
"""``_SAME(values, values)`` is ``values`` (an empty dict's ``get`` gives the default)."""


class EventLog:
    """An append-only log of records in simulated-time order, kept in columns (see the module's text)."""

    __slots__ = ("_seen", "_share_by_kind", "_tail", "extend", "kinds", "message_ids", "nodes", "times", "values")

    def __init__(self) -> None:
        self._tail: list[Any] = []
        # What a writer calls with the five fields of a record, as a tuple.
        self.extend = self._tail.extend
        self.times: array[float] | list[float] = array("d")
        self.kinds = CodedColumn(KINDS)  # numbered as in KINDS (simulator.logcolumns counts on it)
        self.message_ids: list[str] = []
        self.nodes = CodedColumn()
        self.values: list[tuple[Any, ...]] = []
        self._seen: dict[str, dict[tuple[Any, ...], tuple[Any, ...]]] = {kind: {} for kind in SHARED_KINDS}
        self._share_by_kind: list[Callable[[Any, Any], Any]] = []

    @classmethod
    def of(cls, records: Iterable[Record]) -> EventLog:
        """A log of ``records`` (tuples, such as those read back from a folder), compacted."""
        log = cls()
        for count, record in enumerate(records, start=1):
            log.append(*record)
            if count % READ_RECORDS == 0:
                log.compact()
        log.compact()
        return log

    def compact(self) -> None:
        """Move the records appended since the last call into the columns, each value of a kind in
        :data:`SHARED_KINDS` made the tuple of the first equal values of that kind (see the module's text)."""
        tail = self._tail
        if not tail:
            return
        kinds = self.kinds.encode(tail[EVENT::FIELDS])
        values = tail[VALUES::FIELDS]
        values = list(map(call, take(self._sharers(), kinds), values, values))
        times = tail[TIME::FIELDS]
        if isinstance(self.times, array):
            self.times.frombytes(struct.pack(f"{len(times)}d", *times))
        else:
            self.times += times
        self.kinds.extend_codes(kinds)
        self.message_ids += tail[MESSAGE_ID::FIELDS]
        self.nodes.extend(tail[NODE::FIELDS])
        self.values += values
        tail.clear()

    def _sharers(self) -> list[Callable[[Any, Any], Any]]:
        """For each kind, by its number in :attr:`kinds`, what ``f(values, values)`` gives the values
        to keep: the ``setdefault`` of that kind's equal values, or the values themselves."""
        sharers, names = self._share_by_kind, self.kinds.names
        if len(sharers) < len(names):
            sharers += [self._seen[name].setdefault if name in self._seen else _SAME for name in names[len(sharers):]]
        return sharers

    def column(self, index: int, start: int, stop: int) -> list[Any]:
        """Field ``index`` (:data:`TIME`, ..., :data:`VALUES`) of the compacted records ``start`` to ``stop``."""
        if index == TIME:
            times = self.times[start:stop]
            return times.tolist() if isinstance(times, array) else times
        if index == EVENT:
            return self.kinds.strings(start, stop)
        if index == NODE:
            return self.nodes.strings(start, stop)
        return (self.message_ids if index == MESSAGE_ID else self.values)[start:stop]

    def at(self, index: int, positions: Sequence[int]) -> list[Any]:
        """Field ``index`` of the compacted records at ``positions``."""
        if index == EVENT:
            return self.kinds.at(positions)
        if index == NODE:
            return self.nodes.at(positions)
        column = self.times if index == TIME else self.message_ids if index == MESSAGE_ID else self.values
        return take(column, positions)

    def rows(self, start: int, stop: int) -> list[Record]:
        """The compacted records ``start`` to ``stop`` as tuples."""
        return list(zip(*(self.column(index, start, stop) for index in range(FIELDS)), strict=True))

    def subset(self, mask: bytes) -> EventLog:
        """A compacted log of the records whose byte in ``mask`` (one a compacted record) is not zero."""
        kept = EventLog()
        kept.times = (array("d", compress(self.times, mask)) if isinstance(self.times, array)
                      else list(compress(self.times, mask)))
        kept.kinds, kept.nodes = self.kinds.compress(mask), self.nodes.compress(mask)
        kept.message_ids, kept.values = list(compress(self.message_ids, mask)), list(compress(self.values, mask))
        return kept

    @property
    def records(self) -> Records:
        """Every record, read as a ``(time_s, event, message_id, node, values)`` tuple."""
        return Records(self)

    def append(self, time_s: float, event: str, message_id: str = "", node: str = "",
               values: tuple[Any, ...] = ()) -> None:
        """Append a record (the writers of a run call :attr:`extend`, with a float time: the clock)."""
        if type(time_s) is not float and isinstance(self.times, array):
            self.times = self.times.tolist()  # times kept as given from now on (an int stays an int)
        self.extend((time_s, event, message_id, node, values))

    def __len__(self) -> int:
        return len(self.values) + len(self._tail) // FIELDS

    def __iter__(self) -> Iterator[Record]:
        return iter(self.records)


class Records(Sequence[Record]):
    """The records of an :class:`EventLog` as a sequence of tuples, each made when read. A view:
    records appended to the log later are seen too. Equal to any sequence of the same records (a
    list of tuples read back from a folder, say)."""

    __slots__ = ("log",)

    def __init__(self, log: EventLog) -> None:
        self.log = log

    def __len__(self) -> int:
        return len(self.log)

    @overload
    def __getitem__(self, index: int) -> Record: ...

    @overload
    def __getitem__(self, index: slice) -> list[Record]: ...

    def __getitem__(self, index: int | slice) -> Record | list[Record]:
        log = self.log
        log.compact()
        if isinstance(index, slice):
            start, stop, step = index.indices(len(log))
            if step != 1:
                return [self[i] for i in range(start, stop, step)]
            return log.rows(start, max(start, stop))
        n = len(log)
        if index < 0:
            index += n
        if not 0 <= index < n:
            raise IndexError("record index out of range")
        return log.rows(index, index + 1)[0]

    def __iter__(self) -> Iterator[Record]:
        log = self.log
        log.compact()
        return chain.from_iterable(log.rows(start, start + READ_RECORDS) for start in range(0, len(log), READ_RECORDS))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Sequence) or isinstance(other, str | bytes):
            return NotImplemented
        return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=True))

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Records({len(self)} records)"
