"""Matplotlib figures drawn from result tables: no display needed, no simulation state.

Every function takes rows (dicts, as produced by :mod:`simulator.results` or read back from a
result folder) and returns a ``matplotlib.figure.Figure``; axes carry their units.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from .results import percentile


def latency_cdf(deliveries: Sequence[dict[str, Any]], title: str = "") -> Figure:
    """Empirical CDF of delivery latency (and end-to-end, where mail was retrieved), log time axis."""
    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=100)
    mail = [r for r in deliveries if r["kind"] == "mail"]
    series = {
        "delivery (submitted to mailbox)": [r["latency_s"] for r in mail if r["latency_s"] is not None],
        "end to end (submitted to first device)": [
            r["retrieved_at"] - r["submitted_at"] for r in mail if r["retrieved_at"] is not None
        ],
    }
    drawn = False
    for label, values in series.items():
        values = sorted(max(v, 1e-6) for v in values)
        if not values:
            continue
        n = len(values)
        ax.step(values, [(i + 1) / n for i in range(n)], where="post", label=f"{label}, n={n}")
        for q, style in ((50, ":"), (99, "--")):
            ax.axvline(percentile(values, q), linestyle=style, linewidth=0.8, color=ax.lines[-1].get_color())
        drawn = True
    if drawn:
        ax.set_xscale("log")
        ax.legend(loc="lower right", fontsize=8)
    else:
        ax.text(0.5, 0.5, "no delivered mail", ha="center", va="center", transform=ax.transAxes)
    ax.set_xlabel("latency (s, log scale); dotted p50, dashed p99")
    ax.set_ylabel("fraction of (message, recipient) pairs")
    ax.set_ylim(0, 1.02)
    ax.grid(True, which="both", alpha=0.3)
    ax.set_title(title or "Delivery latency CDF")
    fig.tight_layout()
    return fig


def queue_timeline(queues: Sequence[dict[str, Any]], end_s: float, outages: Sequence[tuple[str, float, float]] = (),
                   title: str = "") -> Figure:
    """Outgoing queue length of each server over time, outages of that server shaded."""
    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=100)
    servers = sorted({r["server"] for r in queues})
    scale, unit = _time_scale(end_s)
    for server in servers:
        rows = [r for r in queues if r["server"] == server]
        times = [r["time"] / scale for r in rows] + [end_s / scale]
        lengths = [r["queue_length"] for r in rows] + [rows[-1]["queue_length"]]
        line = ax.step(times, lengths, where="post", label=server)[0]
        for target, start, end in outages:
            if target == server:
                ax.axvspan(start / scale, end / scale, color=line.get_color(), alpha=0.12)
    if servers:
        ax.legend(loc="upper right", fontsize=8)
    ax.set_xlabel(f"simulated time ({unit}); shaded: server down")
    ax.set_ylabel("messages in outgoing queue")
    ax.grid(True, alpha=0.3)
    ax.set_title(title or "Queue length")
    fig.tight_layout()
    return fig


def _time_scale(end_s: float) -> tuple[float, str]:
    if end_s >= 3 * 86400:
        return 86400.0, "days"
    if end_s >= 3 * 3600:
        return 3600.0, "hours"
    if end_s >= 3 * 60:
        return 60.0, "minutes"
    return 1.0, "s"


def outage_spans(records: Sequence[tuple[float, str, str, str, str]], end_s: float) -> list[tuple[str, float, float]]:
    """(target, start, end) of every outage in the log; one still running ends at ``end_s``."""
    open_since: dict[str, float] = {}
    spans: list[tuple[str, float, float]] = []
    for time_s, event, _mid, node, _detail in records:
        if event in ("server_down", "link_down"):
            open_since.setdefault(node, time_s)
        elif event in ("server_up", "link_up") and node in open_since:
            spans.append((node, open_since.pop(node), time_s))
    spans.extend((node, start, end_s) for node, start in open_since.items())
    return spans


def save(fig: Figure, path: Any) -> None:
    fig.savefig(path, dpi=100, metadata={"Software": None})
    plt.close(fig)
