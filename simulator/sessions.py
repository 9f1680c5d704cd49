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


class Handle:
    """One open session: what to cut (a callback or a process) and its path; a tail expires."""

    __slots__ = ("expires_s", "links", "nodes", "on_cut", "seq", "tail")

    def __init__(
        self,
        seq: int,
        on_cut: OnCut | simpy.Process | None,
        nodes: tuple[str, ...],
        links: tuple[Link, ...],
        tail: bool = False,
        expires_s: float = 0.0,
    ) -> None:
        self.seq = seq
        self.on_cut = on_cut
        self.nodes = nodes
        self.links = links
        self.tail = tail
        self.expires_s = expires_s


_UNREGISTERED = Handle(0, None, (), ())


class Sessions:
    """The registry of open sessions, in the order they opened."""

    def __init__(self, env: simpy.Environment, enabled: bool = True) -> None:
        self.env = env
        self.clock = kernel.clock(env)
        self.enabled = enabled  # False when nothing can ever cut a session (a scenario without outages)
        self._open: dict[int, Handle] = {}
        self._tails: deque[Handle] = deque()
        self._seq = 0

    def open(self, on_cut: OnCut | simpy.Process, path: Path | None, endpoints: Iterable[str] = ()) -> Handle:
        """Register a session over ``path`` (or, while connecting, just its endpoints): ``on_cut()``
        is called if an outage cuts it (a process is interrupted instead)."""
        if not self.enabled:
            return _UNREGISTERED
        self._seq += 1
        nodes = path.nodes if path is not None else ()
        if endpoints:
            nodes = (*endpoints, *nodes)
        handle = Handle(self._seq, on_cut, nodes, path.links if path is not None else ())
        self._open[self._seq] = handle
        return handle

    def tail(self, path: Path, until_s: float, on_cut: OnCut) -> None:
        """Keep a finished exchange cuttable until ``until_s``: the server's final reply is still
        on its way back. If an outage cuts it before then, ``on_cut()`` is called instead of
        interrupting a process (the client never learns the exchange succeeded)."""
        if not self.enabled:
            return
        now = self.clock()
        tails = self._tails
        while tails and tails[0].expires_s <= now:
            self._open.pop(tails.popleft().seq, None)
        if until_s <= now:
            return
        self._seq += 1
        handle = Handle(self._seq, on_cut, path.nodes, path.links, True, until_s)
        self._open[self._seq] = handle
        tails.append(handle)

    def tails_until(self) -> float:
        """When the last tail still open expires (0 when none is)."""
        now = self.env.now
        tails = self._tails
        while tails and tails[0].expires_s <= now:
            self._open.pop(tails.popleft().seq, None)
        return max((h.expires_s for h in tails if h.seq in self._open), default=0.0)

    def close(self, handle: Handle) -> None:
        self._open.pop(handle.seq, None)

    def __len__(self) -> int:
        return len(self._open)

    def cut_node(self, node: str) -> int:
        """Interrupt every session to, from or through ``node``; returns how many."""
        return self._cut([h for h in self._open.values() if node in h.nodes])

    def cut_link(self, link: Link) -> int:
        """Interrupt every session whose path crosses ``link``; returns how many."""
        return self._cut([h for h in self._open.values() if link in h.links])

    def _cut(self, victims: list[Handle]) -> int:
        now = self.env.now
        cut = 0
        for handle in victims:
            self.close(handle)
            on_cut = handle.on_cut
            if handle.tail:
                if handle.expires_s > now and callable(on_cut):
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
