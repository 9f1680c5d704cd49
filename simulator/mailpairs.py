"""The mail pairs of a deliveries table as columns, for the figures that count, group and plot them.

A figure reads the columns it needs once (one array conversion per column, final mail pairs
only: :func:`simulator.results.is_final_mail`); every group, count and series after that is array
work, never another loop over rows. It is the one place the figures read deliveries rows. Inside
:func:`shared_pairs` (how a result draws its standard plots) the figures of one table share its
pairs, so the table is read once for all of them, not once per figure, and the aggregate each
figure is drawn from (:func:`shared_aggregate`) is made once.

Times are the table's own floats (a missing one is NaN), and a difference of two of them is the
same float Python's subtraction gives, so the values a figure draws and marks are exactly those
of the tables and the summary.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import cached_property
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt

from .results import final_mail_mask

__all__ = ["Deliveries", "MailPairs", "count_by", "distinct_codes", "floats", "group_indices", "groups_of_codes",
           "ordered_counts", "shared_aggregate", "shared_pairs"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
T = TypeVar("T")
ObjectArray = npt.NDArray[np.object_]


def floats(rows: Sequence[Mapping[str, Any]], key: str) -> FloatArray:
    """The column ``key`` of ``rows`` as floats; None becomes NaN."""
    return np.array([r[key] for r in rows], dtype=np.float64)


def group_indices(values: Sequence[str], key: Callable[[str], str | None] | None = None) -> dict[str, IntArray]:
    """group -> the positions (ascending) of the ``values`` in it, groups in sorted order. A value's
    group is ``key(value)`` (the value itself without ``key``); a value whose group is None is in
    none. ``key`` is called once per distinct value, and grouping sorts once, so a thousand groups
    cost about what two do."""
    return groups_of_codes(*distinct_codes(values), key=key)


def distinct_codes(values: Sequence[str]) -> tuple[list[str], IntArray]:
    """The distinct ``values`` (in the order first seen) and, for each value, its number among them.

    One pass over the values, in C: each value is looked up once, giving the position where it
    was first seen, and those positions are numbered in order as arrays."""
    n = len(values)
    first_seen: dict[str, int] = {}
    first = np.fromiter(map(first_seen.setdefault, values, range(n)), dtype=np.int64, count=n)
    number = np.empty(n, dtype=np.int64)
    number[np.fromiter(first_seen.values(), dtype=np.int64, count=len(first_seen))] = np.arange(len(first_seen))
    return list(first_seen), number[first]


def groups_of_codes(distinct: Sequence[str], codes: IntArray,
                    key: Callable[[str], str | None] | None = None) -> dict[str, IntArray]:
    """:func:`group_indices` of the values ``distinct[codes[i]]``, given as their :func:`distinct_codes`."""
    group_of = [value if key is None else key(value) for value in distinct]
    names = sorted({group for group in group_of if group is not None})
    number = dict(zip(names, range(len(names)), strict=True))
    narrow = np.int16 if len(names) < 2**15 else np.int64  # a stable sort of 16-bit codes is a radix sort: faster
    group_code = np.array([len(names) if group is None else number[group] for group in group_of], dtype=narrow)
    row_groups = group_code[codes] if len(codes) else codes.astype(narrow)
    order = np.argsort(row_groups, kind="stable")
    bounds = np.searchsorted(row_groups[order], np.arange(len(names) + 1))
    return {name: order[bounds[i]:bounds[i + 1]] for i, name in enumerate(names)}


def count_by(values: Iterable[str], first: Sequence[str]) -> dict[str, int]:
    """How many of ``values`` are each of ``first`` (0 if none, in that order), then any other
    value found (in sorted order)."""
    return ordered_counts(Counter(values), first)


def ordered_counts(found: Mapping[str, int], first: Sequence[str]) -> dict[str, int]:
    """The counts ``found`` (value -> how many), each of ``first`` first (0 if not found, in that
    order), then any other value found (in sorted order)."""
    rest = dict(found)
    return {**{name: rest.pop(name, 0) for name in first}, **dict(sorted(rest.items()))}


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
    asked for, as one array conversion of the whole column, so a figure reads only the columns it
    uses; a group of pairs (:meth:`groups_by_recipient`) takes its columns from its whole's."""

    def __init__(self, columns: Mapping[str, Sequence[Any]], positions: Sequence[int] | IntArray,
                 whole: MailPairs | None = None, index: IntArray | None = None) -> None:
        self._columns = columns
        self._positions = np.asarray(positions, dtype=np.int64)
        self._whole = whole  # a group: its columns are ``whole``'s at ``index``
        self._index = index
        self._arrays: dict[str, npt.NDArray[Any]] = {}

    @classmethod
    def of(cls, deliveries: Deliveries) -> MailPairs:
        """The final mail pairs among ``deliveries`` (deliveries.csv's columns, or its rows); inside
        :func:`shared_pairs`, the same pairs for the same columns every time."""
        if _shared is not None and isinstance(deliveries, Mapping):
            found = _shared.get(id(deliveries))
            if found is None:  # the pairs hold the columns, so the id is not reused while they are kept
                found = _shared[id(deliveries)] = cls(deliveries, np.flatnonzero(final_mail_mask(deliveries)))
            return found
        columns = as_columns(deliveries)
        return cls(columns, np.flatnonzero(final_mail_mask(columns)))

    def __len__(self) -> int:
        return len(self._positions)

    def _array(self, key: str, dtype: Any) -> npt.NDArray[Any]:
        """The column ``key`` of these pairs as an array of ``dtype`` (None becomes NaN in floats)."""
        found = self._arrays.get(key)
        if found is None:
            if self._whole is None or self._index is None:
                found = np.array(self._columns[key], dtype=dtype)[self._positions]
            else:
                found = self._whole._array(key, dtype)[self._index]
            self._arrays[key] = found
        return found

    @cached_property
    def recipient(self) -> list[str]:
        return self._array("recipient", object).tolist()

    @cached_property
    def status(self) -> ObjectArray:
        """"delivered", "bounced" or "pending"."""
        return self._array("status", object)

    @cached_property
    def _status_codes(self) -> tuple[list[str], IntArray]:
        """The distinct statuses and each pair's number among them (:func:`distinct_codes`),
        worked out once for a table and all its groups."""
        if self._whole is None or self._index is None:
            distinct, codes = distinct_codes(self._columns["status"])
            return distinct, codes[self._positions]
        distinct, codes = self._whole._status_codes
        return distinct, codes[self._index]

    def has_status(self, status: str) -> BoolArray:
        """Whether each pair's status is ``status``."""
        distinct, codes = self._status_codes
        return codes == distinct.index(status) if status in distinct else np.zeros(len(codes), dtype=np.bool_)

    def status_counts(self, first: Sequence[str], among: BoolArray | None = None) -> dict[str, int]:
        """How many pairs (of those ``among`` marks; all by default) have each status, as :func:`count_by`."""
        distinct, codes = self._status_codes
        counts = np.bincount(codes if among is None else codes[among], minlength=len(distinct))
        return ordered_counts({name: int(n) for name, n in zip(distinct, counts.tolist(), strict=True) if n}, first)

    @cached_property
    def submitted_s(self) -> FloatArray:
        return self._array("submitted_at", np.float64)

    @cached_property
    def delivered_s(self) -> FloatArray:
        """NaN: not delivered."""
        return self._array("delivered_at", np.float64)

    @cached_property
    def retrieved_s(self) -> FloatArray:
        """NaN: not retrieved by any device."""
        return self._array("retrieved_at", np.float64)

    @cached_property
    def latency_s(self) -> FloatArray:
        """Submitted to delivered; NaN: not delivered."""
        return self._array("latency_s", np.float64)

    @cached_property
    def attempts(self) -> IntArray:
        return self._array("attempts", np.int64)

    @cached_property
    def _recipient_codes(self) -> tuple[list[str], IntArray]:
        """The distinct recipients and each pair's number among them (:func:`distinct_codes`),
        worked out once for a table and all its groups."""
        if self._whole is None or self._index is None:  # numbered over the whole column, as it is
            distinct, codes = distinct_codes(self._columns["recipient"])
            return _only_present(distinct, codes[self._positions])
        distinct, codes = self._whole._recipient_codes
        return distinct, codes[self._index]

    def groups_by_recipient(self, key: Callable[[str], str | None]) -> dict[str, MailPairs]:
        """The pairs by ``key(recipient)`` (None: in no group), groups in sorted order, each
        group's pairs in table order (see :func:`group_indices`)."""
        return {group: MailPairs(self._columns, self._positions[index], self, index)
                for group, index in groups_of_codes(*self._recipient_codes, key=key).items()}


def _only_present(distinct: list[str], codes: IntArray) -> tuple[list[str], IntArray]:
    """``(distinct, codes)`` without the distinct values no code refers to, the codes renumbered."""
    present = np.bincount(codes, minlength=len(distinct)) > 0
    if present.all():
        return distinct, codes
    renumber = np.cumsum(present) - 1
    return [value for value, kept in zip(distinct, present.tolist(), strict=True) if kept], renumber[codes]


_shared: dict[int, MailPairs] | None = None
_kept: dict[tuple[Any, ...], tuple[tuple[object, ...], Any]] | None = None


@contextmanager
def shared_pairs() -> Iterator[None]:
    """While open, :meth:`MailPairs.of` reads a deliveries table (given as columns) once: the
    figures drawn inside share its pairs and the columns read of them, and each aggregate a
    figure is drawn from (:func:`shared_aggregate`) is made once. Closed, nothing is kept."""
    global _shared, _kept
    outer, outer_kept = _shared, _kept
    _shared = {} if outer is None else outer
    _kept = {} if outer_kept is None else outer_kept
    try:
        yield
    finally:
        _shared, _kept = outer, outer_kept


def shared_aggregate(name: str, inputs: tuple[object, ...], make: Callable[[], T]) -> T:
    """``make()``: the aggregate ``name`` (with its parameters) of ``inputs`` (tables, mappings,
    told apart by identity) that a figure is drawn from. Inside :func:`shared_pairs` it is made
    once and kept, for the figures drawn after it and for drawing again; outside, made each time."""
    if _kept is None:
        return make()
    key = (name, *map(id, inputs))
    found = _kept.get(key)
    if found is None:  # the inputs are held beside it, so their ids are not reused while it is kept
        found = _kept[key] = (inputs, make())
    value: T = found[1]
    return value
