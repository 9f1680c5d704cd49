"""When link outages cut a server off from its destinations: the grey spans of the queue plot.

A server's outgoing queue grows while it cannot reach the servers it relays to. That happens
when the server itself is down, and also when links on its paths are: not only a link the
server is an end of, but any link (or set of links down at the same time) whose loss leaves no
route from the server to one of its destinations. This module answers, for each server, during
which spans of time that was so. It is a pure function of the event log (outage spans, and the
hosts each server's delivery attempts tried) and the topology; routes follow the network graph
without the links down, as the simulation's do.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence

import networkx as nx

from .eventlog import Record

__all__ = ["destinations", "link_cutoffs"]


def destinations(records: Iterable[Record]) -> dict[str, set[str]]:
    """Server -> the hosts its delivery attempts tried (every MX host listed in its ``attempt`` records)."""
    out: dict[str, set[str]] = {}
    for _t, event, _mid, node, values in records:
        if event == "attempt":
            _rcpts, hosts = values
            out.setdefault(node, set()).update(hosts)
    return out


def link_cutoffs(spans: Iterable[tuple[str, float, float]], links: Sequence[tuple[str, str]],
                 servers: Mapping[str, Iterable[str]]) -> dict[str, list[tuple[float, float]]]:
    """Per server, the (start, end) spans during which links that were down cut it off from one
    of its destinations, or one of its own links was down.

    ``spans`` are outage spans ``(target, start, end)`` as :func:`simulator.plots.outage_spans`
    gives them (server outages among them are ignored: they are not link outages); ``links``
    are the topology's links as (a, b), named ``a--b`` in the log; ``servers`` maps each server
    to its destinations (see :func:`destinations`). Adjacent spans are merged.
    """
    names = {f"{a}--{b}": (a, b) for a, b in links}
    link_spans = [(names[target], start, end) for target, start, end in spans if target in names and end > start]
    wanted = {server: sorted(set(servers[server]) - {server}) for server in sorted(servers)}
    out: dict[str, list[tuple[float, float]]] = {server: [] for server in wanted}
    if not link_spans:
        return out
    graph: nx.Graph = nx.Graph()
    graph.add_edges_from(links)
    graph.add_nodes_from([*wanted, *(d for ds in wanted.values() for d in ds)])
    cuts = sorted({t for _link, start, end in link_spans for t in (start, end)})
    for start, end in itertools.pairwise(cuts):
        down = {link for link, s, e in link_spans if s <= start and end <= e}
        if not down:
            continue
        for server in _cut_off(graph, down, wanted):
            _add(out[server], start, end)
    return out


def _cut_off(graph: nx.Graph, down: set[tuple[str, str]], servers: Mapping[str, Sequence[str]]) -> list[str]:
    """The servers that are an end of a link in ``down`` or cannot reach a destination without them."""
    remaining = graph.copy()
    remaining.remove_edges_from(down)
    component = {node: i for i, part in enumerate(nx.connected_components(remaining)) for node in part}
    ends = {node for link in down for node in link}
    return [s for s, targets in servers.items()
            if s in ends or any(component[t] != component[s] for t in targets)]


def _add(spans: list[tuple[float, float]], start: float, end: float) -> None:
    if spans and spans[-1][1] == start:
        spans[-1] = (spans[-1][0], end)
    else:
        spans.append((start, end))
