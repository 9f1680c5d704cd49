"""Which records of the event log a result folder keeps as a file: ``--events full|none|KIND[,KIND...]``.

The derived tables and summary.json always come from the whole log in memory; this choice only
decides what ``events.csv`` (or ``events.parquet``) holds: every record (``full``, the default),
no file at all (``none``), or only the records of some event kinds. A folder without the full
log still has its tables and summary, but cannot be replotted (plots and journeys read the log).
"""

from __future__ import annotations

from dataclasses import dataclass

from .eventkinds import KINDS

__all__ = ["EVENT_KINDS", "FULL", "NONE", "EventsChoice", "parse_events"]

FULL, NONE = "full", "none"

EVENT_KINDS: tuple[str, ...] = tuple(KINDS)
"""Every event kind the log writes (:mod:`simulator.eventkinds`), in the order docs/events.md lists them."""


@dataclass(frozen=True)
class EventsChoice:
    """What the event-log file keeps: every record (``kinds`` None), none (empty), or those kinds."""

    kinds: frozenset[str] | None = None

    @property
    def full(self) -> bool:
        return self.kinds is None

    @property
    def writes_file(self) -> bool:
        """Whether an event-log file is written at all."""
        return self.kinds is None or bool(self.kinds)

    @property
    def text(self) -> str:
        """``full``, ``none`` or the kinds, comma-separated in :data:`EVENT_KINDS` order."""
        if self.kinds is None:
            return FULL
        return ",".join(k for k in EVENT_KINDS if k in self.kinds) or NONE


def parse_events(text: str | EventsChoice) -> EventsChoice:
    """``full``, ``none`` or a comma-separated list of event kinds; raises ValueError naming
    unknown kinds and the known ones."""
    if isinstance(text, EventsChoice):
        return text
    words = [w.strip() for w in str(text).split(",")]
    if words == [FULL]:
        return EventsChoice()
    if words == [NONE]:
        return EventsChoice(frozenset())
    if any(w in (FULL, NONE) for w in words):
        raise ValueError(f"{text!r}: 'full' and 'none' stand alone, not in a list of event kinds")
    if not all(words):
        raise ValueError(f"{text!r}: an empty event kind; give full, none, or event kinds separated by commas")
    unknown = [w for w in words if w not in EVENT_KINDS]
    if unknown:
        names = ", ".join(repr(w) for w in unknown)
        raise ValueError(f"unknown event kind{'s' if len(unknown) > 1 else ''} {names}; "
                         f"give full, none, or some of: {', '.join(EVENT_KINDS)}")
    return EventsChoice(frozenset(words))
