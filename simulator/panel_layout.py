"""Margins of a column of panels sharing one time axis, worked out from the sizes of its texts.

The stacked figures (queue length, link utilisation, servers) are a column of panels: each has a
bold title above it, a y label and y tick labels on its left, and only the bottom one shows the
x tick labels and the x label. Matplotlib's ``tight_layout`` finds their margins by asking every
artist of every panel for its extent, which updates each axis's ticks a dozen times over (the
spines ask too); for eight panels that costs more than drawing them. :func:`fit_column` gives the
same margins and spacing by ``tight_layout``'s own rule (every text clear of the figure's edge
and of the next panel by 1.08 font sizes) from the few extents that decide them: the widest
y tick label and the y label of each panel, each panel's title, the bottom panel's x tick labels
and x label, and the suptitle. Tick labels are measured as the strings the axis's formatter
gives for the ticks in view, without making the ticks.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

import matplotlib as mpl
from matplotlib.axes import Axes
from matplotlib.axis import Axis, YAxis
from matplotlib.backend_bases import RendererBase
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.text import Text

__all__ = ["fit_column"]

PAD_FONT_SIZES = 1.08
"""Space kept around the panels and between them, in font sizes (``tight_layout``'s default)."""


def fit_column(fig: Figure, axes: Sequence[Axes], suptitle: Text | None = None) -> None:
    """Place the column of ``axes`` (one above the other, the x axis shared, in order top to
    bottom) in ``fig`` so that no text is clipped or overlaps the next panel.

    The axis labels are fixed where matplotlib would put them (clear of the tick labels by the
    label pad), so drawing does not measure every panel's ticks once more to place them. The
    panels' y axes must show no offset text (``1e6``), nor their titles move: see
    :func:`simulator.plots.fixed_title`."""
    renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]
    width_px, height_px = fig.get_figwidth() * fig.dpi, fig.get_figheight() * fig.dpi
    pad_px = PAD_FONT_SIZES * FontProperties(size=mpl.rcParams["font.size"]).get_size_in_points() * fig.dpi / 72
    ticks_left_px = [_ticks_left_px(ax, renderer) for ax in axes]
    left_px = max(reach + _label_px(ax.yaxis, renderer) for ax, reach in zip(axes, ticks_left_px, strict=True))
    tops_px = [_top_px(ax, renderer) for ax in axes]
    ticks_bottom_px = _ticks_bottom_px(axes[-1], renderer)
    bottom_px = ticks_bottom_px + _label_px(axes[-1].xaxis, renderer)
    gaps_px = [_below_px(upper, renderer) + top for upper, top in zip(axes, tops_px[1:], strict=False)]
    top_px = tops_px[0] + pad_px
    if suptitle is not None and suptitle.get_text():
        top_px += suptitle.get_window_extent(renderer).height + pad_px
    left, top, bottom = (left_px + pad_px) / width_px, 1 - top_px / height_px, (bottom_px + pad_px) / height_px
    vspace = (max(gaps_px, default=0.0) + pad_px) / height_px
    panel = (top - bottom - vspace * (len(axes) - 1)) / len(axes)
    panel_width_px = (1 - pad_px / width_px - left) * width_px
    right = 1 - (_right_overhang_px(axes[-1], renderer, panel_width_px) + pad_px) / width_px
    fig.subplots_adjust(left=left, right=right, top=top, bottom=bottom, hspace=vspace / panel if panel > 0 else 0.2)
    panel_width_px, panel_height_px = (right - left) * width_px, max(panel, 1e-3) * height_px
    for ax, reach in zip(axes, ticks_left_px, strict=True):
        ax.yaxis.set_label_coords(-(reach + _labelpad_px(ax.yaxis)) / panel_width_px, 0.5)
        ax.xaxis.set_label_coords(0.5, -(ticks_bottom_px + _labelpad_px(ax.xaxis)) / panel_height_px)


def _tick_texts(axis: Axis) -> list[tuple[float, str]]:
    """(position, text) of the axis's major tick labels in view, as drawing will make them."""
    locs = list(axis.get_majorticklocs())
    texts = axis.get_major_formatter().format_ticks(locs)
    lo, hi = sorted(axis.get_view_interval())
    slack = (hi - lo) * 1e-10
    return [(loc, text) for loc, text in zip(locs, texts, strict=True) if lo - slack <= loc <= hi + slack and text]


def _size_px(fig: Figure, renderer: RendererBase, text: str, font: FontProperties) -> tuple[float, float]:
    """(width, height) of ``text`` drawn in ``font``, as a tick label's extent is measured."""
    probe = Text(0, 0, text, fontproperties=font)
    probe.set_figure(fig)
    box = probe.get_window_extent(renderer)
    return box.width, box.height


def _figure(axis: Axis) -> Figure:
    fig = axis.get_figure(root=True)
    assert isinstance(fig, Figure)
    return fig


def _label_font(axis: Axis) -> FontProperties:
    return axis.majorTicks[0].label1.get_fontproperties()


def _tick_length_px(axis: Axis) -> float:
    """How far the ticks reach out of the axes (their length, drawn outwards)."""
    return float(axis.majorTicks[0].get_tick_padding()) * _figure(axis).dpi / 72


def _tick_offset_px(axis: Axis) -> float:
    """From the spine to the near edge of the tick labels: the tick and the pad."""
    return _tick_length_px(axis) + float(cast(Any, axis.majorTicks[0].get_pad())) * _figure(axis).dpi / 72


def _labelpad_px(axis: Axis) -> float:
    return float(axis.labelpad) * _figure(axis).dpi / 72


def _label_px(axis: Axis, renderer: RendererBase) -> float:
    """How much the axis label adds beyond the tick labels: its pad and its thickness."""
    label = axis.label
    if not (label.get_visible() and label.get_text()):
        return 0.0
    box = label.get_window_extent(renderer)
    return _labelpad_px(axis) + (box.width if isinstance(axis, YAxis) else box.height)


def _ticks_left_px(ax: Axes, renderer: RendererBase) -> float:
    """How far the panel's y ticks and their labels reach left of it."""
    font = _label_font(ax.yaxis)
    fig = _figure(ax.yaxis)
    widest = max((_size_px(fig, renderer, text, font)[0] for _loc, text in _tick_texts(ax.yaxis)), default=0.0)
    return _tick_offset_px(ax.yaxis) + widest


def _y_label_reach_px(ax: Axes, renderer: RendererBase) -> tuple[float, float]:
    """How far a y tick label reaches below and above its tick (it is aligned on its centre
    line, so a little further below): the labels at the panel's bottom and top reach past it."""
    label = ax.yaxis.majorTicks[0].label1
    probe = Text(0, 0, "0", fontproperties=label.get_fontproperties(), verticalalignment=label.get_verticalalignment())
    probe.set_figure(_figure(ax.yaxis))
    box = probe.get_window_extent(renderer)
    return -box.y0, box.y1


def _below_px(ax: Axes, renderer: RendererBase) -> float:
    """How far a panel whose x tick labels are hidden reaches below itself: its x ticks, or its
    lowest y tick label."""
    return max(_tick_length_px(ax.xaxis), _y_label_reach_px(ax, renderer)[0])


def _top_px(ax: Axes, renderer: RendererBase) -> float:
    """How far the panel's titles reach above it (half a y tick label at the least). A title
    sits at its pad above the panel wherever the panel is."""
    reach = _y_label_reach_px(ax, renderer)[1]
    for name in ("title", "_left_title", "_right_title"):  # the three places Axes.set_title puts one
        title = getattr(ax, name)
        if title.get_visible() and title.get_text():
            reach = max(reach, title.get_window_extent(renderer).y1 - ax.bbox.y1)
    return reach


def _ticks_bottom_px(ax: Axes, renderer: RendererBase) -> float:
    """How far the bottom panel's x ticks and their labels reach below it."""
    font = _label_font(ax.xaxis)
    fig = _figure(ax.xaxis)
    tallest = max((_size_px(fig, renderer, text, font)[1] for _loc, text in _tick_texts(ax.xaxis)), default=0.0)
    return _tick_offset_px(ax.xaxis) + tallest


def _right_overhang_px(ax: Axes, renderer: RendererBase, panel_width_px: float) -> float:
    """How far the bottom panel's last x tick label (centred on its tick) reaches past its right edge."""
    lo, hi = ax.get_xlim()
    font = _label_font(ax.xaxis)
    fig = _figure(ax.xaxis)
    overhang = 0.0
    for loc, text in _tick_texts(ax.xaxis):
        centre_px = (loc - lo) / (hi - lo) * panel_width_px if hi != lo else 0.0
        overhang = max(overhang, centre_px + _size_px(fig, renderer, text, font)[0] / 2 - panel_width_px)
    return overhang
