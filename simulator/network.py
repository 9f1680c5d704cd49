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


WAITING, MOVING, TAIL, FINISHED, CANCELLED = range(5)


class Flow:
    """A transfer: an optional lead-in delay, its bits draining through the shared links, and an
    optional tail delay; ``done`` fires at the end of the tail.

    Each stage is one timer. Whoever waits on ``done`` is resumed once, by the last timer: the
    waiters are handed over to it when it is made, so an undisturbed transfer costs no more
    events than its stages and a single process resumption.
    """

    __slots__ = ("done", "ended_s", "env", "links", "rate_bps", "remaining_bits", "seq", "stage", "started_s",
                 "tail_s", "timer", "updated_s")

    def __init__(self, env: simpy.Environment, links: tuple[Link, ...], bits: float, seq: int, tail_s: float) -> None:
        self.env = env
        self.seq = seq  # creation order: ties between flows are broken by it, never by memory address
        self.done = env.event()  # never scheduled itself: its waiters move to the final timer
        self.timer: simpy.Event | None = None  # the timer of the current stage
        self.stage = WAITING
        self.links = links
        self.remaining_bits = bits
        self.rate_bps = 0.0
        self.updated_s = env.now
        self.tail_s = tail_s
        self.started_s = self.ended_s = env.now

    @property
    def finished(self) -> bool:
        return self.stage >= FINISHED


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

    def transfer(self, path: Path, size_bytes: int, start_in_s: float = 0.0, tail_s: float = 0.0) -> Flow:
        """Move ``size_bytes`` over ``path`` after ``start_in_s``; ``flow.done`` fires ``tail_s``
        after the last bit has left. On a path with no limited link the bits take no time.
        """
        env = self.env
        self._flow_seq += 1
        links = path.limited_links if size_bytes > 0 else ()
        flow = Flow(env, links, 8.0 * size_bytes, self._flow_seq, tail_s)
        if not links and start_in_s + tail_s <= 0:  # nothing to wait for: no event at all
            flow.stage = FINISHED
            flow.done._ok, flow.done._value = True, None
            flow.done.callbacks = None  # type: ignore[assignment]
        elif not links:
            self._stage(flow, TAIL, start_in_s + tail_s)
        elif start_in_s > 0:
            self._stage(flow, WAITING, start_in_s)
        else:
            self._begin(flow)
        return flow

    def cancel(self, flow: Flow) -> None:
        """Abandon a transfer (its session was cut); the others speed up."""
        if flow.stage >= FINISHED:
            return
        moving = flow.stage == MOVING
        flow.stage = CANCELLED
        if moving:
            for link in flow.links:
                link.flows.discard(flow)
            self._reshare(flow.links)

    # ---- stages ------------------------------------------------------------------------------

    def _stage(self, flow: Flow, stage: int, delay_s: float) -> None:
        """Enter ``stage``; WAITING and TAIL run a timer, FINISHED resumes the waiters now."""
        flow.stage = stage
        if stage == FINISHED:
            if flow.timer is None:  # nothing was ever scheduled: finish with one immediate event
                timer = self.env.timeout(0.0)
                timer.callbacks.append(lambda event, f=flow: self._timer_fired(f, event))
                flow.timer = timer
                _hand_over(flow.done, timer)
                flow.stage = TAIL
            return
        timer = self.env.timeout(delay_s)
        timer.callbacks.append(lambda event, f=flow: self._timer_fired(f, event))
        flow.timer = timer
        if stage == TAIL:
            _hand_over(flow.done, timer)

    def _timer_fired(self, flow: Flow, timer: simpy.Event) -> None:
        if timer is not flow.timer or flow.stage >= FINISHED:
            return  # superseded by a later reshare, or cancelled
        if flow.stage == WAITING:
            self._begin(flow)
        elif flow.stage == MOVING:
            self._drained(flow)
        else:  # TAIL: the waiters moved onto this timer are resumed right after this callback
            flow.stage = FINISHED
            flow.done._ok = True  # the done event now reads as having happened (SimPy internals)
            flow.done._value = None
            flow.done.callbacks = None  # type: ignore[assignment]

    def _begin(self, flow: Flow) -> None:
        flow.stage = MOVING
        flow.started_s = flow.updated_s = self.env.now
        for link in flow.links:
            link.flows.add(flow)
        flow.timer = None
        self._reshare(flow.links)

    def _drained(self, flow: Flow) -> None:
        flow.ended_s = self.env.now
        flow.remaining_bits = 0.0
        flow.rate_bps = 0.0
        for link in flow.links:
            link.flows.discard(flow)
        self._reshare(flow.links)
        flow.timer = None
        self._stage(flow, TAIL if flow.tail_s > 0 else FINISHED, flow.tail_s)

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
            if rate == flow.rate_bps and flow.timer is not None:
                continue  # its completion time is unchanged
            flow.rate_bps = rate
            timer = self.env.timeout(flow.remaining_bits / rate)
            timer.callbacks.append(lambda event, f=flow: self._timer_fired(f, event))
            flow.timer = timer


def _by_seq(flow: Flow) -> int:
    return flow.seq


def _hand_over(done: simpy.Event, timer: simpy.Event) -> None:
    """Move whatever waits on ``done`` to ``timer`` (after the flow's own callback there).

    A process that moves is re-pointed at the timer so that an interrupt still unhooks it from
    the right event. A process that yields ``done`` later is hooked there directly.
    """
    waiters = done.callbacks
    done.callbacks = timer.callbacks  # later waiters attach straight to the timer
    timer.callbacks.extend(waiters)
    for callback in waiters:
        owner = getattr(callback, "__self__", None)
        if isinstance(owner, simpy.Process) and owner._target is done:
            owner._target = timer
