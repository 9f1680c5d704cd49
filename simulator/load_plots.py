"""Figures of the load tables: link utilisation (plots/links.png) and server queue and sessions
(plots/servers.png) per time bin.

Both are drawn from the rows of links.csv and servers.csv (:mod:`simulator.loads`), so their cost
never grows with the number of messages. Each bin is drawn as a step over its whole length; a line
of more than :data:`simulator.plotdata.MAX_STEP_POINTS` bins is drawn as a per-pixel-column
envelope that keeps each column's first, lowest, highest and last bin
(:func:`simulator.plotdata.step_envelope`), so a long run in short bins costs no more to draw than
a short one. Plotted lines carry a ``gid`` (``util:<link>:<direction>``,
``queue:<server>``, ``sessions:<server>``, ``workers:<server>``) so tests can read back what a
figure shows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from matplotlib.ticker import MaxNLocator

from .panel_layout import fit_column
from .plotdata import FloatArray, step_envelope
from .plots import Figure, fixed_title, new_figure, time_scale

MAX_PANELS = 8
"""At most this many links or servers are drawn: the most loaded ones."""


def _steps(rows: Sequence[Mapping[str, Any]], column: str, fig: Figure) -> tuple[FloatArray, FloatArray]:
    """(times, values) of a step line over the bins (at least one): each value held to its bin's
    end, as an envelope of one column per pixel of ``fig``'s width when there are many bins."""
    times = np.fromiter((r["time"] for r in rows), dtype=np.float64, count=len(rows))
    values = np.fromiter((r[column] for r in rows), dtype=np.float64, count=len(rows))
    end_s = rows[-1]["time"] + rows[-1]["duration_s"]
    return step_envelope(times, values, end_s, slices=round(fig.get_figwidth() * fig.dpi))


def _end_s(rows: Sequence[Mapping[str, Any]]) -> float:
    return max((r["time"] + r["duration_s"] for r in rows), default=0.0)


def _panels(peak: Mapping[str, float]) -> tuple[list[str], Figure, Any]:
    """The names with the ``MAX_PANELS`` highest peaks (in name order), and a figure with one
    panel each (at least one), sharing the time axis."""
    names = sorted(sorted(peak, key=lambda name: (-peak[name], name))[:MAX_PANELS])
    panels = max(len(names), 1)
    fig = new_figure(8, 1.2 + 1.45 * panels)
    return names, fig, fig.subplots(panels, 1, sharex=True, squeeze=False)[:, 0]


def links_figure(rows: Sequence[Mapping[str, Any]], title: str = "") -> Figure:
    """Utilisation of each limited link over time, both directions (``a->b`` blue, ``b->a`` orange,
    ``a`` first of its ``between``), one panel per link (the ``MAX_PANELS`` with the highest peaks).
    Unlimited links have no utilisation and are not drawn."""
    by_link: dict[str, dict[str, list[Mapping[str, Any]]]] = {}
    for r in rows:
        if r["utilisation"] is not None:
            by_link.setdefault(r["link"], {}).setdefault(r["direction"], []).append(r)
    peak = {link: max(r["utilisation"] for d in dirs.values() for r in d) for link, dirs in by_link.items()}
    links, fig, axes = _panels(peak)
    end_s = _end_s(rows)
    scale, unit = time_scale(end_s)
    for ax, link in zip(axes, links, strict=False):
        for (direction, series), color in zip(by_link[link].items(), ("tab:blue", "tab:orange"), strict=False):
            xs, ys = _steps(series, "utilisation", fig)
            line = ax.step(xs / scale, 100 * ys, where="post", color=color,
                           linewidth=1.2, label=direction)[0]
            line.set_gid(f"util:{link}:{direction}")
        ax.set_ylim(0, 105)
        ax.set_ylabel("utilisation (%)", fontsize=8)
        fixed_title(ax, f"{link} (peak {100 * peak[link]:.0f} %)", loc="left", fontsize=9, fontweight="bold", pad=3)
        ax.legend(loc="upper right", fontsize=7, framealpha=0.9)
        ax.grid(True, alpha=0.3)
        ax.set_xlim(0, end_s / scale if end_s > 0 else 1)
    if not links:
        axes[0].text(0.5, 0.5, "no link with a bandwidth limit", ha="center", va="center",
                     transform=axes[0].transAxes)
        axes[0].set_ylabel("utilisation (%)")
    axes[-1].set_xlabel(f"simulated time ({unit})")
    fit_column(fig, axes, fig.suptitle(title or "Link utilisation per time bin", fontsize=11))
    return fig


def servers_figure(rows: Sequence[Mapping[str, Any]], title: str = "") -> Figure:
    """Each server's outgoing queue (its maximum per bin) and open inbound sessions (maximum per
    bin) over time, and its busy workers if it processes mail, one panel per server (the
    ``MAX_PANELS`` with the highest peaks)."""
    by_server: dict[str, list[Mapping[str, Any]]] = {}
    for r in rows:
        by_server.setdefault(r["server"], []).append(r)
    peak = {s: max(max(r["queue_max"], r["sessions_max"]) for r in rs) for s, rs in by_server.items()}
    servers, fig, axes = _panels(peak)
    end_s = _end_s(rows)
    scale, unit = time_scale(end_s)
    for ax, server in zip(axes, servers, strict=False):
        series = by_server[server]
        lines = [("queue_max", "outgoing queue (max in bin)", "tab:blue", "queue"),
                 ("sessions_max", "open inbound sessions (max in bin)", "tab:green", "sessions")]
        if any(r.get("workers_busy_max") for r in series):
            lines.append(("workers_busy_max", "busy workers (max in bin)", "tab:red", "workers"))
        for column, label, color, gid in lines:
            xs, ys = _steps(series, column, fig)
            line = ax.step(xs / scale, ys, where="post", color=color, linewidth=1.2, label=label)[0]
            line.set_gid(f"{gid}:{server}")
        if ax is axes[0] or len(lines) > 2:  # the legend once, and where the workers line shows
            ax.legend(loc="upper right", fontsize=7, framealpha=0.9)
        ax.set_ylim(0, max(peak[server], 1) * 1.15)
        ax.yaxis.set_major_locator(MaxNLocator(nbins=4, integer=True))
        ax.ticklabel_format(axis="y", style="plain", useOffset=False)  # no offset text: see fixed_title
        ax.set_ylabel("count", fontsize=8)
        fixed_title(ax, f"{server} (peak queue {max(r['queue_max'] for r in series)}, "
                     f"sessions {max(r['sessions_max'] for r in series)})",
                     loc="left", fontsize=9, fontweight="bold", pad=3)
        ax.grid(True, alpha=0.3)
        ax.set_xlim(0, end_s / scale if end_s > 0 else 1)
    if not servers:
        axes[0].text(0.5, 0.5, "no servers", ha="center", va="center", transform=axes[0].transAxes)
    axes[-1].set_xlabel(f"simulated time ({unit})")
    fit_column(fig, axes, fig.suptitle(title or "Queue and inbound sessions per server per time bin", fontsize=11))
    return fig
