"""Which sessions are open over which hosts and links, so that an outage can cut them.

A protocol exchange registers the process that runs it, with every node and link of its
path, for as long as it lasts. When a host or a link goes down, every session through it is
interrupted (``simpy.Interrupt`` with cause ``"cut"``), in the order the sessions opened.

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

from .network import Link, Path

CUT = "cut"


class Handle:
    """One open session: the process to interrupt (or, for a tail, the callback) and its path."""

    __slots__ = ("expires_s", "links", "nodes", "on_cut", "process", "seq")

    def __init__(
        self,
        seq: int,
        process: simpy.Process | None,
        nodes: tuple[str, ...],
        links: tuple[Link, ...],
        on_cut: Callable[[], None] | None = None,
        expires_s: float = 0.0,
    ) -> None:
        self.seq = seq
        self.process = process
        self.nodes = nodes
        self.links = links
        self.on_cut = on_cut
        self.expires_s = expires_s


_UNREGISTERED = Handle(0, None, (), ())


class Sessions:
    """The registry of open sessions, in the order they opened."""

    def __init__(self, env: simpy.Environment, enabled: bool = True) -> None:
        self.env = env
        self.enabled = enabled  # False when nothing can ever cut a session (a scenario without outages)
        self._open: dict[int, Handle] = {}
        self._tails: deque[Handle] = deque()
        self._seq = 0

    def open(self, process: simpy.Process, path: Path | None, endpoints: Iterable[str] = ()) -> Handle:
        """Register ``process`` as a session over ``path`` (or, while connecting, just its endpoints)."""
        if not self.enabled:
            return _UNREGISTERED
        self._seq += 1
        nodes = path.nodes if path is not None else ()
        if endpoints:
            nodes = (*endpoints, *nodes)
        handle = Handle(self._seq, process, nodes, path.links if path is not None else ())
        self._open[self._seq] = handle
        return handle

    def tail(self, path: Path, until_s: float, on_cut: Callable[[], None]) -> None:
        """Keep a finished exchange cuttable until ``until_s``: the server's final reply is still
        on its way back. If an outage cuts it before then, ``on_cut()`` is called instead of
        interrupting a process (the client never learns the exchange succeeded)."""
        if not self.enabled:
            return
        now = self.env.now
        tails = self._tails
        while tails and tails[0].expires_s <= now:
            self._open.pop(tails.popleft().seq, None)
        if until_s <= now:
            return
        self._seq += 1
        handle = Handle(self._seq, None, path.nodes, path.links, on_cut, until_s)
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
            if handle.on_cut is not None:
                if handle.expires_s > now:
                    handle.on_cut()
                    cut += 1
            elif handle.process is not None and handle.process.is_alive:
                handle.process.interrupt(CUT)
                cut += 1
        return cut
