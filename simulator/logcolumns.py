"""The event log read by kind: where each kind's records are, and their fields a column at a time.

Derivation, the summary, the time breakdown and the writers each want a few kinds of record out
of the whole log (the deliveries table never looks at ``accepted`` or ``sent``). The positions of
each kind's records are found once (a stable sort of small integer codes, in numpy, 8 bytes a
record), so each of them reads only its kinds, gathering a field of those records with one C call
(``itemgetter``) instead of testing every record's kind in a Python loop of its own. Nothing is
copied per record: a column is made when asked for, of the records asked for (:meth:`LogColumns.at`).
Every read is of one flat list, a field being every fifth item: a run's own
(:class:`simulator.eventlog.FlatRecords`), so no tuple is made per record, or, for a log read
back from a folder as tuples, a flat copy made once. :meth:`LogColumns.rows` makes tuples of the
records asked for only. Built once per result and shared.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import compress, islice
from operator import itemgetter
from typing import Any, Final

from .eventkinds import KINDS
from .eventlog import FIELDS, FlatRecords, Record

__all__ = ["EVENT", "MESSAGE_ID", "NODE", "TIME", "VALUES", "LogColumns", "log_columns", "take"]

_CODE = {name: code for code, name in enumerate(KINDS)}
_NAMES = tuple(KINDS)
# Where each field sits in a record.
TIME: Final = 0
EVENT: Final = 1
MESSAGE_ID: Final = 2
NODE: Final = 3
VALUES: Final = 4


@dataclass(slots=True)
class LogColumns:
    """The records of a log with the positions of each kind's records (one integer array, the
    positions sorted by kind, found when first asked for)."""

    records: Sequence[Record]
    _order: Any = None  # the positions sorted by kind, stably (a numpy array)
    _codes: Any = None  # each record's kind as its number in KINDS (a numpy array)
    _spans: dict[str, tuple[int, int]] = field(default_factory=dict)  # kind -> its slice of _order
    _flat: list[Any] = field(init=False)  # the records' fields, flat (a run's own list; a copy for others)
    _size: int = field(init=False)  # the records there were when the columns were made

    def __post_init__(self) -> None:
        records = self.records
        # A log read back from a folder is a list of tuples: it is made flat once, so that every
        # reader below has one form to read.
        self._flat = records.flat if isinstance(records, FlatRecords) else [f for record in records for f in record]
        self._size = len(records)

    @classmethod
    def of(cls, records: Sequence[Record]) -> LogColumns:
        return cls(records)

    def __len__(self) -> int:
        return self._size

    def _group(self) -> None:
        import numpy as np

        events = self.column(EVENT)
        codes = self._codes = np.fromiter(map(_CODE.__getitem__, events), dtype=np.int16, count=len(events))
        del events
        self._order = np.argsort(codes, kind="stable")
        start = 0
        for name, end in zip(_NAMES, np.cumsum(np.bincount(codes, minlength=len(_NAMES))).tolist(), strict=True):
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
        if self._order is None:
            self._group()
        parts = [self._order[start:end] for start, end in (self._spans[k] for k in kinds if k in self._spans)]
        if not parts:
            return []
        if len(parts) == 1:
            positions: list[int] = parts[0].tolist()
            return positions
        import numpy as np

        positions = np.sort(np.concatenate(parts)).tolist()
        return positions

    def count(self, kind: str) -> int:
        """How many records of ``kind`` the log has."""
        if self._order is None:
            self._group()
        start, end = self._spans.get(kind, (0, 0))
        return end - start

    def rows(self, *kinds: str) -> list[Record]:
        """The records of ``kinds``, in log order (tuples made for them only)."""
        positions = self.where(*kinds)
        return list(zip(*(self.at(index, positions) for index in range(FIELDS)), strict=True))

    def subset(self, *kinds: str) -> LogColumns:
        """A log of the records of ``kinds`` only, in log order, flat (a copy of their fields, so the
        rest of this log can be let go). Each field is picked by a mask of a byte per record (no
        list of positions, which takes 36 bytes per record picked)."""
        import numpy as np

        if self._order is None:
            self._group()
        kinds = tuple(set(kinds))
        wanted = np.zeros(len(_NAMES), dtype=np.bool_)
        wanted[[_CODE[kind] for kind in kinds]] = True
        mask = wanted[self._codes].tobytes()
        flat: list[Any] = [None] * (FIELDS * sum(map(self.count, kinds)))
        for index in range(FIELDS):
            flat[index::FIELDS] = list(compress(islice(self._flat, index, self._size * FIELDS, FIELDS), mask))
        return LogColumns(FlatRecords(flat))

    def column(self, index: int, rows: Sequence[Record] | None = None) -> list[Any]:
        """Field ``index`` (:data:`TIME`, ..., :data:`VALUES`) of ``rows`` (by default every record)."""
        if rows is None:
            return self._flat[index:self._size * FIELDS:FIELDS]
        return list(map(itemgetter(index), rows))

    def at(self, index: int, positions: Sequence[int]) -> list[Any]:
        """Field ``index`` of the records at ``positions`` (from :meth:`where`)."""
        return take(self._flat, [FIELDS * p + index for p in positions])

    def span(self, index: int, start: int, stop: int) -> list[Any]:
        """Field ``index`` of records ``start`` to ``stop``."""
        return self._flat[start * FIELDS + index:min(stop, self._size) * FIELDS:FIELDS]


def take(column: Sequence[Any], positions: Sequence[int]) -> list[Any]:
    """The values of ``column`` at ``positions``, gathered in one C call (``itemgetter``) rather
    than a Python step per value."""
    if len(positions) > 1:
        return list(itemgetter(*positions)(column))
    return [column[i] for i in positions]


def log_columns(records: Sequence[Record] | LogColumns) -> LogColumns:
    """``records`` as columns (themselves if they already are)."""
    return records if isinstance(records, LogColumns) else LogColumns.of(records)
