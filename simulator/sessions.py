"""Which sessions are open over which hosts and links, so that an outage can cut them.

A protocol exchange registers what to cut (a callback, or the process of a polling device) with
every node and link of its path, for as long as it lasts. When a host or a link goes down, every
session through it is cut, in the order the sessions opened: a callback is called at the current
time ahead of ordinary events (where SimPy resumes an interrupted process), a process is
interrupted (``simpy.Interrupt`` with cause ``"cut"``).

A session whose server has accepted but whose final reply is still travelling back stays
cuttable as a *tail* (no process waits for it): an outage in that window calls its callback,
so the client treats the exchange as failed and sends again, which gives a duplicate.

Opening and closing cost one dict operation each: outages are rare, so a cut scans the open
sessions rather than every session keeping per-node and per-link indexes up to date.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable

import simpy

from . import kernel
from .network import Link, Path

CUT = "cut"


OnCut = Callable[[], None]


Cuttable = OnCut | simpy.Process | None
Handle = int  # what ``open`` returns and ``close`` takes: the session's number (0: not registered)


class Sessions:
    """The registry of open sessions, in the order they opened.

    Each open session is one entry ``number -> (what to cut, nodes, links, expires_s)``: a tuple,
    so that opening and closing, once or twice per message, cost no object of their own;
    ``expires_s`` is 0 for a session and the expiry of a tail.
    """

    def __init__(self, env: simpy.Environment, enabled: bool = True) -> None:
        self.env = env
        self.clock = kernel.clock(env)
        self.enabled = enabled  # False when nothing can ever cut a session (a scenario without outages)
        self._open: dict[int, tuple[Cuttable, tuple[str, ...], tuple[Link, ...], float]] = {}
        self._tails: deque[tuple[float, int]] = deque()  # (expires_s, number), in the order they were kept
        self._seq = 0

    def open(self, on_cut: OnCut | simpy.Process, path: Path | None, endpoints: Iterable[str] = ()) -> Handle:
        """Register a session over ``path`` (or, while connecting, just its endpoints): ``on_cut()``
        is called if an outage cuts it (a process is interrupted instead)."""
        if not self.enabled:
            return 0
        self._seq = seq = self._seq + 1
        if path is None:
            self._open[seq] = (on_cut, tuple(endpoints), (), 0.0)
        else:
            self._open[seq] = (on_cut, (*endpoints, *path.nodes) if endpoints else path.nodes, path.links, 0.0)
        return seq

    def tail(self, path: Path, until_s: float, on_cut: OnCut) -> None:
        """Keep a finished exchange cuttable until ``until_s``: the server's final reply is still
        on its way back. If an outage cuts it before then, ``on_cut()`` is called instead of
        interrupting a process (the client never learns the exchange succeeded)."""
        if not self.enabled:
            return
        now = self.clock()
        self._expire(now)
        if until_s <= now:
            return
        self._seq = seq = self._seq + 1
        self._open[seq] = (on_cut, path.nodes, path.links, until_s)
        self._tails.append((until_s, seq))

    def _expire(self, now: float) -> None:
        """Forget the tails that have expired by ``now``."""
        tails, entries = self._tails, self._open
        while tails and tails[0][0] <= now:
            entries.pop(tails.popleft()[1], None)

    def tails_until(self) -> float:
        """When the last tail still open expires (0 when none is)."""
        self._expire(self.clock())
        return max((expires_s for expires_s, seq in self._tails if seq in self._open), default=0.0)

    def close(self, handle: Handle | None) -> None:
        """Forget a session (None or 0: one never registered, or already closed)."""
        if handle:
            self._open.pop(handle, None)

    def __len__(self) -> int:
        return len(self._open)

    def cut_node(self, node: str) -> int:
        """Interrupt every session to, from or through ``node``; returns how many."""
        return self._cut([seq for seq, entry in self._open.items() if node in entry[1]])

    def cut_link(self, link: Link) -> int:
        """Interrupt every session whose path crosses ``link``; returns how many."""
        return self._cut([seq for seq, entry in self._open.items() if link in entry[2]])

    def _cut(self, victims: list[int]) -> int:
        now = self.clock()
        entries = [self._open[seq] for seq in victims]
        cut = 0
        for seq, (on_cut, _nodes, _links, expires_s) in zip(victims, entries, strict=True):
            self.close(seq)
            if expires_s:  # a tail
                if expires_s > now and callable(on_cut):
                    on_cut()
                    cut += 1
            elif isinstance(on_cut, simpy.Process):
                if on_cut.is_alive:
                    on_cut.interrupt(CUT)
                    cut += 1
            elif on_cut is not None:
                kernel.call_soon(self.env, _Cut(on_cut))
                cut += 1
        return cut


class _Cut:
    """Calls a session's cut handler from an event's callbacks."""

    __slots__ = ("on_cut",)

    def __init__(self, on_cut: OnCut) -> None:
        self.on_cut = on_cut

    def __call__(self, _event: simpy.Event) -> None:
        self.on_cut()
