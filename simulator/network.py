"""The network: topology, lowest-latency routing, link state, and fair-shared bandwidth.

Links are undirected edges of a networkx graph with a latency and an optional bandwidth.
A path's one-way delay ``d`` is the sum of its links' latencies; routes take the lowest total
latency and are recomputed when a link or a host goes down or comes back.

Bandwidth is shared by processor sharing: each transfer in progress gets, on every limited
link it crosses, an equal share of that link's bandwidth, and moves at the smallest of those
shares (its bottleneck). Shares are recomputed only when a transfer starts or ends. A transfer
whose bits move while no other transfer's bits are on its links is a single event, the flow
itself (its lead-in, bits and tail together), until a newcomer's bits would overlap its own; so
is each of k equal transfers starting together on the same links (one message fetched by several
devices at once), which share them equally from start to end. Other transfers that share links finish from one
network clock over a heap of finish times, so k of them at once cost O(k) events. On a single
shared link this is exactly M/G/1-PS.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from heapq import heappop, heappush
from itertools import pairwise
from typing import Any

import networkx as nx
import simpy

from . import kernel
from .binning import Bins, SumSeries


class Link:
    """One physical link between two nodes; ``bandwidth_bps`` None means unlimited."""

    __slots__ = ("a", "b", "bandwidth_bps", "flows", "latency_s", "name", "up")

    def __init__(self, a: str, b: str, latency_s: float, bandwidth_bps: float | None) -> None:
        self.a, self.b = a, b
        self.name = f"{a}--{b}"
        self.latency_s = latency_s
        self.bandwidth_bps = bandwidth_bps
        self.flows: set[Flow] = set()
        self.up = True  # no outage holds it down (simulator.outages counts overlapping ones)


@dataclass(frozen=True, slots=True)
class Path:
    """A route between two nodes, fixed for the life of a session."""

    nodes: tuple[str, ...]
    links: tuple[Link, ...]
    delay_s: float  # one-way delay d
    limited_links: tuple[Link, ...] = ()  # the links with a bandwidth limit
    bottleneck_bps: float = math.inf  # the smallest of their bandwidths
    carrier: SumSeries | None = None  # the bits its links carry per time bin, from the first node to the last
    back_carrier: SumSeries | None = None  # the same, from the last node to the first
    rtt_s: float = field(init=False)  # round trip, 2d (read on every session: kept, not computed)

    def __post_init__(self) -> None:
        object.__setattr__(self, "rtt_s", 2.0 * self.delay_s)


SOLO, WAITING, MOVING, TAIL, FINISHED, CANCELLED = range(6)
_UNKNOWN: Any = object()  # a route not worked out yet (None is a route that does not exist)


class Flow:
    """A transfer: an optional lead-in delay, its bits draining through the shared links, and an
    optional tail delay; ``done`` fires at the end of the tail.

    A transfer alone on its links while its bits move is one event for all three, and that event
    is the flow itself: it is put in the schedule (``kernel.schedule``) for its end, with its
    waiters in its ``callbacks`` after its own :meth:`_end`, so it makes no timer and no second
    callbacks list. So is a transfer whose bits take no time (a lead-in and a tail only). When
    a solo flow's end moves (a twin joins, or a newcomer's bits overlap its own), its waiters move
    to a timer (or a ``done`` event) of its own and its entry in the schedule, superseded, fires
    without effect (``timer`` is then set, or the stage is no longer SOLO or TAIL). Otherwise the
    lead-in and the tail are timers of their own and the draining ends when the network's clock
    finds it done. Whoever waits on ``done`` is resumed once, by the last timer: the waiters are
    handed over to it when it is made.

    Flows are made by :meth:`Network.transfer` (with ``_new_flow``), never by calling the class.
    """

    __slots__ = ("_done", "callbacks", "carrier", "ended_s", "finish_s", "links", "net", "rate_bps",
                 "remaining_bits", "seq", "stage", "started_s", "tail_s", "timer", "updated_s")

    _ok = True  # what the schedule reads of an event it has processed (as of kernel.Alarm)
    _value = None

    # Made by _new_flow, which sets every field (see there for what each holds).
    net: Network
    carrier: SumSeries | None
    seq: int
    _done: simpy.Event | None
    timer: simpy.Event | None
    stage: int
    links: tuple[Link, ...]
    remaining_bits: float
    rate_bps: float
    updated_s: float
    started_s: float
    ended_s: float
    tail_s: float
    finish_s: float
    callbacks: list[Callable[[Any], None]] | None

    # Stages: SOLO (alone on its links while its bits move: one event for lead-in, bits and tail
    # together, the flow itself or, once retimed, a timer; turned into the staged form when
    # another transfer's bits would overlap), WAITING (lead-in timer), MOVING (bits draining at a
    # shared rate: the network's one clock wakes at the earliest finish of all of them), TAIL,
    # FINISHED, CANCELLED.

    def _end(self) -> None:
        """The transfer (with its tail) is over, SOLO or TAIL: its bits are counted. Called by the
        schedule when the flow's own entry comes (see ``end_in_s`` in ``_new_flow``), and by
        :meth:`__call__` when its final timer fires. An own entry that was superseded (a timer
        has been set since, or the flow left the solo form) or of a cancelled flow does nothing."""
        stage = self.stage
        if self.timer is not None or (stage != SOLO and stage != TAIL):
            return
        if stage == SOLO:
            for link in self.links:
                link.flows.discard(self)
            # a solo flow crosses limited links, so it has a route to count its bits in
            self.carrier.spread(self.started_s, self.ended_s, self.remaining_bits)  # type: ignore[union-attr]
        elif not self.links and self.remaining_bits:  # no limited link: the bits took no time
            _carry(self, self.started_s, self.started_s, self.remaining_bits)
        self.stage = FINISHED

    def __call__(self, timer: simpy.Event) -> None:
        """The callback of the flow's timers (the flow is its own callback: no closure per timer)."""
        stage = self.stage
        if timer is not self.timer or stage >= FINISHED:
            return  # superseded by a later reshare, or cancelled
        if stage == WAITING:
            self.net._begin(self)
            return
        # TAIL or SOLO: the waiters moved onto this timer are resumed right after this callback
        self.timer = None  # (spent: _end finishes a flow with no timer pending)
        self._end()
        if self._done is not timer:
            kernel.mark_done(self._done_event())

    @property
    def finished(self) -> bool:
        return self.stage >= FINISHED

    def then(self, callback: Callable[[Any], None]) -> None:
        """Call ``callback(event)`` when the transfer (with its tail) is over: now, if it is."""
        if self.stage >= FINISHED:
            callback(None)
        elif self.is_own_end():
            self.callbacks.append(callback)  # type: ignore[union-attr]  # (is_own_end: a list)
        else:
            self._done_event().callbacks.append(callback)

    @property
    def done(self) -> simpy.Event | Flow:
        """What fires when the transfer (with its tail) is over: the flow itself while its own
        entry in the schedule is its end (a process may yield it as it yields an event)."""
        if self.is_own_end():
            return self
        if self._done is None and self.stage == FINISHED:  # it ended as its own event (or at once) before anyone asked
            kernel.mark_done(self._done_event())
        return self._done_event()

    def is_own_end(self) -> bool:
        """Whether the flow is in the schedule as its own end's event, neither superseded nor yet
        processed: no done event (a flow leaving the solo form gets one), no timer, and its
        ``callbacks`` a list (the schedule sets them to None as it processes the entry)."""
        return self._done is None and self.timer is None and self.callbacks is not None

    def _done_event(self) -> simpy.Event:
        """The flow's done event, made when first asked for (not while it is its own end's event)."""
        done = self._done
        if done is None:
            done = self._done = self.net.env.event()
        return done


def _new_flow(
    net: Network, links: tuple[Link, ...], bits: float, seq: int, tail_s: float, started_s: float, ended_s: float,
    carrier: SumSeries | None, stage: int = WAITING, rate_bps: float = 0.0, end_in_s: float | None = None,
) -> Flow:
    """A new flow, made here rather than by calling the class: calling a class whose ``__init__``
    takes this many arguments costs about 400 instructions more than calling a function (the
    interpreter's class-call path), and a run makes about three flows a message.

    With ``end_in_s`` (a SOLO flow, or a TAIL one with no limited link), the flow is in the
    schedule from now as the event of the whole transfer's end, ``end_in_s`` from now: the
    schedule calls ``Flow._end(flow)``, then whoever waits (see :meth:`Flow.then`)."""
    flow = _bare_flow(Flow)
    flow.net = net
    flow.carrier = carrier  # where its bits are counted per time bin (None: a path of no link)
    flow.seq = seq  # creation order: ties between flows are broken by it, never by memory address
    # What waiters wait on once the flow is not its own end's event: made when first asked for,
    # or the final timer itself (a solo transfer retimed); an event of its own is never scheduled.
    flow._done = None
    flow.timer = None  # the timer of the current stage
    flow.stage = stage
    flow.links = links
    flow.remaining_bits = bits
    flow.rate_bps = rate_bps
    flow.updated_s = flow.started_s = started_s  # when its bits start moving (at this rate)
    flow.ended_s = ended_s  # when its last bit has left (at this rate)
    flow.tail_s = tail_s
    flow.finish_s = math.inf  # when its bits will have drained at the current rate (MOVING)
    # Set while the flow is in the schedule itself (its own end's event): [Flow._end, waiters...].
    flow.callbacks = None
    if end_in_s is not None:
        flow.callbacks = [Flow._end]  # (the function, not a bound method: no object, no cycle)
        kernel.schedule(net.env, end_in_s, flow)
    return flow


_bare_flow = Flow.__new__


class Network:
    """Routing over the link graph, and the processor-sharing scheduler of transfers."""

    def __init__(self, env: simpy.Environment, links: Iterable[Any], bins: Bins | None = None) -> None:
        """``bins`` count the bits each link carries per time bin (default: the default width)."""
        self.env = env
        self.clock = kernel.clock(env)
        self.bins = Bins() if bins is None else bins
        self.graph: nx.Graph = nx.Graph()
        self.links: dict[frozenset[str], Link] = {}
        # The bits carried per time bin, one series per sequence of (link, direction) that paths
        # have taken: a flow's bits are counted once, in its path's series, and summed per link
        # at the end (link_bits). Their number depends on the topology, not on the traffic.
        self.route_bits: dict[tuple[tuple[Link, int], ...], SumSeries] = {}
        for spec in links:
            link = Link(spec.a, spec.b, float(spec.latency_s), spec.bandwidth_bps)
            self.links[frozenset((spec.a, spec.b))] = link
            self.graph.add_edge(spec.a, spec.b, link=link, weight=link.latency_s)
        self.down_nodes: set[str] = set()  # hosts an outage holds down
        self._routes: dict[tuple[str, str], Path | None] = {}
        self._flow_seq = 0
        # Shared transfers finish in the order of this heap of (finish time, seq, flow); one
        # timer (the clock) is set for the earliest. Entries a reshare made stale are skipped.
        self._finishes: list[tuple[float, int, Flow]] = []
        self._clock: simpy.Event | None = None
        self._clock_at_s = math.inf

    # ---- topology and state ---------------------------------------------------------------

    def link(self, a: str, b: str) -> Link:
        return self.links[frozenset((a, b))]

    def set_link_up(self, link: Link, up: bool) -> None:
        """The link works again, or breaks; routes are worked out anew."""
        link.up = up
        self._routes.clear()

    def set_node_up(self, node: str, up: bool) -> None:
        """A host that is down neither answers nor forwards traffic."""
        if up:
            self.down_nodes.discard(node)
        else:
            self.down_nodes.add(node)
        self._routes.clear()

    def path(self, a: str, b: str) -> Path | None:
        """The lowest-latency path from ``a`` to ``b`` over links and hosts that are up."""
        key = (a, b)
        path = self._routes.get(key, _UNKNOWN)  # (one lookup: this runs on every hop)
        if path is _UNKNOWN:
            path = self._routes[key] = self._route(a, b)
        return path

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
        limited = tuple(h for h in hops if h.bandwidth_bps is not None)
        bottleneck = min((h.bandwidth_bps for h in hops if h.bandwidth_bps is not None), default=math.inf)
        forward = tuple((h, 0 if h.a == u else 1) for h, u in zip(hops, nodes, strict=False))
        back = tuple((h, 1 - way) for h, way in reversed(forward))
        return Path(tuple(nodes), hops, sum(h.latency_s for h in hops), limited, bottleneck,
                    self._route_series(forward), self._route_series(back))

    def _route_series(self, route: tuple[tuple[Link, int], ...]) -> SumSeries | None:
        if not route:
            return None
        series = self.route_bits.get(route)
        if series is None:
            series = self.route_bits[route] = self.bins.sums()
        return series

    def link_bits(self, count: int) -> list[tuple[Link, list[float], list[float]]]:
        """Per link (in the scenario's order): the bits it carried a->b and b->a in each of the
        first ``count`` time bins (anything later counted in the last)."""
        totals = {link: ([0.0] * count, [0.0] * count) for link in self.links.values()}
        for route, series in self.route_bits.items():
            bits = series.finish(count)
            for link, way in route:
                into = totals[link][way]
                for k, b in enumerate(bits):
                    into[k] += b
        return [(link, a_b, b_a) for link, (a_b, b_a) in totals.items()]

    # ---- processor-sharing transfers ------------------------------------------------------

    def transfer(self, path: Path, size_bytes: int, start_in_s: float = 0.0, tail_s: float = 0.0,
                 backward: bool = False) -> Flow:
        """Move ``size_bytes`` over ``path`` after ``start_in_s``; ``flow.done`` fires ``tail_s``
        after the last bit has left. On a path with no limited link the bits take no time. The bits
        go from the path's first node to its last, or with ``backward`` from its last to its first
        (the direction they are counted in, per link and time bin).
        """
        now = self.clock()
        self._flow_seq = seq = self._flow_seq + 1
        bits = 8.0 * size_bytes
        links = path.limited_links if size_bytes > 0 else ()
        start_s = now + start_in_s
        carrier = path.back_carrier if backward else path.carrier
        if not links:  # the bits take no time
            if start_in_s + tail_s <= 0:  # nothing to wait for: no event at all
                flow = _new_flow(self, links, bits, seq, tail_s, start_s, start_s, carrier, FINISHED)
                _carry(flow, now, now, bits)
            else:  # nothing else can change when it ends: it is its end's event
                flow = _new_flow(self, links, bits, seq, tail_s, start_s, start_s, carrier, TAIL, 0.0,
                                 start_in_s + tail_s)
            return flow
        rate = path.bottleneck_bps
        end_s = start_s + bits / rate  # at the full rate
        crowded = False
        for link in links:
            if link.flows:
                overlapping = self._overlapping(links, start_s, end_s)
                if overlapping:
                    twins = self._twins(overlapping, links, start_s, bits, rate)
                    if twins is None:
                        crowded = True
                    else:  # one more of a group of equal transfers moving together
                        rate /= len(twins) + 1
                        end_s = start_s + bits / rate
                        for twin in twins:
                            self._retime(twin, rate, end_s)
                break
        if not crowded:
            # Alone while its bits move (or with its twins): the whole transfer is known now. One
            # event, the flow itself; it sits on its links so that a newcomer whose bits would
            # overlap its own sees it and turns it into the staged form.
            flow = _new_flow(self, links, bits, seq, tail_s, start_s, end_s, carrier, SOLO, rate, end_s + tail_s - now)
            for link in links:
                link.flows.add(flow)
            return flow
        # Its bits would share a link with another transfer's: the staged form, for every
        # transfer on its links.
        flow = _new_flow(self, links, bits, seq, tail_s, now, now, carrier)
        if start_in_s > 0:
            self._stage(flow, WAITING, start_in_s)
        else:
            self._begin(flow)
        return flow

    def cancel(self, flow: Flow) -> None:
        """Abandon a transfer (its session was cut); the others speed up."""
        if flow.stage >= FINISHED:
            return
        stage = flow.stage
        flow.stage = CANCELLED
        now = self.clock()
        if stage == SOLO and now > flow.started_s:  # its bits moved at its solo rate until now
            moved_until_s = min(now, flow.ended_s)
            _carry(flow, flow.started_s, moved_until_s, flow.rate_bps * (moved_until_s - flow.started_s))
        elif stage == MOVING and flow.rate_bps and now > flow.updated_s:
            _carry(flow, flow.updated_s, now,
                   min(flow.rate_bps * (now - flow.updated_s), flow.remaining_bits))
        elif stage == TAIL and not flow.links and now >= flow.started_s:  # the bits took no time, and did move
            _carry(flow, flow.started_s, flow.started_s, flow.remaining_bits)
        if stage in (MOVING, SOLO):
            for link in flow.links:
                link.flows.discard(flow)
            if stage == SOLO and flow.rate_bps < min(_bandwidth_bps(link) for link in flow.links):
                # It had twins: they no longer move at a known rate; the staged form takes over.
                self._reshare(self._unsolo(flow.links, now))
            elif stage == MOVING:
                self._reshare(flow.links)

    # ---- stages ------------------------------------------------------------------------------

    def _clear(self, links: Sequence[Link], now: float) -> bool:
        """Forget solo flows that have drained; True when no flow is left on any of ``links``."""
        clear = True
        for link in links:
            flows = link.flows
            if flows:
                for other in [f for f in flows if f.stage != MOVING and f.ended_s <= now]:
                    flows.discard(other)  # a solo flow past its last bit (in its tail, or done)
                if flows:
                    clear = False
        return clear

    def _overlapping(self, links: Sequence[Link], start_s: float, end_s: float) -> list[Flow]:
        """The flows on ``links`` whose bits move between ``start_s`` and ``end_s`` (every flow
        moving at a shared rate counts), oldest first. A solo flow that has drained never does."""
        found: set[Flow] | None = None
        for link in links:
            for other in link.flows:
                if other.stage == MOVING or (other.started_s < end_s and start_s < other.ended_s):
                    if found is None:
                        found = set()
                    found.add(other)
        return [] if found is None else sorted(found, key=_by_seq)

    def _twins(
        self, overlapping: list[Flow], links: tuple[Link, ...], start_s: float, bits: float, full_rate_bps: float
    ) -> list[Flow] | None:
        """The group a newcomer joins, or None. Equal transfers (same links, bits and start, none
        other on their links meanwhile) share the bandwidth equally from start to end: each is
        one timer at ``1/k`` of the rate. The ``overlapping`` flows must all be such a group."""
        k = len(overlapping)
        for other in overlapping:
            if (other.stage != SOLO or other.started_s != start_s or other.remaining_bits != bits
                    or other.links != links or other.rate_bps * k != full_rate_bps):
                return None
        group_end_s = start_s + (k + 1) * bits / full_rate_bps
        if self._overlapping(links, start_s, group_end_s) != overlapping:
            return None  # moving longer together, they would meet another transfer
        return overlapping

    def _retime(self, flow: Flow, rate_bps: float, ended_s: float) -> None:
        """A solo flow's bits move at ``rate_bps`` and end at ``ended_s``: a new single timer, to
        which its waiters move (the old one, or the flow's own entry, superseded, fires without
        effect)."""
        old = _final_event(flow)
        flow.rate_bps = rate_bps
        flow.ended_s = ended_s
        timer = kernel.timer(self.env, ended_s + flow.tail_s - self.clock(), flow)
        waiters = old.callbacks[1:]
        del old.callbacks[1:]
        timer.callbacks.extend(waiters)
        kernel.repoint(waiters, old, timer)
        flow.timer = flow._done = timer

    def _unsolo(self, links: Sequence[Link], now: float) -> list[Link]:
        """Turn the solo flows on ``links`` into the staged form, as of ``now``, and then those on
        the other links of each that was moving bits, and so on: a link that carries a flow at a
        shared rate carries no solo flow (one could otherwise be counted in a share while still
        in its lead-in, or keep its full rate while another's bits, slowed, reach it). Solo flows
        that have drained are forgotten. Returns every link visited, for the reshare."""
        todo = list(links)
        visited: list[Link] = []
        while todo:
            link = todo.pop()
            if link in visited:
                continue
            visited.append(link)
            flows = link.flows
            for other in [f for f in flows if f.stage != MOVING and f.ended_s <= now]:
                flows.discard(other)  # a solo flow past its last bit (in its tail, or done)
            for flow in sorted([f for f in flows if f.stage == SOLO], key=_by_seq):
                _hand_back(flow)
                if now < flow.started_s:  # still in its lead-in: not on the links yet
                    for on in flow.links:
                        on.flows.discard(flow)
                    flow.rate_bps = 0.0
                    self._stage(flow, WAITING, flow.started_s - now)
                else:  # moving at its solo rate since it started; the reshare takes it from here
                    flow.stage = MOVING
                    flow.timer = None
                    flow.finish_s = math.inf
                    todo.extend(flow.links)
        return visited

    def _stage(self, flow: Flow, stage: int, delay_s: float) -> None:
        """Enter ``stage``; WAITING and TAIL run a timer, FINISHED resumes the waiters now."""
        flow.stage = stage
        if stage == FINISHED:
            if flow.timer is None:  # nothing was ever scheduled: finish with one immediate event
                timer = flow.timer = kernel.timer(self.env, 0.0, flow)
                _hand_over(flow._done_event(), timer)
                flow.stage = TAIL
            return
        timer = flow.timer = kernel.timer(self.env, delay_s, flow)
        if stage == TAIL:
            if flow._done is None:
                flow._done = timer  # nobody waits yet: the final timer is the done event itself
            else:
                _hand_over(flow._done, timer)

    def _begin(self, flow: Flow) -> None:
        now = self.env.now
        flow.stage = MOVING
        flow.started_s = flow.updated_s = now
        touched = self._unsolo(flow.links, now)
        for link in flow.links:
            link.flows.add(flow)
        flow.timer = None
        flow.finish_s = math.inf
        self._reshare(touched)

    def _tick(self, clock: simpy.Event) -> None:
        """The clock: drain every shared transfer whose bits have all left by now."""
        if clock is not self._clock:
            return
        self._clock, self._clock_at_s = None, math.inf
        now = self.env.now
        limit = now + 4 * math.ulp(now)
        heap = self._finishes
        due: list[Flow] = []
        while heap and heap[0][0] <= limit:
            finish, _seq, flow = heappop(heap)
            if flow.stage == MOVING and flow.finish_s == finish:
                due.append(flow)
        for flow in due:
            if flow.stage == MOVING:
                self._drained(flow)
        self._arm()

    def _arm(self) -> None:
        """Set the clock for the earliest finish still valid."""
        heap = self._finishes
        while heap and (heap[0][2].stage != MOVING or heap[0][2].finish_s != heap[0][0]):
            heappop(heap)
        if not heap:
            return
        at = heap[0][0]
        if self._clock is not None and self._clock_at_s <= at:
            return
        clock = kernel.timer(self.env, max(0.0, at - self.env.now), self._tick)
        self._clock, self._clock_at_s = clock, at

    def _drained(self, flow: Flow) -> None:
        now = self.env.now
        flow.finish_s = math.inf
        flow.ended_s = now
        _carry(flow, flow.updated_s, now, flow.remaining_bits)  # its last bits, at its last rate
        flow.remaining_bits = 0.0
        flow.rate_bps = 0.0
        for link in flow.links:
            link.flows.discard(flow)
        if not self._clear(flow.links, now):
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
            if len(flow.links) > 1:
                self._clear(flow.links, now)  # drained solo flows on its other links no longer count
            rate = min(link.bandwidth_bps / len(link.flows) for link in flow.links)  # type: ignore[operator]
            if flow.rate_bps and now > flow.updated_s:
                moved = min(flow.rate_bps * (now - flow.updated_s), flow.remaining_bits)
                _carry(flow, flow.updated_s, now, moved)
                flow.remaining_bits -= moved
            flow.updated_s = now
            if rate == flow.rate_bps and flow.finish_s != math.inf:
                continue  # its finish time is unchanged
            flow.rate_bps = rate
            flow.finish_s = now + flow.remaining_bits / rate
            heappush(self._finishes, (flow.finish_s, flow.seq, flow))
        self._arm()


def _carry(flow: Flow, start_s: float, end_s: float, bits: float) -> None:
    """Count ``bits`` of ``flow`` moved evenly over ``[start_s, end_s]`` on the links of its path."""
    if flow.carrier is not None:
        flow.carrier.spread(start_s, end_s, bits)


def _by_seq(flow: Flow) -> int:
    return flow.seq


def _final_event(flow: Flow) -> Any:
    """The event a solo flow ends by, whose callbacks are its own then its waiters': its timer,
    or the flow itself (its own entry in the schedule)."""
    if flow.timer is None:
        assert flow.is_own_end()
        return flow
    assert flow._done is flow.timer
    return flow.timer


def _hand_back(flow: Flow) -> None:
    """The waiters on a solo flow's single timer (or own entry) move to a ``done`` event of the flow's own."""
    timer = _final_event(flow)
    waiters = timer.callbacks[1:]
    del timer.callbacks[1:]
    done = flow._done = flow.net.env.event()
    done.callbacks = waiters
    kernel.repoint(waiters, timer, done)
    flow.timer = None


def _hand_over(done: simpy.Event, timer: simpy.Event) -> None:
    """Move whatever waits on ``done`` to ``timer`` (after the flow's own callback there).

    A process that moves is re-pointed at the timer so that an interrupt still unhooks it from
    the right event. A process that yields ``done`` later is hooked there directly.
    """
    waiters = done.callbacks
    done.callbacks = timer.callbacks  # later waiters attach straight to the timer
    timer.callbacks.extend(waiters)
    kernel.repoint(waiters, done, timer)


def _bandwidth_bps(link: Link) -> float:
    """A link's bandwidth; an unlimited link (which carries no shared flow) counts as infinite."""
    return math.inf if link.bandwidth_bps is None else link.bandwidth_bps
