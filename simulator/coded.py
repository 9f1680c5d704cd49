"""A column of strings drawn from a small set (the event kinds, the nodes), kept as small integer codes.

Each string is stored as its number in the column's table of names: one byte a value while the
table has at most 256 names, two up to 65,536, four beyond (the codes widen when a name past the
limit comes). A list of the same strings would take a pointer (8 bytes) a value. The names are
numbered in the order they first came, after those the column starts with. Strings are numbered
and appended many at a time, each step one C call (a dict lookup gathered by ``itemgetter``, the
numbers packed by ``struct``): about 270 machine instructions a value, where ``array.fromlist``
alone takes 240.
"""

from __future__ import annotations

import struct
from array import array
from collections.abc import Iterable, Sequence
from itertools import compress
from operator import itemgetter
from typing import Any

__all__ = ["CodedColumn", "take"]

_WIDTHS = (("B", 1 << 8), ("H", 1 << 16), ("I", 1 << 32))
"""Array type codes, narrowest first, and how many names each can number."""


def _typecode(names: int) -> str:
    return next(code for code, limit in _WIDTHS if names <= limit)


class CodedColumn:
    """Strings as their numbers (``codes``, an ``array``) in a table (``names``)."""

    __slots__ = ("_number", "codes", "names")

    def __init__(self, names: Iterable[str] = ()) -> None:
        self.names: list[str] = list(names)
        self._number = {name: code for code, name in enumerate(self.names)}
        self.codes: array[int] = array(_typecode(len(self.names)))

    def __len__(self) -> int:
        return len(self.codes)

    def extend(self, strings: Sequence[str]) -> None:
        """Append ``strings``, numbering those the table does not have yet."""
        self.extend_codes(self.encode(strings))

    def encode(self, strings: Sequence[str]) -> list[int]:
        """The numbers of ``strings``, numbering those the table does not have yet (nothing appended)."""
        number = self._number
        try:
            return take(number, strings)
        except KeyError:  # a name not seen before (rare: a run has few of them)
            for name in strings:
                if name not in number:
                    number[name] = len(self.names)
                    self.names.append(name)
            if (wide := _typecode(len(self.names))) != self.codes.typecode:
                self.codes = array(wide, self.codes)
            return take(number, strings)

    def extend_codes(self, codes: Sequence[int]) -> None:
        """Append the values numbered ``codes`` (from :meth:`encode`)."""
        self.codes.frombytes(struct.pack(f"{len(codes)}{self.codes.typecode}", *codes))

    def strings(self, start: int, stop: int) -> list[str]:
        """The strings at ``start`` to ``stop``."""
        return list(map(self.names.__getitem__, self.codes[start:stop]))

    def at(self, positions: Sequence[int]) -> list[str]:
        """The strings at ``positions``."""
        return take(self.names, take(self.codes, positions))

    def compress(self, mask: bytes) -> CodedColumn:
        """A column of the values whose byte in ``mask`` is not zero (the same table)."""
        kept = CodedColumn(self.names)
        kept.codes = array(self.codes.typecode, compress(self.codes, mask))
        return kept


def take(column: Any, keys: Sequence[Any]) -> list[Any]:
    """The items of ``column`` (a list, an ``array``, a dict) at ``keys``, gathered in one C call
    (``itemgetter``) rather than a Python step per item."""
    if len(keys) > 1:
        return list(itemgetter(*keys)(column))
    return [column[key] for key in keys]
