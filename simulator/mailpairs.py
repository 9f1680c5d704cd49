"""The mail pairs of a deliveries table as columns, for the figures that count, group and plot them.

A figure reads the columns it needs once (one pass over the rows per column, final mail pairs
only: :func:`simulator.results.is_final_mail`); every group, count and series after that is array
work, never another loop over rows. It is the one place the figures read deliveries rows.

Times are the table's own floats (a missing one is NaN), and a difference of two of them is the
same float Python's subtraction gives, so the values a figure draws and marks are exactly those
of the tables and the summary.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from functools import cached_property
from typing import Any

import numpy as np
import numpy.typing as npt

from .results import final_mail_positions

__all__ = ["Deliveries", "MailPairs", "count_by", "floats", "group_indices"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
ObjectArray = npt.NDArray[np.object_]


def floats(rows: Sequence[Mapping[str, Any]], key: str) -> FloatArray:
    """The column ``key`` of ``rows`` as floats; None becomes NaN."""
    return np.array([r[key] for r in rows], dtype=np.float64)


def group_indices(values: Sequence[str], key: Callable[[str], str | None] | None = None) -> dict[str, IntArray]:
    """group -> the positions (ascending) of the ``values`` in it, groups in sorted order. A value's
    group is ``key(value)`` (the value itself without ``key``); a value whose group is None is in
    none. ``key`` is called once per distinct value, and grouping sorts once, so a thousand groups
    cost about what two do."""
    group_of = {value: value if key is None else key(value) for value in set(values)}
    names = sorted({group for group in group_of.values() if group is not None})
    number = dict(zip(names, range(len(names)), strict=True))
    code_of = {value: len(names) if group is None else number[group] for value, group in group_of.items()}
    codes = np.fromiter(map(code_of.__getitem__, values), dtype=np.int64, count=len(values))
    order = np.argsort(codes, kind="stable")
    bounds = np.searchsorted(codes[order], np.arange(len(names) + 1))
    return {name: order[bounds[i]:bounds[i + 1]] for i, name in enumerate(names)}


def count_by(values: Iterable[str], first: Sequence[str]) -> dict[str, int]:
    """How many of ``values`` are each of ``first`` (0 if none, in that order), then any other
    value found (in sorted order)."""
    found = Counter(values)
    return {**{name: found.pop(name, 0) for name in first}, **dict(sorted(found.items()))}


Deliveries = Iterable[Mapping[str, Any]] | Mapping[str, Sequence[Any]]
"""A deliveries table as its rows (dicts) or as its columns (column name -> values, in row order)."""


class RowColumns(Mapping[str, list[Any]]):
    """Rows read as columns: a column is gathered from the rows the first time it is asked for."""

    def __init__(self, rows: Sequence[Mapping[str, Any]]) -> None:
        self._rows = rows
        self._gathered: dict[str, list[Any]] = {}

    def __getitem__(self, key: str) -> list[Any]:
        column = self._gathered.get(key)
        if column is None:
            column = self._gathered[key] = [r[key] for r in self._rows]
        return column

    def __iter__(self) -> Iterator[str]:
        return iter(self._rows[0] if self._rows else ())

    def __len__(self) -> int:
        return len(self._rows[0]) if self._rows else 0


Table = Iterable[Mapping[str, Any]] | Mapping[str, Sequence[Any]]
"""A table as its rows (dicts) or as its columns (column name -> values, in row order)."""


def as_columns(table: Table) -> Mapping[str, Sequence[Any]]:
    """``table`` as columns: itself if it is columns, else its rows read as columns (:class:`RowColumns`)."""
    return table if isinstance(table, Mapping) else RowColumns(list(table))


class MailPairs:
    """Final mail (message, recipient) pairs, column by column, in table order: the ``positions``
    of those pairs in a deliveries table's ``columns``. A column is read the first time it is
    asked for, so a figure reads only the columns it uses."""

    def __init__(self, columns: Mapping[str, Sequence[Any]], positions: Sequence[int]) -> None:
        self._columns = columns
        self._positions = positions

    @classmethod
    def of(cls, deliveries: Deliveries) -> MailPairs:
        """The final mail pairs among ``deliveries`` (deliveries.csv's columns, or its rows)."""
        columns = as_columns(deliveries)
        return cls(columns, final_mail_positions(columns))

    def __len__(self) -> int:
        return len(self._positions)

    def _column(self, key: str) -> list[Any]:
        return list(map(self._columns[key].__getitem__, self._positions))

    def _floats(self, key: str) -> FloatArray:
        """The column ``key`` as floats; None becomes NaN."""
        return np.array(self._column(key), dtype=np.float64)

    @cached_property
    def recipient(self) -> list[str]:
        return self._column("recipient")

    @cached_property
    def status(self) -> ObjectArray:
        """"delivered", "bounced" or "pending"."""
        return np.array(self._column("status"), dtype=object)

    @cached_property
    def submitted_s(self) -> FloatArray:
        return self._floats("submitted_at")

    @cached_property
    def delivered_s(self) -> FloatArray:
        """NaN: not delivered."""
        return self._floats("delivered_at")

    @cached_property
    def retrieved_s(self) -> FloatArray:
        """NaN: not retrieved by any device."""
        return self._floats("retrieved_at")

    @cached_property
    def latency_s(self) -> FloatArray:
        """Submitted to delivered; NaN: not delivered."""
        return self._floats("latency_s")

    @cached_property
    def attempts(self) -> IntArray:
        return np.array(self._column("attempts"), dtype=np.int64)

    def groups_by_recipient(self, key: Callable[[str], str | None]) -> dict[str, MailPairs]:
        """The pairs by ``key(recipient)`` (None: in no group), groups in sorted order, each
        group's pairs in table order (see :func:`group_indices`)."""
        positions = self._positions
        return {group: MailPairs(self._columns, [positions[i] for i in index.tolist()])
                for group, index in group_indices(self.recipient, key).items()}
