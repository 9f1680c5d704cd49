"""Matplotlib figures drawn from result tables, and the small series they plot.

Every figure function takes rows (dicts, as produced by :mod:`simulator.results` or read back
from a result folder; a deliveries table may also be given as its columns) or event-log records,
and returns a :class:`Figure`: no simulation state, no display. Figures are built with
matplotlib's object API on the Agg canvas (pyplot is never imported, so a notebook's own backend
is left alone) and show themselves in Jupyter through ``_repr_png_``. Every axis is labelled
with its unit; figures are sized to read at 100 dpi.

Each standard figure is drawn from an aggregate of a bounded size (:mod:`simulator.plotdata`):
its CDF curves as :class:`CdfCurve` (exact order statistics on a fixed grid and the
percentiles), its queues as per-pixel-column envelopes, its counts and means. Only making the
aggregate reads the whole table; drawing from it costs the same at ten thousand messages and at
ten million. Inside :func:`simulator.mailpairs.shared_pairs` each aggregate is made once
(:func:`simulator.mailpairs.shared_aggregate`).

Plotted data carry a ``gid`` (``cdf:<series>``, ``p50:<series>``, ``queue:<server>``, ...) so
tests can read back what a figure shows and compare it with the tables.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.axis import Axis
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure as _MplFigure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.text import Text
from matplotlib.ticker import FixedLocator, FuncFormatter, MaxNLocator, NullFormatter, NullLocator

from .cutoffs import link_cutoffs
from .eventlog import Record
from .mailpairs import Deliveries, MailPairs, Table, as_columns, group_indices, shared_aggregate
from .panel_layout import fit_column
from .plotdata import CdfPoints, FloatArray, cdf_points, step_envelope
from .results import final_mail
from .wording import counted

__all__ = [
    "DPI",
    "PNG_COMPRESS_LEVEL",
    "Figure",
    "Outcome",
    "attempt_counts",
    "attempts_histogram",
    "breakdown_figure",
    "cdf_figure",
    "delivery_latencies",
    "delivery_outcome",
    "end_to_end_latencies",
    "end_to_end_outcome",
    "fixed_title",
    "latency_by_domain",
    "latency_by_protocol",
    "latency_cdf",
    "latency_cdf_by_domain",
    "latency_cdf_by_protocol",
    "mailbox_wait_outcome",
    "new_figure",
    "outage_spans",
    "png_bytes",
    "queue_series",
    "queue_timeline",
    "save",
    "short_duration",
    "time_scale",
]

DPI = 100
PNG_COMPRESS_LEVEL = 1  # zlib level of the PNGs written (matplotlib's default is 6); see png_bytes
PERCENTILE_MARKERS: tuple[tuple[int, str], ...] = ((50, "o"), (90, "s"), (99, "^"))
MAX_SERIES = 8  # more groups than this are folded into "other"
MAX_QUEUE_PANELS = 8
_LOG_FLOOR_S = 1e-4  # a zero duration is drawn here on a log axis

# Tick positions for log time axes: every one a round duration people read at a glance.
_TICKS_S: tuple[float, ...] = (
    1e-4, 1e-3, 2e-3, 5e-3, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1200,
    1800, 3600, 7200, 14400, 28800, 43200, 86400, 2 * 86400, 5 * 86400, 7 * 86400, 14 * 86400, 30 * 86400,
)
_MAJOR_TICKS_S: tuple[float, ...] = (
    1e-4, 1e-3, 0.01, 0.1, 1, 10, 60, 600, 3600, 6 * 3600, 86400, 7 * 86400, 30 * 86400,
)


class Figure(_MplFigure):
    """A matplotlib Figure on the Agg canvas that displays itself in Jupyter (as a PNG)."""

    def _repr_png_(self) -> bytes:
        return png_bytes(self)

    def tight_layout(self, *args: Any, **kwargs: Any) -> None:
        """Matplotlib's ``tight_layout``, done once, now, leaving no layout engine behind.

        Matplotlib leaves a placeholder engine that does no layout but makes every ``savefig``
        walk the whole figure once more (ticks, text extents, legends) before drawing it; without
        it the PNG is the same, byte for byte, for about a quarter less time."""
        super().tight_layout(*args, **kwargs)
        self.set_layout_engine(None)


def new_figure(width_in: float, height_in: float) -> Figure:
    """An empty figure of the given size (inches; 100 px each at :data:`DPI`)."""
    fig = Figure(figsize=(width_in, height_in), dpi=DPI)
    FigureCanvasAgg(fig)
    return fig


def save(fig: _MplFigure, path: str | PathLike[str]) -> None:
    """Write ``fig`` as a PNG at :data:`DPI`, with no timestamp or software name in its metadata."""
    Path(path).write_bytes(png_bytes(fig))


def png_bytes(fig: _MplFigure) -> bytes:
    """``fig`` as a PNG at :data:`DPI`, with no timestamp or software name in its metadata, in memory.

    Compressed at zlib level :data:`PNG_COMPRESS_LEVEL`: the same pixels as matplotlib's default
    (level 6), encoded in less time for slightly larger files."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None},
                pil_kwargs={"compress_level": PNG_COMPRESS_LEVEL})
    return buffer.getvalue()


def fixed_title(ax: Axes, text: str, **kwargs: Any) -> Text:
    """``ax.set_title(text, **kwargs)`` at the title's usual place, fixed there.

    A title placed by matplotlib is moved at every draw clear of the y axis's offset text
    (``1e6``), which measures the whole y axis once more (its ticks and their labels) for each
    title drawn. The axes drawn here show no offset text (their ticks are labelled in full), so
    the title stays where it would be anyway: its pad above the axes."""
    return ax.set_title(text, y=1.0, **kwargs)


# ---- durations for people ----------------------------------------------------------------------


def short_duration(seconds: float) -> str:
    """``0.0123`` -> ``"12.3 ms"``, ``90`` -> ``"1.5 min"``, ``7200`` -> ``"2 h"``: one unit, 3 digits."""
    s = abs(seconds)
    if s == 0:
        return "0 s"
    for limit, scale, unit in ((1e-3, 1e-6, "µs"), (1.0, 1e-3, "ms"), (60.0, 1.0, "s"), (3600.0, 60.0, "min"),
                               (86400.0, 3600.0, "h")):
        if s < limit:
            return f"{_digits(seconds / scale)} {unit}"
    return f"{_digits(seconds / 86400.0)} d"


def _digits(value: float) -> str:
    text = f"{value:.3g}"
    return text if "e" not in text else f"{value:.0f}"


def time_scale(span_s: float) -> tuple[float, str]:
    """A unit for a linear time axis spanning ``span_s``: (seconds per unit, unit name)."""
    if span_s >= 3 * 86400:
        return 86400.0, "days"
    if span_s >= 3 * 3600:
        return 3600.0, "hours"
    if span_s >= 3 * 60:
        return 60.0, "minutes"
    return 1.0, "s"


def _log_time_axis(ax: Axes, values: Iterable[float], axis: str = "x") -> None:
    """Log scale with round-duration ticks (``100 ms``, ``1 min``, ``1 d``) covering ``values``."""
    positive = [v for v in values if v > 0]
    lo = max(min(positive, default=1.0), _LOG_FLOOR_S)
    hi = max(max(positive, default=1.0), lo)
    below = [t for t in _TICKS_S if t <= lo]
    above = [t for t in _TICKS_S if t >= hi]
    lim_lo = below[-1] if below else lo
    lim_hi = above[0] if above else hi
    if lim_hi <= lim_lo:
        lim_hi = lim_lo * 10
    ticks = [t for t in _TICKS_S if lim_lo <= t <= lim_hi]
    if len(ticks) > 9:
        lim_lo = max([t for t in _MAJOR_TICKS_S if t <= lo], default=lim_lo)
        lim_hi = min([t for t in _MAJOR_TICKS_S if t >= hi], default=lim_hi)
        ticks = [t for t in _MAJOR_TICKS_S if lim_lo <= t <= lim_hi]
    target: Axis
    if axis == "x":
        ax.set_xscale("log")
        ax.set_xlim(lim_lo, lim_hi)
        target = ax.xaxis
    else:
        ax.set_yscale("log")
        ax.set_ylim(lim_lo, lim_hi)
        target = ax.yaxis
    target.set_major_locator(FixedLocator(ticks))
    target.set_major_formatter(FuncFormatter(lambda v, _pos: short_duration(v)))
    target.set_minor_locator(NullLocator())
    target.set_minor_formatter(NullFormatter())


# ---- CDFs --------------------------------------------------------------------------------------


def _mail(deliveries: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    return final_mail(deliveries)


def delivery_latencies(deliveries: Iterable[Mapping[str, Any]]) -> list[float]:
    """``latency_s`` of every delivered mail pair (what summary.json's ``latency_s`` is over)."""
    return [r["latency_s"] for r in _mail(deliveries) if r["status"] == "delivered" and r["latency_s"] is not None]


def end_to_end_latencies(deliveries: Iterable[Mapping[str, Any]]) -> list[float]:
    """Submission to the first device, for every retrieved mail pair."""
    return [r["retrieved_at"] - r["submitted_at"] for r in _mail(deliveries) if r["retrieved_at"] is not None]


def _domain(address: str) -> str:
    return address.rpartition("@")[2]


@dataclass(slots=True, eq=False)
class Outcome:
    """What became of a group of mail pairs: the durations of those that got there, and how many
    ended each way (``{"delivered": 2, "bounced": 98, "pending": 0}``; the first key is the one
    the durations are of). A CDF of it is drawn over ``total`` pairs, so it levels off at the
    share that got there."""

    values_s: FloatArray = field(default_factory=lambda: np.empty(0))
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Outcome):
            return NotImplemented
        return self.counts == other.counts and np.array_equal(self.values_s, other.values_s)

    __hash__ = None  # type: ignore[assignment]

    def note(self) -> str:
        """``"2 delivered, 98 bounced, 0 pending"``."""
        return _note(self.counts)


def _note(counts: Mapping[str, int]) -> str:
    return ", ".join(f"{n} {status}" for status, n in counts.items())


@dataclass(frozen=True, slots=True)
class CdfCurve:
    """What one CDF curve of a figure is drawn from, its size bounded: its points (exact order
    statistics and percentiles), how the pairs ended (an :class:`Outcome`'s ``counts``; ``{"n": n}``
    for a plain series), and whether it is a plain series (drawn over its own values)."""

    points: CdfPoints
    counts: dict[str, int]
    plain: bool


def _cdf_curves(series: Mapping[str, Sequence[float] | FloatArray | Outcome]) -> dict[str, CdfCurve]:
    """The :class:`CdfCurve` of each series: a plain sequence over its own values, an
    :class:`Outcome` over all its pairs."""
    percents = [q for q, _ in PERCENTILE_MARKERS]
    curves = {}
    for label, raw in series.items():
        if isinstance(raw, Outcome):
            curves[label] = CdfCurve(cdf_points(raw.values_s, raw.total, percents), dict(raw.counts), False)
        else:
            curves[label] = CdfCurve(cdf_points(raw, len(raw), percents), {"n": len(raw)}, True)
    return curves


DELIVERY_STATUSES = ("delivered", "bounced", "pending")
RETRIEVAL_STATUSES = ("retrieved", "in mailbox", "bounced", "pending")


def delivery_outcome(rows: Deliveries) -> Outcome:
    """Delivery latency of the delivered mail pairs among ``rows``; every pair counted by status."""
    return _delivery_outcome(MailPairs.of(rows))


def end_to_end_outcome(rows: Deliveries) -> Outcome:
    """Submission to the first device of the retrieved mail pairs among ``rows``; every pair
    counted as retrieved, in mailbox (delivered, not retrieved), bounced or pending."""
    return _end_to_end_outcome(MailPairs.of(rows))


def mailbox_wait_outcome(rows: Deliveries) -> Outcome:
    """Mailbox to the first device of the retrieved mail pairs among the delivered ``rows``."""
    return _mailbox_wait_outcome(MailPairs.of(rows))


def _delivery_outcome(pairs: MailPairs) -> Outcome:
    return Outcome(pairs.latency_s[pairs.has_status("delivered")], pairs.status_counts(DELIVERY_STATUSES))


def _end_to_end_outcome(pairs: MailPairs) -> Outcome:
    retrieved = ~np.isnan(pairs.retrieved_s)
    delivered = pairs.has_status("delivered")
    counts = {"retrieved": int(np.count_nonzero(retrieved)),
              "in mailbox": int(np.count_nonzero(delivered & ~retrieved)),
              **pairs.status_counts(RETRIEVAL_STATUSES[2:], among=~delivered & ~retrieved)}
    return Outcome(pairs.retrieved_s[retrieved] - pairs.submitted_s[retrieved], counts)


def _mailbox_wait_outcome(pairs: MailPairs) -> Outcome:
    delivered = pairs.has_status("delivered")
    retrieved = delivered & ~np.isnan(pairs.retrieved_s)
    n_retrieved = int(np.count_nonzero(retrieved))
    return Outcome(pairs.retrieved_s[retrieved] - pairs.delivered_s[retrieved],
                   {"retrieved": n_retrieved, "in mailbox": int(np.count_nonzero(delivered)) - n_retrieved})


def _draw_cdfs(ax: Axes, curves: Mapping[str, CdfCurve], styles: Mapping[str, str] | None = None,
               colors: Mapping[str, str] | None = None) -> bool:
    """One empirical CDF per curve (step at each value), percentiles marked; False if nothing drawn.

    Each curve is drawn from its :class:`CdfCurve` (at most :data:`simulator.plotdata.MAX_CDF_POINTS`
    exact order statistics, and the percentiles of all the values), so drawing it costs the same
    however many values it has.

    A plain series is drawn over its own values (it reaches 1). An :class:`Outcome`'s is drawn
    over all its pairs: the curve rises by 1/total per pair that got there and then levels off,
    dotted to the right edge, at the share that did; its legend counts every way the pairs ended.
    The percentiles marked are of the values (the pairs that got there), placed on the curve.
    """
    if not any(c.points.total for c in curves.values()):
        return False
    ends_s = [v for c in curves.values() if c.points.count for v in (c.points.xs_s[0], c.points.xs_s[-1])]
    _log_time_axis(ax, [max(float(v), _LOG_FLOOR_S) for v in ends_s])  # (the first and last values are drawn)
    right_s = ax.get_xlim()[1]
    for label, curve in curves.items():
        if curve.points.total:
            _draw_cdf(ax, label, curve, right_s, (styles or {}).get(label, "-"), (colors or {}).get(label))
    return True


def _draw_cdf(ax: Axes, label: str, curve: CdfCurve, right_s: float, style: str, color: str | None) -> None:
    """One CDF curve of :func:`_draw_cdfs` from its points, its plateau and its percentile markers."""
    points = curve.points
    n, total, stats = points.count, points.total, points.percentiles_s
    text = ", ".join(f"p{q} {short_duration(v)}" for q, v in stats.items())
    if curve.plain:
        text = f"{label} (n={n}): {text}"
    elif n == total:
        text = f"{label}: {'all ' if n > 1 else ''}{n} {next(iter(curve.counts))}\n{text}"
    else:
        text = f"{label}: {_note(curve.counts)}" + (f"\nof the {n} {next(iter(curve.counts))}: {text}" if n else "")
    shown = np.maximum(points.xs_s, _LOG_FLOOR_S)
    line = ax.step(shown, points.ys, where="post", linewidth=1.6, linestyle=style, color=color, label=text)[0]
    line.set_gid(f"cdf:{label}")
    if n < total:  # the pairs that never got there: the curve stays at n / total
        start_s = float(shown[-1]) if n else ax.get_xlim()[0]
        rest = ax.plot([start_s, right_s], [n / total, n / total], linestyle=":", linewidth=1.6,
                       color=line.get_color())[0]
        rest.set_gid(f"plateau:{label}")
    for q, marker in PERCENTILE_MARKERS:
        if q not in stats:
            continue
        point = ax.plot([max(stats[q], _LOG_FLOOR_S)], [q / 100 * n / total], marker=marker, markersize=7,
                        color=line.get_color(), markeredgecolor="black", markeredgewidth=0.6, linestyle="none")[0]
        point.set_gid(f"p{q}:{label}")


def _cdf_frame(ax: Axes, drawn: bool, what: str, empty: str, of_all: bool = False) -> None:
    """Legend, labels and limits of a CDF panel; ``of_all``: its curves are drawn over all pairs."""
    if drawn:
        title = ("percentiles of the pairs that got there: p50 ●, p90 ■, p99 ▲; dotted: the rest never did"
                 if of_all else "percentiles marked: p50 ●, p90 ■, p99 ▲")
        ax.legend(loc="upper left", bbox_to_anchor=(0.0, -0.15), fontsize=8, frameon=False, alignment="left",
                  title=title, title_fontsize=8)
    else:
        ax.set_xscale("log")
        ax.set_xlim(0.1, 10)
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: short_duration(v)))
        ax.text(0.5, 0.5, empty, ha="center", va="center", transform=ax.transAxes, fontsize=11, color="grey")
    ax.set_xlabel(f"{what} (log time axis: ms, s, min, h, d)")
    ax.set_ylabel("share of all (message, recipient) pairs" if of_all else "fraction of (message, recipient) pairs")
    ax.set_ylim(-0.02 if of_all else 0, 1.02)  # below 0: a group of which nothing got there stays visible
    ax.grid(True, which="major", alpha=0.3)


def _cdf_height_in(entries: int) -> float:
    """Figure height for a CDF panel whose legend below it has ``entries`` two-line entries."""
    return 4.4 + 0.36 * max(entries, 1)


def latency_cdf(deliveries: Deliveries, title: str = "") -> Figure:
    """CDFs of delivery latency (submitted to mailbox) and end-to-end latency (to the first device),
    each over all mail pairs: bounced, pending and unread pairs keep the curves below 1."""
    def curves() -> dict[str, CdfCurve]:
        pairs = MailPairs.of(deliveries)
        return _cdf_curves({"delivery: submitted to mailbox": _delivery_outcome(pairs),
                            "end to end: submitted to first device": _end_to_end_outcome(pairs)})

    fig = new_figure(8, _cdf_height_in(2))
    ax = fig.add_subplot()
    drawn = _draw_cdfs(ax, shared_aggregate("latency_cdf", (deliveries,), curves),
                       {"end to end: submitted to first device": "--"})
    _cdf_frame(ax, drawn, "latency", "no mail", of_all=True)
    fixed_title(ax, title or "Latency of mail (message, recipient) pairs")
    fig.tight_layout()
    return fig


def cdf_figure(series: Mapping[str, Sequence[float]], title: str = "", what: str = "latency") -> Figure:
    """CDFs of any named series of durations (seconds) on one log time axis, p50/p90/p99 marked.

    For comparisons across runs: ``cdf_figure({"fixed": r1.deliveries.latency_s, ...})``. Missing
    values (None, NaN: a pair not delivered) count as never getting there: the curve levels off
    below 1 and the legend says how many were missing.
    """
    fig = new_figure(8, 4.8 + 0.22 * len(series))
    ax = fig.add_subplot()
    groups: dict[str, FloatArray | Outcome] = {}
    for label, raw in series.items():
        given = np.array(raw, dtype=np.float64)  # None: NaN
        values = given[np.isfinite(given)]
        missing = len(given) - len(values)
        groups[label] = Outcome(values, {"with a value": len(values), "missing": missing}) if missing else values
    drawn = _draw_cdfs(ax, _cdf_curves(groups))
    _cdf_frame(ax, drawn, what, "nothing to plot", of_all=any(isinstance(g, Outcome) for g in groups.values()))
    fixed_title(ax, title or f"CDF of {what}")
    fig.tight_layout()
    return fig


def _fold(groups: dict[str, Outcome]) -> dict[str, Outcome]:
    """At most MAX_SERIES groups: the largest, sorted by name, the rest merged into "other"."""
    if len(groups) <= MAX_SERIES:
        return dict(sorted(groups.items()))
    ranked = sorted(groups, key=lambda k: (-groups[k].total, k))
    kept = {k: groups[k] for k in sorted(ranked[: MAX_SERIES - 1])}
    other = Outcome(counts=dict.fromkeys(next(iter(groups.values())).counts, 0))
    for k in ranked[MAX_SERIES - 1:]:
        for status, n in groups[k].counts.items():
            other.counts[status] += n
    other.values_s = np.concatenate([groups[k].values_s for k in ranked[MAX_SERIES - 1:]])
    kept["other"] = other
    return kept


def latency_by_domain(deliveries: Deliveries) -> dict[str, Outcome]:
    """Delivery latency and the fate of every mail pair, per recipient domain (in name order)."""
    pairs = MailPairs.of(deliveries)
    return {domain: _delivery_outcome(group)
            for domain, group in pairs.groups_by_recipient(_domain).items()}


def latency_cdf_by_domain(deliveries: Deliveries, title: str = "") -> Figure:
    """Delivery latency CDF per destination (recipient) domain, over all its mail pairs."""
    curves = shared_aggregate("latency_cdf_by_domain", (deliveries,),
                              lambda: _cdf_curves(_fold(latency_by_domain(deliveries))))
    fig = new_figure(8, _cdf_height_in(len(curves)))
    ax = fig.add_subplot()
    drawn = _draw_cdfs(ax, curves)
    _cdf_frame(ax, drawn, "delivery latency, submitted to mailbox", "no mail", of_all=True)
    fixed_title(ax, title or "Delivery latency by destination domain")
    fig.tight_layout()
    return fig


def latency_by_protocol(deliveries: Deliveries,
                        protocols: Mapping[str, str]) -> dict[str, dict[str, Outcome]]:
    """Per access protocol (``protocols``: recipient address -> protocol, see
    :func:`simulator.results.device_protocols`): ``end_to_end`` (submitted to first device, over
    all mail pairs to its users) and ``wait`` (mailbox to first device, over the delivered ones)."""
    pairs = MailPairs.of(deliveries)
    return {protocol: {"end_to_end": _end_to_end_outcome(group), "wait": _mailbox_wait_outcome(group)}
            for protocol, group in pairs.groups_by_recipient(protocols.get).items()}


def latency_cdf_by_protocol(deliveries: Deliveries, protocols: Mapping[str, str],
                            title: str = "") -> Figure:
    """Per retrieval protocol: end-to-end latency CDF (solid) and the wait in the mailbox (dashed),
    over all mail pairs to users of that protocol (the wait over those delivered)."""
    def curves() -> dict[str, CdfCurve]:
        return _cdf_curves({f"{protocol}: {name}": parts[key]
                            for protocol, parts in latency_by_protocol(deliveries, protocols).items()
                            for key, name in (("end_to_end", "end to end"), ("wait", "mailbox to device"))})

    series = shared_aggregate("latency_cdf_by_protocol", (deliveries, protocols), curves)
    fig = new_figure(8, _cdf_height_in(len(series)))
    ax = fig.add_subplot()
    protocols_drawn = dict.fromkeys(label.partition(": ")[0] for label in series)
    styles = {f"{protocol}: mailbox to device": "--" for protocol in protocols_drawn}
    colors = {f"{protocol}: {name}": f"C{i}" for i, protocol in enumerate(protocols_drawn)
              for name in ("end to end", "mailbox to device")}
    drawn = _draw_cdfs(ax, series, styles, colors)
    _cdf_frame(ax, drawn, "latency to the first device", "no mail to users with devices", of_all=True)
    fixed_title(ax, title or "Retrieval by protocol: end to end (solid), waiting in the mailbox (dashed)")
    fig.tight_layout()
    return fig


# ---- queues ------------------------------------------------------------------------------------


def outage_spans(records: Iterable[Record], end_s: float) -> list[tuple[str, float, float]]:
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


def queue_series(queues: Table) -> dict[str, tuple[list[float], list[int]]]:
    """server -> (times, queue lengths), in table order (``queues`` as rows or as columns)."""
    return {server: (times.tolist(), lengths.astype(np.int64).tolist())
            for server, (times, lengths) in _queue_arrays(queues).items()}


def _queue_arrays(queues: Table) -> dict[str, tuple[FloatArray, FloatArray]]:
    """server -> (times, queue lengths) as arrays, servers by name, each in table order."""
    q = as_columns(queues)
    times = np.array(q["time"], dtype=np.float64)
    lengths = np.array(q["queue_length"], dtype=np.float64)
    return {server: (times[index], lengths[index]) for server, index in group_indices(q["server"]).items()}


def _queue_envelopes(queues: Table, end_s: float, slices: int) -> dict[str, tuple[FloatArray, FloatArray]]:
    """server -> its queue's step curve to draw, to ``end_s``: the :func:`simulator.plotdata.step_envelope`
    of ``slices`` columns (every peak kept)."""
    return {server: step_envelope(times, lengths, end_s, slices)
            for server, (times, lengths) in _queue_arrays(queues).items()}


def queue_timeline(queues: Table, end_s: float,
                   outages: Sequence[tuple[str, float, float]] = (), title: str = "",
                   links: Sequence[tuple[str, str]] = (), relays_to: Mapping[str, Iterable[str]] | None = None
                   ) -> Figure:
    """Outgoing queue length of each server over time, one panel each; its outages shaded.

    A server's own outage is shaded red. Grey marks when link outages cut the server off from
    a server it relays to (``relays_to``, see :func:`simulator.cutoffs.destinations`; without
    it, every other server), over any link on its paths, not only its own (the topology's
    ``links``), or one of its own links was down. Without ``links``, only the outages of the
    server's own links are grey. With more than ``MAX_QUEUE_PANELS`` servers, those with the
    highest peaks are shown. A queue that changes more than
    :data:`simulator.plotdata.MAX_STEP_POINTS` times is drawn as a per-pixel-column envelope that
    keeps every peak and trough (:func:`simulator.plotdata.step_envelope`).
    """
    width_in = 8
    slices = round(width_in * DPI)
    curves = shared_aggregate(f"queue_timeline {end_s!r} {slices}", (queues,),
                              lambda: _queue_envelopes(queues, end_s, slices))
    targets = {s: curves if relays_to is None else relays_to.get(s, ()) for s in curves}
    cut = link_cutoffs(outages, links, targets) if links else {
        server: [(start, stop) for target, start, stop in outages if server in target.split("--")]
        for server in curves}
    peaks = {server: int(lengths.max()) for server, (_times, lengths) in curves.items()}
    servers = sorted(curves, key=lambda s: (-peaks[s], s))[:MAX_QUEUE_PANELS]
    servers.sort()
    panels = max(len(servers), 1)
    fig = new_figure(width_in, 1.2 + 1.45 * panels)
    axes = fig.subplots(panels, 1, sharex=True, squeeze=False)[:, 0]
    scale, unit = time_scale(end_s)
    for ax, server in zip(axes, servers, strict=False):
        xs, ys = curves[server]
        line = ax.step(xs / scale, ys, where="post", color="tab:blue", linewidth=1.2)[0]
        line.set_gid(f"queue:{server}")
        for start, stop in cut[server]:
            ax.axvspan(start / scale, stop / scale, color="grey", alpha=0.25, linewidth=0).set_gid(f"cut:{server}")
        for target, start, stop in outages:
            if target == server:
                ax.axvspan(start / scale, stop / scale, color="tab:red", alpha=0.18,
                           linewidth=0).set_gid(f"down:{server}")
        ax.set_ylabel("messages", fontsize=8)
        ax.set_ylim(0, max(peaks[server], 1) * 1.15)
        ax.yaxis.set_major_locator(MaxNLocator(nbins=4, integer=True))
        ax.ticklabel_format(axis="y", style="plain", useOffset=False)  # no offset text: see fixed_title
        fixed_title(ax, f"{server} (peak {peaks[server]})", loc="left", fontsize=9, fontweight="bold", pad=3)
        ax.grid(True, alpha=0.3)
        ax.set_xlim(0, end_s / scale if end_s > 0 else 1)
    if not servers:
        axes[0].text(0.5, 0.5, "no servers", ha="center", va="center", transform=axes[0].transAxes)
        axes[0].set_ylabel("messages")
    axes[-1].set_xlabel(f"simulated time ({unit})")
    axes[0].legend(handles=[Line2D([], [], color="tab:blue", label="outgoing queue (messages)"),
                            Patch(color="tab:red", alpha=0.18, label="server down"),
                            Patch(color="grey", alpha=0.25,
                                  label="links down cut it off from a server it relays to, or its own link down")],
                   loc="upper right", fontsize=7, framealpha=0.9)
    fit_column(fig, list(axes), fig.suptitle(title or "Outgoing queue length per server", fontsize=11))
    return fig


# ---- attempts and where the time went ----------------------------------------------------------


STATUSES: tuple[tuple[str, str], ...] = (("delivered", "tab:green"), ("bounced", "tab:red"), ("pending", "tab:orange"))


def attempt_counts(deliveries: Deliveries) -> dict[str, dict[int, int]]:
    """status -> {attempts: number of mail pairs}."""
    pairs = MailPairs.of(deliveries)
    out: dict[str, dict[int, int]] = {status: {} for status, _ in STATUSES}
    for status in sorted(pairs.status_counts(())):
        counts = np.bincount(pairs.attempts[pairs.has_status(status)])  # attempts: small counts, never negative
        out[status] = {attempts: n for attempts, n in enumerate(counts.tolist()) if n}
    return out


def attempts_histogram(deliveries: Deliveries, title: str = "") -> Figure:
    """How many delivery attempts each mail (message, recipient) pair took, stacked by final status."""
    counts = shared_aggregate("attempt_counts", (deliveries,), lambda: attempt_counts(deliveries))
    top = max((a for c in counts.values() for a in c), default=1)
    xs = list(range(top + 1))
    fig = new_figure(8, 4.2)
    ax = fig.add_subplot()
    bottom = [0] * len(xs)
    for status, color in STATUSES:
        heights = [counts.get(status, {}).get(x, 0) for x in xs]
        if not any(heights):
            continue
        bars = ax.bar(xs, heights, bottom=bottom, color=color, width=0.8,
                      label=f"{status} ({counted(sum(heights), 'pair')})")
        for x, bar in zip(xs, bars, strict=True):
            bar.set_gid(f"attempts:{status}:{x}")
        bottom = [b + h for b, h in zip(bottom, heights, strict=True)]
    if any(bottom):
        ax.legend(loc="upper right", fontsize=8)
        ax.set_yscale("symlog", linthresh=10)
        ax.set_ylim(0, max(bottom) * 1.6)
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:g}"))
    else:
        ax.text(0.5, 0.5, "no mail", ha="center", va="center", transform=ax.transAxes, color="grey")
    ax.set_xlabel("delivery attempts (count; 0: refused at submission)")
    ax.set_ylabel("(message, recipient) pairs (count, log above 10)")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(True, axis="y", alpha=0.3)
    fixed_title(ax, title or "Delivery attempts per mail (message, recipient) pair")
    fig.tight_layout()
    return fig


BREAKDOWN_PARTS: tuple[tuple[str, str, str], ...] = (
    ("queue_wait_s", "waiting in server queues (incl. failed attempts, retry intervals)", "tab:orange"),
    ("worker_wait_s", "waiting for a server's worker", "tab:red"),
    ("processing_s", "processing at a server (workers)", "tab:purple"),
    ("transfer_s", "SMTP sessions (submission, relay)", "tab:blue"),
    ("retrieval_s", "in the mailbox until the first device has it", "tab:green"),
)


_STAGE_PARTS = frozenset({"worker_wait_s", "processing_s"})


def breakdown_figure(breakdown: Table, title: str = "") -> Figure:
    """Where the time went: mean per part by destination domain (left), each part's CDF (right),
    from the breakdown's rows or columns (:func:`simulator.breakdown.time_breakdown`).

    The processing parts are drawn only when some server has a processing stage."""
    aggregate = shared_aggregate("breakdown", (breakdown,), lambda: _breakdown_aggregate(breakdown))
    parts, sizes, means, curves = aggregate.parts, aggregate.sizes, aggregate.means, aggregate.curves
    names = list(sizes)
    fig = new_figure(12, 5.6)
    left, right = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1, 1.15]})
    biggest = max((sum(m.values()) for m in means.values()), default=0.0)
    scale, unit = _linear_unit(biggest)
    ys = list(range(len(names)))
    offset = [0.0] * len(names)
    for key, label, color in parts:
        widths = [means[n][key] / scale for n in names]
        bars = left.barh(ys, widths, left=offset, color=color, label=label.split(" (")[0], height=0.6)
        for name, bar in zip(names, bars, strict=True):
            bar.set_gid(f"mean:{key}:{name}")
        offset = [o + w for o, w in zip(offset, widths, strict=True)]
    for y, name in zip(ys, names, strict=True):
        left.text(offset[y], y, f"  {short_duration(sum(means[name].values()))}", va="center", fontsize=8)
    left.set_yticks(ys, [f"{n}\n({counted(sizes[n], 'pair')})" for n in names], fontsize=8)
    left.invert_yaxis()
    left.set_xlim(0, max(offset, default=1.0) * 1.3 or 1.0)
    left.set_xlabel(f"mean time per delivered pair ({unit})")
    left.set_ylabel("destination domain")
    left.legend(loc="upper left", bbox_to_anchor=(0.0, -0.16), fontsize=8, frameon=False)
    left.grid(True, axis="x", alpha=0.3)
    fixed_title(left, "Mean time per part", fontsize=10)
    colors = {name: color for name, (_key, _label, color) in zip(curves, parts, strict=True)}
    drawn = _draw_cdfs(right, curves, colors=colors)
    _cdf_frame(right, drawn, "time in each part", "no delivered mail")
    fixed_title(right, "Distribution of each part (zero drawn at 100 µs)", fontsize=10)
    fig.suptitle(title or "Where the time went", fontsize=11)
    fig.tight_layout()
    return fig


@dataclass(frozen=True, slots=True)
class _Breakdown:
    """What :func:`breakdown_figure` draws, its size bounded: the parts drawn, the pairs of each
    group shown ("all", then up to :data:`MAX_SERIES` domains), each group's mean per part, and
    each part's CDF (named with how many of its values are zero)."""

    parts: list[tuple[str, str, str]]
    sizes: dict[str, int]
    means: dict[str, dict[str, float]]
    curves: dict[str, CdfCurve]


def _breakdown_aggregate(breakdown: Table) -> _Breakdown:
    """The :class:`_Breakdown` of the breakdown's rows or columns."""
    table = as_columns(breakdown)
    domains = table["domain"]
    columns = {key: np.array(table[key], dtype=np.float64) for key, _, _ in BREAKDOWN_PARTS}  # None: NaN
    present = {key: column[~np.isnan(column)] for key, column in columns.items()}
    parts = [p for p in BREAKDOWN_PARTS if p[0] not in _STAGE_PARTS or np.any(present[p[0]] != 0)]
    groups = group_indices(domains)
    names = ["all", *list(groups)[: MAX_SERIES]] if domains else []
    groups["all"] = np.arange(len(domains))
    means = {name: {key: _mean(columns[key][groups[name]]) for key, _, _ in parts} for name in names}
    series = {}
    for key, label, _color in parts:
        zero = int(np.count_nonzero(present[key] <= 0))
        series[label.split(" (")[0] + (f", {zero} zero" if zero else "")] = present[key]
    return _Breakdown(parts, {name: len(groups[name]) for name in names}, means, _cdf_curves(series))


def _mean(values: FloatArray) -> float:
    """The mean of the values that are not NaN (summed pairwise by numpy: within a few units in
    the 15th digit of the exact mean, far below a pixel or the three digits shown); 0 if none."""
    present = values[~np.isnan(values)]
    return float(present.sum()) / len(present) if len(present) else 0.0


def _linear_unit(max_s: float) -> tuple[float, str]:
    for limit, scale, unit in ((1.0, 1e-3, "ms"), (120.0, 1.0, "s"), (7200.0, 60.0, "min"), (2 * 86400, 3600.0, "h")):
        if max_s < limit:
            return scale, unit
    return 86400.0, "d"
