"""A table's column of times: 8-byte floats in a numpy array, with the cells that are empty marked.

The deliveries, retrievals and queues tables hold a time per row (``submitted_at``, ``delivered_at``,
``retrieved_at``, ``latency_s``, a queue change's ``time``). Held as a list, each is a pointer and,
for most, a float object of its own: 32 bytes a value, about 190 MB of the tables of a million
messages. A :class:`FloatColumn` keeps the values as ``float64`` (8 bytes) and, when some cells
are empty (a bounced pair's ``delivered_at``), a boolean array of the cells that have a value.

It reads as the list it replaces: a sequence of Python floats with None in the empty cells,
equal to any sequence of the same values (a list read back from a folder, say), so the rows,
DataFrames and comparisons of a table do not change. Numeric readers take the array as it is:
``numpy.asarray(column)`` gives the values with NaN in the empty cells (as ``numpy.array`` of the
list gave), and :mod:`simulator.csv_columns` writes the floats' text from the array, without a
float object per value. numpy is imported when a column is first made or read.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, overload

__all__ = ["READ_VALUES", "FloatColumn"]

READ_VALUES = 16_384
"""Values made into Python floats at a time when a column is iterated."""


class FloatColumn(Sequence[float | None]):
    """Floats (``values``, a numpy ``float64`` array), None where ``known`` (a boolean array, or None
    when every cell has a value) is False. The value under an empty cell is never read."""

    __slots__ = ("known", "values")

    def __init__(self, values: Any, known: Any = None) -> None:
        import numpy as np

        self.values = np.asarray(values, dtype=np.float64)
        if known is not None:
            known = np.asarray(known, dtype=np.bool_)
            if len(known) != len(self.values):
                raise ValueError(f"{len(known)} marks for {len(self.values)} values")
            if known.all():
                known = None
        self.known: Any = known

    @classmethod
    def of(cls, cells: Sequence[float | None]) -> FloatColumn:
        """A column of ``cells`` as a table's rows hold them: floats, None where empty (a
        :class:`FloatColumn` is itself)."""
        if isinstance(cells, FloatColumn):
            return cells
        import numpy as np

        known = np.fromiter((cell is not None for cell in cells), dtype=np.bool_, count=len(cells))
        return cls([0.0 if cell is None else cell for cell in cells], known)

    def __len__(self) -> int:
        return len(self.values)

    @overload
    def __getitem__(self, index: int) -> float | None: ...

    @overload
    def __getitem__(self, index: slice) -> FloatColumn: ...

    def __getitem__(self, index: int | slice) -> float | FloatColumn | None:
        if isinstance(index, slice):
            return FloatColumn(self.values[index], None if self.known is None else self.known[index])
        if self.known is not None and not self.known[index]:
            return None
        return float(self.values[index])

    def tolist(self) -> list[float | None]:
        """The cells as Python floats, None where empty."""
        import numpy as np

        cells: list[float | None] = self.values.tolist()
        if self.known is not None:
            for i in np.flatnonzero(~self.known).tolist():
                cells[i] = None
        return cells

    def __iter__(self) -> Iterator[float | None]:
        for start in range(0, len(self.values), READ_VALUES):
            yield from self[start:start + READ_VALUES].tolist()

    def __array__(self, dtype: Any = None, copy: Any = None) -> Any:
        """The values, NaN in the empty cells (a new array when some are empty)."""
        import numpy as np

        if self.known is not None:
            values = np.where(self.known, self.values, np.nan)
        else:
            values = self.values.copy() if copy else self.values
        return values if dtype is None else values.astype(dtype, copy=False)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, FloatColumn):
            return self.tolist() == other.tolist()
        if not isinstance(other, Sequence) or isinstance(other, str | bytes):
            return NotImplemented
        return len(self) == len(other) and self.tolist() == list(other)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        empty = 0 if self.known is None else int((~self.known).sum())
        return f"FloatColumn({len(self)} values, {empty} empty)"

