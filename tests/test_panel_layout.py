"""A column of panels laid out by fit_column sits exactly where matplotlib's tight_layout puts it,
and draws the same pixels, for narrow and wide tick labels, one panel or eight, and a last x tick
label that overhangs the right edge; the stacked figures draw without any text outside the image
or over the panel above. Drawing one measures each axis's ticks once.
"""

from __future__ import annotations

import io
from typing import Any, cast

import numpy as np
import pytest
from matplotlib.axis import Axis
from matplotlib.ticker import MaxNLocator
from PIL import Image

from simulator import plots
from simulator.load_plots import servers_figure
from simulator.panel_layout import fit_column


def _column(peaks: list[int], end: float, fixed: bool) -> plots.Figure:
    """Panels like the queue figure's: a bold title each, counts up to ``peaks``, a shared time axis."""
    fig = plots.new_figure(8, 1.2 + 1.45 * len(peaks))
    axes = fig.subplots(len(peaks), 1, sharex=True, squeeze=False)[:, 0]
    for i, (ax, peak) in enumerate(zip(axes, peaks, strict=True)):
        ax.step([0, end / 3, end], [0, peak, 0], where="post")
        ax.set_ylim(0, max(peak, 1) * 1.15)
        ax.yaxis.set_major_locator(MaxNLocator(nbins=4, integer=True))
        ax.ticklabel_format(axis="y", style="plain", useOffset=False)
        ax.set_ylabel("messages", fontsize=8)
        title = f"server {i} (peak {peak})"
        if fixed:
            plots.fixed_title(ax, title, loc="left", fontsize=9, fontweight="bold", pad=3)
        else:
            ax.set_title(title, loc="left", fontsize=9, fontweight="bold", pad=3)
        ax.set_xlim(0, end)
    axes[-1].set_xlabel("simulated time (minutes)")
    suptitle = fig.suptitle("Outgoing queue length per server", fontsize=11)
    if fixed:
        fit_column(fig, list(axes), suptitle)
    else:
        fig.tight_layout()
    return fig


def _pixels(fig: plots.Figure) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(plots.png_bytes(fig))).convert("RGB"))


@pytest.mark.parametrize(("peaks", "end"), [([3], 90.0), ([5, 12_000, 40], 120.0), ([2_500_000] * 2, 7.9),
                                            ([1, 2, 3, 4, 50, 600, 7_000, 80_000], 1_000.0)])
def test_fit_column_places_the_panels_as_tight_layout_does(peaks: list[int], end: float) -> None:
    ours, theirs = _column(peaks, end, fixed=True), _column(peaks, end, fixed=False)
    height_px = ours.get_figheight() * ours.dpi
    for a, b in zip(ours.axes, theirs.axes, strict=True):
        assert np.allclose(a.get_position().bounds, b.get_position().bounds, atol=0.05 / height_px)
    assert np.array_equal(_pixels(ours), _pixels(theirs))


def test_a_stacked_figure_keeps_every_text_inside_and_clear_of_the_panel_above() -> None:
    rows = [{"time": 60.0 * i, "duration_s": 60.0, "server": f"mx.{s}", "queue_max": (i * 37 + s * 1001) % 9_000,
             "sessions_max": i % 5, "workers_busy_max": 0} for i in range(120) for s in range(8)]
    fig = servers_figure(rows, "a title")
    plots.png_bytes(fig)  # drawn: every text at its place
    renderer = cast(Any, fig.canvas).get_renderer()
    image = fig.bbox
    for ax in fig.axes:
        for text in [ax.title, cast(Any, ax)._left_title, ax.yaxis.label, ax.xaxis.label,
                     *ax.get_yticklabels(), *ax.get_xticklabels()]:
            if text.get_visible() and text.get_text():
                box = text.get_window_extent(renderer)
                assert image.x0 <= box.x0 and box.x1 <= image.x1 and image.y0 <= box.y0 and box.y1 <= image.y1
    for upper, lower in zip(fig.axes, fig.axes[1:], strict=False):
        title = cast(Any, lower)._left_title.get_window_extent(renderer)
        lowest = min(label.get_window_extent(renderer).y0 for label in upper.get_yticklabels() if label.get_text())
        assert title.y1 < lowest  # the title is below the upper panel's lowest y tick label


def test_drawing_a_stacked_figure_measures_each_axis_once(monkeypatch: Any) -> None:
    fig = _column([5, 12_000, 40], 120.0, fixed=True)
    calls: list[Axis] = []
    update = cast(Any, Axis)._update_ticks

    def counting(self: Axis) -> Any:
        calls.append(self)
        return update(self)

    monkeypatch.setattr(Axis, "_update_ticks", counting)
    plots.png_bytes(fig)
    assert len(calls) == 2 * len(fig.axes)  # each x and y axis once, as it is drawn
    monkeypatch.undo()
    calls.clear()
    monkeypatch.setattr(Axis, "_update_ticks", counting)
    plots.png_bytes(_column([5, 12_000, 40], 120.0, fixed=False))
    assert len(calls) > 4 * len(fig.axes)  # matplotlib's own placing of titles and labels measures again
