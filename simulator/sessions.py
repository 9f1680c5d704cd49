"""Which sessions are open over which hosts and links, so that an outage can cut them.

A protocol exchange registers the process that runs it, with every node and link of its
path, for as long as it lasts. When a host or a link goes down, every session through it is
interrupted (``simpy.Interrupt`` with cause ``"cut"``), in the order the sessions opened.

Opening and closing cost one dict operation each: outages are rare, so a cut scans the open
sessions rather than every session keeping per-node and per-link indexes up to date.
"""

from __future__ import annotations

from collections.abc import Iterable

import simpy

from .network import Link, Path

CUT = "cut"


class Handle:
    """One open session: the process to interrupt and where its traffic goes."""

    __slots__ = ("links", "nodes", "process", "seq")

    def __init__(self, seq: int, process: simpy.Process, nodes: tuple[str, ...], links: tuple[Link, ...]) -> None:
        self.seq = seq
        self.process = process
        self.nodes = nodes
        self.links = links


class Sessions:
    """The registry of open sessions, in the order they opened."""

    def __init__(self) -> None:
        self._open: dict[int, Handle] = {}
        self._seq = 0

    def open(self, process: simpy.Process, path: Path | None, endpoints: Iterable[str] = ()) -> Handle:
        """Register ``process`` as a session over ``path`` (or, while connecting, just its endpoints)."""
        self._seq += 1
        nodes = path.nodes if path is not None else ()
        if endpoints:
            nodes = (*endpoints, *nodes)
        handle = Handle(self._seq, process, nodes, path.links if path is not None else ())
        self._open[self._seq] = handle
        return handle

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
        for handle in victims:
            self.close(handle)
            if handle.process.is_alive:
                handle.process.interrupt(CUT)
        return len(victims)
