"""A CSV writer that takes a table as columns and writes exactly what the csv module would.

The csv module writes a table row by row: one Python call per row, one conversion per cell.
Most of the result folder's cells are of one type per column (every ``time`` a float, every
``server`` a word), so here each column is turned into text at once (:func:`column_cells`: one
call for a column of floats, :func:`simulator.float_text.float_reprs`, one ``map(repr, ...)`` for
other numbers, nothing to do for a column of words), and a chunk of lines is one ``"".join`` of
the cells laid out between their commas and line ends (no string per line). A caller that has a
column's cells already (quoted by :func:`quote_cells`, or words known to need no quoting) gives
them as they are.

pyarrow's CSV writer was not used, as it neither writes floats as Python's shortest text nor
quotes as the csv module does, and a CSV run should not import it.

The text is the csv module's (``lineterminator="\\n"``, minimal quoting): None is an empty cell,
a float its ``repr``, anything else its ``str``; a cell holding the delimiter, the quote or a
line feed is quoted, its quotes doubled. A rare cell with a carriage return in it is written by
the csv module itself, whose quoting of ``\\r`` differs between Python versions.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager
from itertools import repeat
from operator import contains, or_
from pathlib import Path
from typing import Any

from .float_column import FloatColumn

__all__ = ["CHUNK_ROWS", "cell", "cells", "column_cells", "columns_by_name", "columns_of", "csv_file", "quote_cells",
           "write_csv"]

CHUNK_ROWS = 16_384
"""Lines made into text at a time, so a large table holds one chunk of text beside its columns."""
_QUOTED = (",", '"', "\n", "\r")
_NUMBERS = frozenset({float, int, bool, type(None)})
"""Types whose ``repr`` is their cell (``"None"`` apart) and never needs quoting."""
_WORDS = frozenset({str, type(None)})
_EMPTY_FOR_NONE: Callable[[Any, Any], Any] = {None: ""}.get
"""``_EMPTY_FOR_NONE(v, v)``: ``""`` for None, else ``v`` (a C call per value in a ``map``)."""
_EMPTY_FOR_NONE_TEXT: Callable[[str, str], str] = {"None": ""}.get
"""The same for the ``repr`` of a number or None (no number's text is ``"None"``)."""


def cell(value: Any) -> str:
    """CSV text of a value: empty for None, exact shortest text for floats, else its ``str``."""
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value)
    return str(value)


def cells(values: Sequence[Any]) -> list[str]:
    """The text of each value as the csv module writes it (unquoted): one conversion for the
    whole column when its values are all of one plain type, or numbers and None, or words and None
    (a :class:`FloatColumn`'s from its array, with no float object made)."""
    if isinstance(values, FloatColumn):
        return _column_texts(values)
    return _texts(values, set(map(type, values)))


def _column_texts(column: FloatColumn) -> list[str]:
    """The cells of a :class:`FloatColumn`: its floats' text, empty where it has no value."""
    import numpy as np

    from .float_text import float_reprs

    texts = float_reprs(column.values)
    if column.known is not None:
        for i in np.flatnonzero(~column.known).tolist():
            texts[i] = ""
    return texts


def _texts(values: Sequence[Any], types: set[type]) -> list[str]:
    """:func:`cells` of ``values``, whose types are ``types``."""
    if types <= {str}:
        return list(values)
    if types == {float}:
        from .float_text import float_reprs

        return float_reprs(values)
    if types <= _NUMBERS:
        texts = list(map(repr, values))
        return list(map(_EMPTY_FOR_NONE_TEXT, texts, texts)) if type(None) in types else texts
    if types <= _WORDS:
        return list(map(_EMPTY_FOR_NONE, values, values))
    return list(map(cell, values))


def quote_cells(texts: list[str]) -> list[str]:
    """Texts as the csv module writes them as cells: those holding the delimiter, the quote or a
    line feed quoted, their quotes doubled (a carriage return: the csv module's own text). The
    texts themselves when none needs it (one scan of them all); which texts need it is found by a
    C call per text for each of those characters the texts hold, not a Python call per text."""
    joined = "".join(texts)
    if not any(q in joined for q in _QUOTED):
        return texts
    if "\r" in joined:
        return list(map(_csv_module_cell, texts))
    held = [q for q in _QUOTED[:3] if q in joined]  # (one at least: no carriage return)
    needs: Iterable[bool] = map(contains, texts, repeat(held[0]))
    for q in held[1:]:
        needs = map(or_, needs, map(contains, texts, repeat(q)))
    return ['"' + text.replace('"', '""') + '"' if need else text for text, need in zip(texts, needs, strict=True)]


def _csv_module_cell(text: str) -> str:
    """The cell the csv module writes for ``text`` (whose quoting of ``\\r`` differs between versions)."""
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerow((text, ""))
    return out.getvalue()[:-2]  # the cell without the empty one after it and the line end


def column_cells(values: Sequence[Any]) -> list[str]:
    """Each value's cell as the csv module writes it: its text (:func:`cells`), quoted where needed
    (:func:`quote_cells`; a column of numbers is never looked at, as no number's text needs it)."""
    if isinstance(values, FloatColumn):
        return _column_texts(values)
    types = set(map(type, values))
    texts = _texts(values, types)
    return texts if types <= _NUMBERS else quote_cells(texts)


def _chunk_text(columns: Sequence[Sequence[Any]], start: int, stop: int, as_cells: Collection[int]) -> str:
    """Lines ``start`` to ``stop`` of the table: each column's cells laid into one list between the
    commas, a line end after each line's last cell, then joined at once."""
    width, rows = len(columns), stop - start
    laid: list[str] = [","] * (2 * width * rows)
    for k, column in enumerate(columns):
        part = column[start:stop]
        laid[2 * k::2 * width] = part if k in as_cells else column_cells(part)
    laid[2 * width - 1::2 * width] = ["\n"] * rows
    return "".join(laid)


@contextmanager
def csv_file(path: Path, header: Sequence[str]) -> Iterator[Callable[..., None]]:
    """Open ``path`` as a CSV table with ``header`` and give a function that appends rows given as
    columns (all of one length, in ``header``'s order), so a large table can be written a part at a
    time: ``write(columns, as_cells=())``, where ``as_cells`` are the positions of columns given as
    their cells already (strings as the csv module writes them: :func:`quote_cells`, or words
    that need no quoting), written as they are. ValueError for columns that do not fit the header."""
    if len(header) < 2:
        raise ValueError(f"{path.name}: a header of {len(header)} column(s); at least 2")

    def write(columns: Sequence[Sequence[Any]], as_cells: Collection[int] = ()) -> None:
        _check(path, header, columns)
        rows = len(columns[0])
        for start in range(0, rows, CHUNK_ROWS):
            f.write(_chunk_text(columns, start, min(start + CHUNK_ROWS, rows), as_cells))

    with open(path, "w", newline="") as f:
        csv.writer(f, lineterminator="\n").writerow(header)
        yield write


def write_csv(path: Path, header: Sequence[str], columns: Sequence[Sequence[Any]]) -> None:
    """Write the table whose columns are ``columns`` (all of one length, in ``header``'s order) as
    ``path``; ValueError for columns that do not fit the header (and no file is written)."""
    _check(path, header, columns)
    with csv_file(path, header) as write:
        write(columns)


def _check(path: Path, header: Sequence[str], columns: Sequence[Sequence[Any]]) -> None:
    if len(columns) != len(header):
        raise ValueError(f"{path.name}: {len(columns)} columns for a header of {len(header)}")
    if any(len(column) != len(columns[0]) for column in columns):
        raise ValueError(f"{path.name}: columns of different lengths")


def columns_of(rows: Iterable[dict[str, Any]], header: Sequence[str]) -> list[list[Any]]:
    """Rows (dicts keyed by column name) as columns in ``header``'s order."""
    rows = rows if isinstance(rows, list) else list(rows)
    return [[row[name] for row in rows] for name in header]


def columns_by_name(rows: Iterable[dict[str, Any]], header: Sequence[str]) -> dict[str, Sequence[Any]]:
    """Rows (dicts keyed by column name) as a column per name of ``header``."""
    return dict(zip(header, columns_of(rows, header), strict=True))
