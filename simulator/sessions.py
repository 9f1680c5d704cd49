"""Which sessions are open over which hosts and links, so that an outage can cut them.

A protocol exchange registers the process that runs it, with every node and link of its
path, for as long as it lasts. When a host or a link goes down, every session through it is
interrupted (``simpy.Interrupt`` with cause ``"cut"``), in the order the sessions opened.
"""

from __future__ import annotations

from collections.abc import Iterable

import simpy

from .network import Link, Path

CUT = "cut"


class Handle:
    """One open session: the process to interrupt and where its traffic goes."""

    __slots__ = ("links", "nodes", "open", "process", "seq")

    def __init__(self, seq: int, process: simpy.Process, nodes: tuple[str, ...], links: tuple[Link, ...]) -> None:
        self.seq = seq
        self.process = process
        self.nodes = nodes
        self.links = links
        self.open = True


class Sessions:
    """The registry of open sessions, indexed by node and by link."""

    def __init__(self) -> None:
        self._by_node: dict[str, dict[int, Handle]] = {}
        self._by_link: dict[Link, dict[int, Handle]] = {}
        self._seq = 0

    def open(self, process: simpy.Process, path: Path | None, endpoints: Iterable[str] = ()) -> Handle:
        """Register ``process`` as a session over ``path`` (or, while connecting, just its endpoints)."""
        self._seq += 1
        nodes = tuple(dict.fromkeys((*endpoints, *(path.nodes if path else ()))))
        links = path.links if path else ()
        handle = Handle(self._seq, process, nodes, links)
        for node in nodes:
            self._by_node.setdefault(node, {})[handle.seq] = handle
        for link in links:
            self._by_link.setdefault(link, {})[handle.seq] = handle
        return handle

    def close(self, handle: Handle) -> None:
        if not handle.open:
            return
        handle.open = False
        for node in handle.nodes:
            self._by_node[node].pop(handle.seq, None)
        for link in handle.links:
            self._by_link[link].pop(handle.seq, None)

    def cut_node(self, node: str) -> int:
        """Interrupt every session to, from or through ``node``; returns how many."""
        return self._cut(self._by_node.get(node, {}))

    def cut_link(self, link: Link) -> int:
        """Interrupt every session whose path crosses ``link``; returns how many."""
        return self._cut(self._by_link.get(link, {}))

    def _cut(self, handles: dict[int, Handle]) -> int:
        victims = [handles[k] for k in sorted(handles)]
        for handle in victims:
            self.close(handle)
            if handle.process.is_alive:
                handle.process.interrupt(CUT)
        return len(victims)
