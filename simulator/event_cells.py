"""The ``detail`` cells of ``events.csv``, made once per distinct values of a kind whose values repeat.

Most records repeat values an earlier record of their kind had: a recipient's ``delivered`` and
``retrieved`` values, a queue's length, a message's recipients as each server accepts and
relays it (on the benchmark's 100,000-message log, 58,000 distinct values among the 690,000
records of those kinds). The log keeps equal values of those kinds as one tuple
(:data:`simulator.eventlog.SHARED_KINDS`: the kinds without a float field, whose equal values
write the same text, but ``created``, whose values are each a message's own). So
:class:`DetailCells` keeps, per kind, the cell written for each such tuple by the tuple's
identity (an ``id`` is hashed at once, where a tuple of addresses is hashed anew at each
lookup), and holds the tuple, so that its ``id`` is not another's while the cell is kept. The
records are grouped by kind (:func:`simulator.eventkinds.detail_texts`); a kind's records whose
values were written before cost two C calls each (the ``id``, the lookup), the others are made
into text (:func:`simulator.eventkinds.kind_texts`), each distinct values once, and quoted
(:func:`simulator.csv_columns.quote_cells`). What is kept is bounded (:data:`KEPT_CELLS`): when
full, it starts again empty.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import compress, repeat
from operator import is_
from typing import Any

from .csv_columns import quote_cells
from .eventkinds import detail_texts, kind_texts
from .eventlog import SHARED_KINDS

__all__ = ["KEPT_CELLS", "DetailCells"]

KEPT_CELLS = 65_536
"""The most cells kept for values seen again (about 10 MB with what keeps them)."""


class DetailCells:
    """The detail cells of records given a part of the log at a time, as the csv module writes
    them (quoted where needed), the cells of the kinds of :data:`SHARED_KINDS` kept by values."""

    __slots__ = ("_cells", "_held")

    def __init__(self) -> None:
        self._cells: dict[str, dict[int, str]] = {}  # kind -> id of values -> cell
        self._held: list[tuple[Any, ...]] = []  # the values of the kept cells, so that their ids stay theirs

    def __call__(self, events: Sequence[str], values: Sequence[tuple[Any, ...]]) -> list[str]:
        """The cells of the records whose kinds are ``events`` and values ``values``."""
        return detail_texts(events, values, texts_of=self._kind_cells)

    def _kind_cells(self, event: str, values: Sequence[tuple[Any, ...]]) -> list[str]:
        """The cells of records all of kind ``event``: those of values not kept made (each once) and kept."""
        if event not in SHARED_KINDS:
            return quote_cells(kind_texts(event, values))
        cells = self._cells.setdefault(event, {})
        ids = list(map(id, values))
        found: list[str | None] = list(map(cells.get, ids))
        if None not in found:
            return found  # type: ignore[return-value]  # no None in it
        absent = list(map(is_, found, repeat(None)))
        new = dict(zip(compress(ids, absent), compress(values, absent), strict=True))  # each values once, by id
        made = dict(zip(new, quote_cells(kind_texts(event, list(new.values()))), strict=True))
        if len(self._held) + len(made) > KEPT_CELLS:
            self._held.clear()
            for kept in self._cells.values():
                kept.clear()
        if len(made) <= KEPT_CELLS:
            cells.update(made)
            self._held += new.values()
        return list(map(made.get, ids, found))  # type: ignore[arg-type]  # a cell made now, else the one found
