"""A session's dialogue as data: who says what, and when, counted in one-way delays.

Each protocol module lays its sessions out once as :class:`Stretch` es: runs of commands and
replies that nothing in the simulation can change, each :class:`Line` sent ``at_d`` one-way
delays ``d`` after the stretch's anchor, and ``end_d``, where the stretch ends (where the next
one is anchored, or the session's wait is over). An anchor is a moment the running session
knows: its start (the SYN), the end of the stretch before, the end of a transfer, a wake-up.

Both sides of the program read the same layout. The simulation waits ``end_d * d`` (summed
over the stretches it does not need to stop between, so a session stays one timer or one
transfer's lead-in); the transcripts (:mod:`simulator.transcript`) put each line at
``anchor + at_d * d``, the anchors following one another as the session's timers did. So a
transcript's times cannot drift from the times the session was simulated at.

Offsets are whole one-way delays: a command and its reply are one apart, a command and the
next (after the reply came back) two. :func:`lay_out` places a run of stretches from an anchor.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import NamedTuple

__all__ = ["HANDSHAKE_D", "Line", "Stretch", "lay_out", "span_d"]

HANDSHAKE_D = 3  # SYN, SYN-ACK, ACK: the server speaks first as the handshake's last ACK reaches it


class Line(NamedTuple):
    """One command or reply: ``side`` (``C`` client, ``S`` server) sends it ``at_d`` one-way
    delays after its stretch's anchor. ``says`` names what it is (the transcript words it);
    ``rcpt`` is the recipient it is about, by position (an SMTP RCPT and its reply), else -1."""

    at_d: int
    side: str
    says: str
    rcpt: int = -1


class Stretch(NamedTuple):
    """Lines nothing can interrupt, timed from one anchor, and where the stretch ends."""

    lines: tuple[Line, ...]
    end_d: int

    def at_d(self, says: str) -> int:
        """When the line that ``says`` this is sent (ValueError if the stretch has none)."""
        for line in self.lines:
            if line.says == says:
                return line.at_d
        raise ValueError(f"no {says!r} line in this stretch")


def span_d(stretches: Iterable[Stretch]) -> int:
    """How long a run of stretches lasts, in one-way delays: what a session waits at once."""
    return sum(stretch.end_d for stretch in stretches)


def lay_out(stretches: Sequence[Stretch], anchor_s: float, delay_s: float) -> tuple[list[tuple[float, Line]], float]:
    """Every line of ``stretches`` with its time, the first anchored at ``anchor_s`` and each
    next at the end of the one before; and the end of the last (where what follows starts)."""
    placed: list[tuple[float, Line]] = []
    for stretch in stretches:
        placed.extend((anchor_s + line.at_d * delay_s, line) for line in stretch.lines)
        anchor_s += stretch.end_d * delay_s
    return placed, anchor_s
