"""What writing a figure costs and gives: one drawing pass per PNG (no second walk of the figure
left behind by ``tight_layout``), a faster zlib level with exactly the pixels matplotlib's
default gives, and no software name or timestamp in the file.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from simulator import plots


def _figure() -> plots.Figure:
    return plots.cdf_figure({"fast": [0.01, 0.2, 0.5, 3.0], "slow": [1.0, 20.0, 90.0, None]}, title="two runs")


def _pixels(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGBA"))


def test_a_laid_out_figure_is_drawn_once_per_png(monkeypatch: Any) -> None:
    fig = _figure()
    assert fig.get_layout_engine() is None  # tight_layout ran and left nothing to run again
    calls = []
    drawn = fig.draw

    def counting(renderer: Any) -> None:
        calls.append(renderer)
        drawn(renderer)

    monkeypatch.setattr(fig, "draw", counting)
    plots.png_bytes(fig)
    assert len(calls) == 1


def test_the_png_has_matplotlibs_default_pixels_and_no_metadata(tmp_path: Path) -> None:
    fig = _figure()
    ours = plots.png_bytes(fig)
    default = io.BytesIO()
    fig.savefig(default, format="png", dpi=plots.DPI)  # zlib level 6, matplotlib's own metadata
    assert np.array_equal(_pixels(ours), _pixels(default.getvalue()))
    image = Image.open(io.BytesIO(ours))
    assert image.size == (8 * plots.DPI, round(fig.get_figheight() * plots.DPI))
    assert "Software" not in image.info and "Software" in Image.open(io.BytesIO(default.getvalue())).info
    plots.save(fig, tmp_path / "cdf.png")
    assert (tmp_path / "cdf.png").read_bytes() == ours == plots.png_bytes(_figure())  # the same bytes every time
