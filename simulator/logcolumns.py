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

__all__ = ["LogColumns", "log_columns"]

_CODE = {name: code for code, name in enumerate(KINDS)}
_NAMES = tuple(KINDS)


@dataclass(slots=True)
class LogColumns:
    """The records of a log, ``records[i] == (times[i], events[i], message_ids[i], nodes[i], values[i])``."""

    records: Sequence[Record]
    times: list[float]
    events: list[str]
    message_ids: list[str]
    nodes: list[str]
    values: list[tuple[Any, ...]]
    _groups: dict[str, list[int]] = field(default_factory=dict)

    @classmethod
    def of(cls, records: Sequence[Record]) -> LogColumns:
        times, events, message_ids, nodes, values = (list(map(itemgetter(k), records)) for k in range(5))
        return cls(records, times, events, message_ids, nodes, values)

    def __len__(self) -> int:
        return len(self.times)

    @property
    def groups(self) -> dict[str, list[int]]:
        """The positions of each kind's records (in log order), by kind; kinds without records left out."""
        if not self._groups and self.events:
            import numpy as np

            codes = np.fromiter(map(_CODE.__getitem__, self.events), dtype=np.int16, count=len(self.events))
            order = np.argsort(codes, kind="stable")
            ends = np.cumsum(np.bincount(codes, minlength=len(_NAMES)))
            start = 0
            for name, end in zip(_NAMES, ends.tolist(), strict=True):
                if end > start:
                    self._groups[name] = order[start:end].tolist()
                start = end
        return self._groups

    def where(self, *kinds: str) -> list[int]:
        """The positions of the records of ``kinds``, in log order."""
        parts = [self.groups[k] for k in kinds if k in self.groups]
        if not parts:
            return []
        import numpy as np

        if len(parts) == 1:
            return parts[0]
        positions: list[int] = np.sort(np.concatenate(parts)).tolist()
        return positions

    def count(self, kind: str) -> int:
        """How many records of ``kind`` the log has."""
        group = self.groups.get(kind)
        return 0 if group is None else len(group)


def log_columns(records: Sequence[Record] | LogColumns) -> LogColumns:
    """``records`` as columns (themselves if they already are)."""
    return records if isinstance(records, LogColumns) else LogColumns.of(records)
