"""The network: topology, lowest-latency routing, link state, and fair-shared bandwidth.

Links are undirected edges of a networkx graph with a latency and an optional bandwidth.
A path's one-way delay ``d`` is the sum of its links' latencies; routes take the lowest total
latency and are recomputed when a link or a host goes down or comes back.

Bandwidth is shared by processor sharing: each transfer in progress gets, on every limited
link it crosses, an equal share of that link's bandwidth, and moves at the smallest of those
shares (its bottleneck). Shares are recomputed only when a transfer starts or ends, so an
uncontended transfer costs a single timeout. On a single shared link this is exactly M/G/1-PS.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

import networkx as nx
import simpy


class Link:
    """One physical link between two nodes; ``bandwidth_bps`` None means unlimited."""

    __slots__ = ("a", "b", "bandwidth_bps", "flows", "latency_s", "name", "up_count")

    def __init__(self, a: str, b: str, latency_s: float, bandwidth_bps: float | None) -> None:
        self.a, self.b = a, b
        self.name = f"{a}--{b}"
        self.latency_s = latency_s
        self.bandwidth_bps = bandwidth_bps
        self.flows: set[Flow] = set()
        self.up_count = 0  # number of overlapping outages holding it down

    @property
    def up(self) -> bool:
        return self.up_count == 0


@dataclass(frozen=True, slots=True)
class Path:
    """A route between two nodes, fixed for the life of a session."""

    nodes: tuple[str, ...]
    links: tuple[Link, ...]
    delay_s: float  # one-way delay d

    @property
    def rtt_s(self) -> float:
        return 2.0 * self.delay_s

    @property
    def limited_links(self) -> tuple[Link, ...]:
        return tuple(link for link in self.links if link.bandwidth_bps is not None)


class Flow:
    """A transfer in progress: its remaining bits drain at ``rate_bps`` until it finishes.

    ``done`` is the event that fires when the last bit has left: the completion timer in force.
    When the flow's rate changes, a new timer replaces it and whoever waits on the old one is
    moved to the new one, so an undisturbed transfer costs exactly one event.
    """

    __slots__ = ("_done", "env", "finished", "links", "rate_bps", "remaining_bits", "seq", "updated_s")

    def __init__(self, env: simpy.Environment, links: tuple[Link, ...], bits: float, seq: int) -> None:
        self.env = env
        self.seq = seq  # creation order: ties between flows are broken by it, never by memory address
        self._done: simpy.Event | None = None
        self.finished = False
        self.links = links
        self.remaining_bits = bits
        self.rate_bps = 0.0
        self.updated_s = env.now

    @property
    def instant(self) -> bool:
        """True when the transfer took no time (no limited link, or nothing to send)."""
        return self.finished and self._done is None

    @property
    def done(self) -> simpy.Event:
        if self._done is None:  # an instant transfer: an event that has already happened
            self._done = self.env.event()
            self._done.succeed()
        return self._done


class Network:
    """Routing over the link graph, and the processor-sharing scheduler of transfers."""

    def __init__(self, env: simpy.Environment, links: Iterable[Any]) -> None:
        self.env = env
        self.graph: nx.Graph = nx.Graph()
        self.links: dict[frozenset[str], Link] = {}
        for spec in links:
            link = Link(spec.a, spec.b, float(spec.latency_s), spec.bandwidth_bps)
            self.links[frozenset((spec.a, spec.b))] = link
            self.graph.add_edge(spec.a, spec.b, link=link, weight=link.latency_s)
        self.down_nodes: dict[str, int] = {}
        self._routes: dict[tuple[str, str], Path | None] = {}
        self._flow_seq = 0

    # ---- topology and state ---------------------------------------------------------------

    def link(self, a: str, b: str) -> Link:
        return self.links[frozenset((a, b))]

    def set_link_up(self, link: Link, up: bool) -> None:
        link.up_count += -1 if up else 1
        self._routes.clear()

    def set_node_up(self, node: str, up: bool) -> None:
        """A host that is down neither answers nor forwards traffic."""
        count = self.down_nodes.get(node, 0) + (-1 if up else 1)
        if count:
            self.down_nodes[node] = count
        else:
            self.down_nodes.pop(node, None)
        self._routes.clear()

    def path(self, a: str, b: str) -> Path | None:
        """The lowest-latency path from ``a`` to ``b`` over links and hosts that are up."""
        key = (a, b)
        if key not in self._routes:
            self._routes[key] = self._route(a, b)
        return self._routes[key]

    def _route(self, a: str, b: str) -> Path | None:
        if a in self.down_nodes or b in self.down_nodes:
            return None
        if a == b:
            return Path((a,), (), 0.0)
        down = self.down_nodes

        def weight(u: str, v: str, data: dict[str, Any]) -> float | None:
            link: Link = data["link"]
            if not link.up or (v in down and v != b) or (u in down and u != a):
                return None
            return link.latency_s

        try:
            nodes = nx.shortest_path(self.graph, a, b, weight=weight)
        except (nx.NetworkXNoPath, nx.NodeNotFound):
            return None
        hops = tuple(self.link(u, v) for u, v in pairwise(nodes))
        return Path(tuple(nodes), hops, sum(h.latency_s for h in hops))

    # ---- processor-sharing transfers ------------------------------------------------------

    def transfer(self, path: Path, size_bytes: int) -> Flow:
        """Start moving ``size_bytes`` over ``path``; ``flow.done`` fires when the last bit left.

        On a path with no limited link the transfer takes no time (``flow.instant``).
        """
        links = path.limited_links
        self._flow_seq += 1
        flow = Flow(self.env, links, 8.0 * size_bytes, self._flow_seq)
        if not links or size_bytes <= 0:
            flow.finished = True
            return flow
        for link in links:
            link.flows.add(flow)
        self._reshare(links)
        return flow

    def cancel(self, flow: Flow) -> None:
        """Abandon a transfer (its session was cut); the others speed up."""
        if flow.finished:
            return
        flow.finished = True
        for link in flow.links:
            link.flows.discard(flow)
        self._reshare(flow.links)

    def _reshare(self, links: Sequence[Link]) -> None:
        """Recompute the rate of every flow that crosses one of ``links``."""
        now = self.env.now
        if len(links) == 1:
            affected: Iterable[Flow] = links[0].flows
            if len(links[0].flows) > 1:
                affected = sorted(affected, key=_by_seq)
        else:
            merged: set[Flow] = set()
            for link in links:
                merged.update(link.flows)
            affected = sorted(merged, key=_by_seq)
        for flow in affected:
            rate = min(link.bandwidth_bps / len(link.flows) for link in flow.links)  # type: ignore[operator]
            if flow.rate_bps:
                flow.remaining_bits = max(flow.remaining_bits - flow.rate_bps * (now - flow.updated_s), 0.0)
            flow.updated_s = now
            if rate == flow.rate_bps and flow._done is not None:
                continue  # its completion time is unchanged
            flow.rate_bps = rate
            timer = self.env.timeout(flow.remaining_bits / rate)
            timer.callbacks.append(lambda event, f=flow: self._finish(f, event))
            old, flow._done = flow._done, timer
            if old is not None:
                _move_waiters(old, timer)

    def _finish(self, flow: Flow, timer: simpy.Event) -> None:
        if timer is not flow._done or flow.finished:
            return  # superseded by a later reshare, or cancelled
        flow.finished = True
        flow.remaining_bits = 0.0
        flow.rate_bps = 0.0
        for link in flow.links:
            link.flows.discard(flow)
        self._reshare(flow.links)


def _by_seq(flow: Flow) -> int:
    return flow.seq


def _move_waiters(old: simpy.Event, new: simpy.Event) -> None:
    """Hand everything waiting on a superseded completion timer over to its replacement.

    The first callback of every timer is the flow's own completion check; the rest are the
    processes (and conditions) that yielded the timer. A process that moves is re-pointed at
    the new timer so that an interrupt still unhooks it from the right event.
    """
    waiters = old.callbacks[1:]
    del old.callbacks[1:]
    new.callbacks.extend(waiters)
    for callback in waiters:
        owner = getattr(callback, "__self__", None)
        if isinstance(owner, simpy.Process) and owner._target is old:
            owner._target = new
