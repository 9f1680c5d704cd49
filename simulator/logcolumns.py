"""The event log read by kind: where each kind's records are, and their fields a column at a time.

Derivation, the summary, the time breakdown and the writers each want a few kinds of record out
of the whole log (the deliveries table never looks at ``accepted`` or ``sent``). The positions of
each kind's records are found once, from the log's kind codes (:class:`simulator.coded.CodedColumn`,
a byte a record, read by numpy without a string per record): a stable sort of the codes, 4 bytes
a record. Each reader then reads only its kinds, gathering a field of those records with one C
call (``itemgetter``) instead of testing every record's kind in a Python loop of its own. Nothing
is copied per record: a column is made when asked for, of the records asked for
(:meth:`LogColumns.at`), from the log's columns (:class:`simulator.eventlog.EventLog`): a run's
own, or, for a log read back from a folder as tuples, columns made of them once.
:meth:`LogColumns.rows` makes tuples of the records asked for only. Built once per result and shared.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any

from .coded import take
from .eventlog import EVENT, FIELDS, MESSAGE_ID, NODE, READ_RECORDS, TIME, VALUES, EventLog, Record, Records

__all__ = ["EVENT", "MESSAGE_ID", "NODE", "TIME", "VALUES", "LogColumns", "log_columns", "take"]


@dataclass(slots=True)
class LogColumns:
    """The records of a log with the positions of each kind's records (one integer array, the
    positions sorted by kind, found when first asked for)."""

    records: Sequence[Record]
    _order: Any = None  # the positions sorted by kind, stably (a numpy array)
    _codes: Any = None  # each record's kind as its number in the log's table of kinds (a numpy array)
    _spans: dict[str, tuple[int, int]] = field(default_factory=dict)  # kind -> its slice of _order
    _log: EventLog = field(init=False)  # the records in columns (a run's own log; made of tuples for others)
    _size: int = field(init=False)  # the records there were when the columns were made

    def __post_init__(self) -> None:
        records = self.records
        self._log = records.log if isinstance(records, Records) else EventLog.of(records)
        self._log.compact()
        self._size = len(self._log)

    @classmethod
    def of(cls, records: Sequence[Record]) -> LogColumns:
        return cls(records)

    def __len__(self) -> int:
        return self._size

    def _group(self) -> None:
        import numpy as np

        kinds = self._log.kinds
        codes = self._codes = np.array(kinds.codes[:self._size])
        order = np.argsort(codes, kind="stable")  # 8 bytes a record; kept as 4 while positions fit
        self._order = order.astype(np.int32) if len(order) < 2**31 else order
        del order
        start = 0
        for name, end in zip(kinds.names, np.cumsum(np.bincount(codes, minlength=len(kinds.names))).tolist(),
                             strict=True):
            if end > start:
                self._spans[name] = (start, end)
            start = end

    @property
    def kinds(self) -> tuple[str, ...]:
        """The kinds the log has records of (in the order of :data:`simulator.eventkinds.KINDS`)."""
        if self._order is None:
            self._group()
        return tuple(self._spans)

    def where(self, *kinds: str) -> list[int]:
        """The positions of the records of ``kinds``, in log order."""
        positions = self._positions(kinds)
        return [] if positions is None else positions.tolist()

    def where_in_parts(self, *kinds: str, part: int = 65_536) -> Iterator[list[int]]:
        """:meth:`where`, ``part`` positions at a time: for a reader that walks them in order, so
        that it holds a part's positions and fields at a time rather than all of them (a list of
        positions takes about 36 bytes a record)."""
        positions = self._positions(kinds)
        if positions is not None:
            for start in range(0, len(positions), part):
                yield positions[start:start + part].tolist()

    def _positions(self, kinds: Sequence[str]) -> Any:
        """The positions of the records of ``kinds``, in log order, as a numpy array (None: no such record)."""
        if self._order is None:
            self._group()
        parts = [self._order[start:end] for start, end in (self._spans[k] for k in kinds if k in self._spans)]
        if not parts:
            return None
        if len(parts) == 1:
            return parts[0]
        import numpy as np

        return np.sort(np.concatenate(parts))

    def count(self, kind: str) -> int:
        """How many records of ``kind`` the log has."""
        if self._order is None:
            self._group()
        start, end = self._spans.get(kind, (0, 0))
        return end - start

    def rows(self, *kinds: str) -> list[Record]:
        """The records of ``kinds``, in log order (tuples made for them only)."""
        return self.rows_at(self.where(*kinds))

    def rows_at(self, positions: Sequence[int]) -> list[Record]:
        """The records at ``positions`` as tuples."""
        return list(zip(*(self.at(index, positions) for index in range(FIELDS)), strict=True))

    def subset(self, *kinds: str) -> LogColumns:
        """A log of the records of ``kinds`` only, in log order (a copy of their fields, so the rest
        of this log can be let go). Each field is picked by a mask of a byte per record (no list of
        positions, which takes 36 bytes per record picked)."""
        import numpy as np

        if self._order is None:
            self._group()
        wanted = np.array([name in kinds for name in self._log.kinds.names], dtype=np.bool_)
        return LogColumns(self._log.subset(wanted[self._codes].tobytes()).records)

    def column(self, index: int, rows: Sequence[Record] | None = None) -> list[Any]:
        """Field ``index`` (:data:`TIME`, ..., :data:`VALUES`) of ``rows`` (by default every record)."""
        if rows is None:
            return self._log.column(index, 0, self._size)
        return list(map(itemgetter(index), rows))

    def at(self, index: int, positions: Sequence[int]) -> list[Any]:
        """Field ``index`` of the records at ``positions`` (from :meth:`where`)."""
        return self._log.at(index, positions)

    def positions(self, *kinds: str) -> Any:
        """:meth:`where` as a numpy integer array (empty if there are no such records): for a reader
        that sorts or slices the positions, 4 bytes each (8 past 2**31 records) rather than a Python
        int in a list (36)."""
        import numpy as np

        positions = self._positions(kinds)
        return np.zeros(0, dtype=np.intp) if positions is None else positions

    def array_at(self, index: int, positions: Any) -> Any:
        """Field ``index`` of the records at ``positions`` (a numpy integer array, from
        :meth:`positions`) as a numpy array, gathered by numpy: times as ``float64`` (objects,
        as appended, if the log keeps its times as given), kinds and nodes as their names (the
        log's own strings, no new object), message ids and values as objects."""
        import numpy as np

        log = self._log
        if index == TIME and isinstance(log.times, array):
            return np.frombuffer(log.times, dtype=np.float64)[:self._size][positions]
        if index in (EVENT, NODE):
            coded = log.kinds if index == EVENT else log.nodes
            names = np.fromiter(coded.names, dtype=object, count=len(coded.names))
            return names[np.frombuffer(coded.codes, dtype=coded.codes.typecode)[:self._size][positions]]
        column = log.times if index == TIME else log.message_ids if index == MESSAGE_ID else log.values
        out = np.empty(len(positions), dtype=object)
        for start in range(0, len(positions), READ_RECORDS):  # a part's positions as Python ints at a time
            part = positions[start:start + READ_RECORDS]
            out[start:start + len(part)] = np.fromiter(take(column, part.tolist()), dtype=object, count=len(part))
        return out

    def codes_at(self, index: int, positions: Any) -> tuple[Any, list[str]]:
        """The kinds (``index`` :data:`EVENT`) or nodes (:data:`NODE`) of the records at ``positions``
        (a numpy integer array) as their numbers (a numpy array), and the table of names they number
        (a kind's number is its place in :data:`simulator.eventkinds.KINDS`)."""
        import numpy as np

        coded = self._log.kinds if index == EVENT else self._log.nodes
        return np.frombuffer(coded.codes, dtype=coded.codes.typecode)[:self._size][positions], coded.names

    def span(self, index: int, start: int, stop: int) -> list[Any]:
        """Field ``index`` of records ``start`` to ``stop``."""
        return self._log.column(index, start, min(stop, self._size))


def log_columns(records: Sequence[Record] | LogColumns) -> LogColumns:
    """``records`` as columns (themselves if they already are)."""
    return records if isinstance(records, LogColumns) else LogColumns.of(records)
