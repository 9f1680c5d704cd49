"""A drawing of a scenario's network: servers, users' sites, routers, and the links between them.

The layout is layered and deterministic (networkx finds the graph's centre and each node's hop
count from it), so the same scenario always gives the same picture. Servers are labelled with the domains they hold or
relay for, sites with the users (and their retrieval protocols) sitting there, links with their
one-way latency and bandwidth; outages in the scenario are marked in red.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import networkx as nx
from matplotlib.artist import Artist
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from .plots import Figure, new_figure, short_duration
from .wording import counted

__all__ = ["bandwidth_text", "graph", "layout", "topology_figure"]

_COLORS = {"server": "#cfe2f3", "relay": "#e4d7f5", "site": "#d9ead3", "router": "#eeeeee"}


def bandwidth_text(bps: float | None) -> str:
    """``1e8`` -> ``"100 Mbps"``; None -> ``"unlimited"``."""
    if bps is None:
        return "unlimited"
    for unit, scale in (("Gbps", 1e9), ("Mbps", 1e6), ("kbps", 1e3)):
        if bps >= scale:
            return f"{bps / scale:.3g} {unit}"
    return f"{bps:.3g} bps"


def _kind(node: str, spec: Any, sites: set[str]) -> str:
    if spec is not None:
        return "server" if spec.domains else "relay"
    return "site" if node in sites else "router"


def graph(scenario: Any) -> nx.Graph:
    """The network as a graph: node ``kind`` (server, relay, site, router), edge ``latency_s``, ``bandwidth_bps``."""
    g: nx.Graph[str] = nx.Graph()
    sites = {user.at for user in scenario.expanded_users()}
    for node in sorted(scenario.nodes()):
        spec = scenario.servers.get(node)
        g.add_node(node, kind=_kind(node, spec, sites))
    for link in scenario.links:
        g.add_edge(link.a, link.b, latency_s=link.latency_s, bandwidth_bps=link.bandwidth_bps, name=link.name)
    return g


def layout(g: nx.Graph) -> dict[str, tuple[float, float]]:
    """Deterministic layered positions: a column per hop from the graph's centre, left to right.

    The centre (networkx's ``center``, a router where there is one) stands at x = 0; each node
    stands in the column of its hop count from it, ordered within the column by the mean row of
    its neighbours in the previous column, then by name; nodes linked within a column sit side
    by side. Disconnected parts are stacked below each other.
    """
    pos: dict[str, tuple[float, float]] = {}
    top = 0.0
    for component in sorted(nx.connected_components(g), key=lambda c: (-len(c), min(c))):
        sub = g.subgraph(component)
        centre = min(nx.center(sub), key=lambda n: (g.nodes[n]["kind"] != "router", n))
        depth = nx.single_source_shortest_path_length(sub, centre)
        columns: list[list[str]] = [[] for _ in range(max(depth.values()) + 1)]
        for node in sorted(sub):
            columns[depth[node]].append(node)
        rows: dict[str, float] = {centre: 0.0}
        for column in columns[1:]:
            rows.update(_place_column(sub, _order_column(sub, column, rows), rows))
        low = min(rows.values())
        for node in component:
            pos[node] = (float(depth[node]), top - (rows[node] - low))
        top -= max(rows.values()) - low + 1.5
    return pos


def _barycentre(g: nx.Graph, node: str, rows: dict[str, float]) -> float:
    placed = [rows[n] for n in g[node] if n in rows]
    return sum(placed) / len(placed) if placed else 0.0


def _place_column(g: nx.Graph, ordered: list[str], rows: dict[str, float]) -> dict[str, float]:
    """Rows for a column: each node level with its neighbours where it can be, at least 1 apart."""
    wanted = [_barycentre(g, n, rows) for n in ordered]
    placed: list[float] = []
    for w in wanted:
        placed.append(w if not placed else max(w, placed[-1] + 1.0))
    shift = (sum(wanted) - sum(placed)) / len(placed)
    return {n: p + shift for n, p in zip(ordered, placed, strict=True)}


def _order_column(g: nx.Graph, column: list[str], rows: dict[str, float]) -> list[str]:
    ranked = sorted(column, key=lambda n: (_barycentre(g, n, rows), n))
    ordered: list[str] = []
    for node in ranked:  # pull a node's neighbours in the same column next to it
        if node in ordered:
            continue
        ordered.append(node)
        ordered.extend(n for n in ranked if n not in ordered and n in g[node])
    return ordered


def _edge_curve(a: tuple[float, float], b: tuple[float, float], points: int = 21) -> tuple[list[float], list[float]]:
    """A straight segment between columns; an arc (quadratic Bezier) between nodes of one column."""
    (xa, ya), (xb, yb) = a, b
    if xa != xb:
        return [xa + (xb - xa) * i / (points - 1) for i in range(points)], \
               [ya + (yb - ya) * i / (points - 1) for i in range(points)]
    bulge = 0.35 * abs(yb - ya)
    cx, cy = xa + bulge, (ya + yb) / 2
    ts = [i / (points - 1) for i in range(points)]
    return ([(1 - t) ** 2 * xa + 2 * (1 - t) * t * cx + t**2 * xb for t in ts],
            [(1 - t) ** 2 * ya + 2 * (1 - t) * t * cy + t**2 * yb for t in ts])


def _site_caption(users: list[Any]) -> str:
    if len(users) <= 3:
        return "\n".join(f"{u.address} ({u.access.protocol.upper()}"
                         + (f", {u.access.devices} devices)" if u.access.devices > 1 else ")") for u in users)
    protocols = Counter(u.access.protocol.upper() for u in users)
    devices = sum(u.access.devices for u in users)
    mix = ", ".join(f"{n} {p}" for p, n in sorted(protocols.items())) if len(protocols) > 1 else next(iter(protocols))
    return f"{len(users)} users ({mix}), {devices} devices"


def _server_caption(spec: Any) -> str:
    if spec.domains:
        return "holds " + ", ".join(spec.domains)
    return "relay for " + ", ".join(spec.relay_for) if spec.relay_for else "relay"


def _outage_captions(scenario: Any) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for o in scenario.outages:
        if o.mtbf_s is not None:
            text = f"random outages: MTBF {short_duration(o.mtbf_s)}, MTTR {short_duration(o.mttr_s)}"
        else:
            text = f"down {short_duration(o.start_s)} to {short_duration(o.end_s)}"
        out.setdefault(o.target, []).append(text)
    return out


def topology_figure(scenario: Any, title: str = "") -> Figure:
    """Draw the scenario's network (nodes, links with latency and bandwidth, outages)."""
    g = graph(scenario)
    pos = layout(g)
    users_at: dict[str, list[Any]] = {}
    for user in scenario.expanded_users():
        users_at.setdefault(user.at, []).append(user)
    outages = _outage_captions(scenario)
    xs = [p[0] for p in pos.values()]
    ys = [p[1] for p in pos.values()]
    columns = max(xs) - min(xs) + 1
    rows = max(ys) - min(ys) + 1
    fig = new_figure(min(max(3.6 * columns + 0.6, 8.0), 18.0), min(max(1.25 * rows + 1.6, 4.5), 16.0))
    ax = fig.add_subplot()
    bandwidths = [float(data["bandwidth_bps"]) for _, _, data in g.edges(data=True) if data.get("bandwidth_bps")]
    top_bps = max(bandwidths, default=1.0)
    for a, b, data in sorted(g.edges(data=True), key=lambda e: e[2]["name"]):
        (xa, ya), (xb, yb) = pos[a], pos[b]
        name = data["name"]
        down = [text for key, texts in outages.items() if set(key.split("--")) == {a, b} for text in texts]
        bps = data["bandwidth_bps"]
        width = 4.0 if bps is None else 1.0 + 3.0 * (bps / top_bps) ** 0.3
        curve_x, curve_y = _edge_curve((xa, ya), (xb, yb))
        line = ax.plot(curve_x, curve_y, color="tab:red" if down else "slategrey", linewidth=width,
                       linestyle="--" if down else "-", zorder=1, solid_capstyle="round")[0]
        line.set_gid(f"link:{name}")
        label = f"{short_duration(data['latency_s'])} · {bandwidth_text(bps)}" + "".join(f"\n{d}" for d in down)
        middle = len(curve_x) // 2
        text = ax.text(curve_x[middle], curve_y[middle], label, fontsize=7.5, ha="center", va="center", zorder=2,
                       color="tab:red" if down else "black",
                       bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.85, "pad": 1})
        text.set_gid(f"link-label:{name}")
    for node in sorted(g):
        kind = g.nodes[node]["kind"]
        lines = [node]
        spec = scenario.servers.get(node)
        if spec is not None:
            lines.append(_server_caption(spec))
        if node in users_at:
            lines.append(_site_caption(users_at[node]))
        lines.extend(outages.get(node, []))
        x, y = pos[node]
        box = {"boxstyle": "round,pad=0.4" if kind != "router" else "circle,pad=0.3",
               "facecolor": _COLORS[kind], "edgecolor": "tab:red" if node in outages else "black",
               "linewidth": 2.0 if node in outages else 0.8}
        text = ax.text(x, y, "\n".join(lines), fontsize=8, ha="center", va="center", zorder=3, bbox=box,
                       fontweight="normal")
        text.set_gid(f"node:{node}")
    ax.set_xlim(min(xs) - 0.5, max(xs) + 0.5)
    ax.set_ylim(min(ys) - 0.6, max(ys) + 0.6)
    ax.set_axis_off()
    handles: list[Artist] = [Patch(facecolor=_COLORS[k], edgecolor="black", label=label) for k, label in
               (("server", "mail server (holds mailboxes)"), ("relay", "relay / backup MX"),
                ("site", "users' site"), ("router", "router"))]
    handles.append(Line2D([], [], color="tab:red", linestyle="--", label="link or server with outages"))
    ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncols=5, fontsize=8, frameon=False)
    n_users = sum(len(v) for v in users_at.values())
    ax.set_title(title or f"{scenario.name}: {counted(len(scenario.servers), 'server')}, {counted(n_users, 'user')}, "
                 f"{counted(len(scenario.links), 'link')}", fontsize=11)
    fig.text(0.5, 0.01, "link labels: one-way latency · bandwidth (line width grows with bandwidth)",
             ha="center", va="bottom", fontsize=8, color="dimgrey")
    fig.tight_layout()
    return fig
