"""The event log as columns: one list per record field, and where each kind's records are.

Derivation, the summary, the time breakdown and the writers each want a few kinds of record out
of the whole log (the deliveries table never looks at ``accepted`` or ``sent``). Splitting the
log into columns once and grouping the record positions by kind (a stable sort of small integer
codes, in numpy) lets each of them read only its kinds, a column at a time, instead of testing
every record's kind in a Python loop of its own. Built once per result and shared.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any

from .eventkinds import KINDS
from .eventlog import Record

__all__ = ["LogColumns", "log_columns", "take"]

_CODE = {name: code for code, name in enumerate(KINDS)}
_NAMES = tuple(KINDS)


@dataclass(slots=True)
class LogColumns:
    """The records of a log, ``records[i] == (times[i], events[i], message_ids[i], nodes[i], values[i])``.

    The positions of each kind's records are kept as one array of integers (8 bytes a record)
    and handed out as lists when asked for (:meth:`where`)."""

    records: Sequence[Record]
    times: list[float]
    events: list[str]
    message_ids: list[str]
    nodes: list[str]
    values: list[tuple[Any, ...]]
    _order: Any = None  # the positions sorted by kind, stably (a numpy array)
    _spans: dict[str, tuple[int, int]] = field(default_factory=dict)  # kind -> its slice of _order

    @classmethod
    def of(cls, records: Sequence[Record]) -> LogColumns:
        times, events, message_ids, nodes, values = (list(map(itemgetter(k), records)) for k in range(5))
        return cls(records, times, events, message_ids, nodes, values)

    def __len__(self) -> int:
        return len(self.times)

    def _group(self) -> None:
        import numpy as np

        codes = np.fromiter(map(_CODE.__getitem__, self.events), dtype=np.int16, count=len(self.events))
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
            return parts[0].tolist()
        import numpy as np

        return np.sort(np.concatenate(parts)).tolist()

    def count(self, kind: str) -> int:
        """How many records of ``kind`` the log has."""
        if self._order is None:
            self._group()
        start, end = self._spans.get(kind, (0, 0))
        return end - start


def take(column: Sequence[Any], positions: Sequence[int]) -> list[Any]:
    """The values of ``column`` at ``positions``, gathered in one C call (``itemgetter``) rather
    than a Python step per value."""
    if len(positions) > 1:
        return list(itemgetter(*positions)(column))
    return [column[i] for i in positions]


def log_columns(records: Sequence[Record] | LogColumns) -> LogColumns:
    """``records`` as columns (themselves if they already are)."""
    return records if isinstance(records, LogColumns) else LogColumns.of(records)
