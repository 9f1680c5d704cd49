"""The plots of a sweep: every metric against each swept key, means with 95% CI bars.

This module owns :func:`sweep_figures` (one figure per swept key) and :func:`plot_sweep`
(those figures as ``plots/KEY.png``). matplotlib is imported only when a figure is made.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..wording import counted
from .metrics import METRIC_RANGES, METRICS
from .plan import SweepPlan, param_text

if TYPE_CHECKING:
    from ..plots import Figure

_METRIC_LABELS = {
    "delivery_latency_mean_s": "delivery latency, mean (s)",
    "delivery_latency_p50_s": "delivery latency, p50 (s)",
    "delivery_latency_p99_s": "delivery latency, p99 (s)",
    "retrieval_latency_mean_s": "retrieval latency, mean (s)",
    "retrieval_latency_p50_s": "retrieval latency, p50 (s)",
    "retrieval_latency_p99_s": "retrieval latency, p99 (s)",
    "bounce_rate": "bounce rate (bounced / submitted)",
    "peak_queue": "peak queue (messages)",
    "duplicates": "duplicate deliveries",
}


def plot_sweep(plan: SweepPlan, points: Sequence[dict[str, Any]], folder: Path) -> list[Path]:
    """Write :func:`sweep_figures` as ``folder/KEY.png``; returns the paths."""
    from ..plots import save

    folder.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for key, fig in sweep_figures(plan, points).items():
        path = folder / f"{_safe_name(key)}.png"
        save(fig, path)
        written.append(path)
    return written


def sweep_figures(plan: SweepPlan, points: Sequence[dict[str, Any]]) -> dict[str, Figure]:
    """One figure per swept key: every metric against that key, mean with 95% CI bars, one line
    per combination of the other keys.  The bars are the intervals of ``sweep.csv``, clipped to
    the metric's range (never below 0).  Keys whose values are numbers (also unit strings,
    placed at their SI value and labelled as given) get a numeric axis, logarithmic when the
    values span 20 times or more; other values are placed in the order given.  Each error bar
    carries the gid ``ci:<metric>:<point>``."""
    from ..plots import new_figure

    figures: dict[str, Figure] = {}
    for index, key in enumerate(plan.keys):
        fig = new_figure(13, 10)
        axes = fig.subplots(3, 3)
        groups: dict[tuple[str, ...], list[int]] = {}
        for p, overrides in enumerate(plan.points):
            others = tuple(f"{k}={param_text(v)}" for k, v in overrides.items() if k != key)
            groups.setdefault(others, []).append(p)
        positions, labels, log = _axis(plan, index)
        for ax, metric in zip(axes.flat, METRICS, strict=True):
            drawn = False
            for others, members in groups.items():
                shown = [p for p in members if points[p][metric] is not None]
                if not shown:
                    continue
                rows = [points[p] for p in shown]
                xs = [positions[param_text(row[key])] for row in rows]
                below = [row[metric] - row[f"{metric}_ci95_low"] if row[f"{metric}_ci95"] else 0.0 for row in rows]
                above = [row[f"{metric}_ci95_high"] - row[metric] if row[f"{metric}_ci95"] else 0.0 for row in rows]
                bars = ax.errorbar(xs, [row[metric] for row in rows], yerr=[below, above], marker="o", capsize=3,
                                   label=", ".join(others) if others else None)
                bars.lines[0].set_gid(f"mean:{metric}:{','.join(map(str, shown))}")
                bars.lines[0].set_clip_on(False)  # a mean of 0 on the axis' floor is drawn whole
                for collection in bars.lines[2]:
                    collection.set_gid(f"ci:{metric}:{','.join(map(str, shown))}")
                drawn = True
            if log:
                ax.set_xscale("log")
            if labels:
                ax.set_xticks(list(positions.values()), labels, rotation=30, fontsize=8)
                ax.minorticks_off()
            if not drawn:
                ax.text(0.5, 0.5, "no data", ha="center", va="center", transform=ax.transAxes)
            elif ax.get_ylim()[0] < METRIC_RANGES[metric][0]:  # no axis below what the metric can be
                ax.set_ylim(bottom=METRIC_RANGES[metric][0])
            ax.set_title(_METRIC_LABELS[metric], fontsize=10)
            ax.set_xlabel(key)
            ax.grid(True, alpha=0.3)
        handles, legend = axes.flat[0].get_legend_handles_labels()
        if legend and len(legend) <= 12:
            fig.legend(handles, legend, loc="lower center", ncol=min(3, len(legend)), fontsize=8)
        fig.suptitle(f"{plan.scenario.name}: metrics against {key} "
                     f"(mean of {counted(plan.replications, 'replication')}, 95% CI bars, clipped at 0)")
        fig.tight_layout(rect=(0, 0.05 if legend else 0, 1, 0.97))
        figures[key] = fig
    return figures


def _axis(plan: SweepPlan, index: int) -> tuple[dict[str, float], list[str] | None, bool]:
    """x position of each value of key ``index`` (by its text), tick labels if not plain numbers, log scale?"""
    given = plan.values[index]
    numbers: dict[str, float | None] = {}
    for p, overrides in enumerate(plan.points):
        numbers[param_text(overrides[plan.keys[index]])] = plan.point_numbers[p][index]
    texts = [param_text(v) for v in given]
    if any(numbers[t] is None for t in texts):
        return {t: float(i) for i, t in enumerate(texts)}, texts, False
    positions = {t: float(numbers[t]) for t in texts}  # type: ignore[arg-type]
    low, high = min(positions.values()), max(positions.values())
    log = low > 0 and high / low >= 20
    plain = all(isinstance(v, int | float) and not isinstance(v, bool) for v in given)
    return positions, None if plain else texts, log


def _safe_name(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in text) or "key"

