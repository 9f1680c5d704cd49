"""plots/links.png and plots/servers.png show what links.csv and servers.csv hold."""

from __future__ import annotations

from typing import Any

from conftest import run_yaml
from matplotlib.lines import Line2D
from test_server_loads import BUSY

from simulator.load_plots import MAX_PANELS, links_figure, servers_figure


def line(fig: Any, gid: str) -> Line2D:
    found = [ln for ax in fig.axes for ln in ax.get_lines() if ln.get_gid() == gid]
    assert len(found) == 1, gid
    return found[0]


def test_the_figures_plot_the_binned_tables() -> None:
    result = run_yaml(BUSY)
    fig = links_figure(result.link_rows)
    rows = [r for r in result.link_rows if r["link"] == "mx.a--mx.b" and r["direction"] == "mx.a->mx.b"]
    drawn = line(fig, "util:mx.a--mx.b:mx.a->mx.b")
    assert list(drawn.get_ydata())[:-1] == [100 * r["utilisation"] for r in rows]
    assert max(drawn.get_ydata()) > 0
    fig = servers_figure(result.server_rows)
    rows = [r for r in result.server_rows if r["server"] == "mx.b"]
    assert list(line(fig, "sessions:mx.b").get_ydata())[:-1] == [r["sessions_max"] for r in rows]
    assert list(line(fig, "queue:mx.a").get_ydata())[:-1] == [r["queue_max"] for r in result.server_rows
                                                              if r["server"] == "mx.a"]


def test_many_links_show_the_most_loaded() -> None:
    rows = [{"time": 0.0, "duration_s": 1.0, "link": f"l{i:02}", "direction": "x->y", "bytes": 0.0,
             "throughput_bps": 0.0, "utilisation": i / 20} for i in range(20)]
    fig = links_figure(rows)
    shown = {ln.get_gid() for ax in fig.axes for ln in ax.get_lines()}
    assert shown == {f"util:l{i:02}:x->y" for i in range(20 - MAX_PANELS, 20)}


def test_a_server_that_processes_shows_its_busy_workers() -> None:
    from test_server_loads import SCENARIOS

    from simulator import load_scenario, run

    result = run(load_scenario(SCENARIOS / "capacity.yaml").override({"duration": "20m"}), bin_s=60.0)
    fig = servers_figure(result.server_rows)
    rows = [r for r in result.server_rows if r["server"] == "mx.provider"]
    assert max(r["workers_busy_max"] for r in rows) == 2  # its two workers
    assert list(line(fig, "workers:mx.provider").get_ydata())[:-1] == [r["workers_busy_max"] for r in rows]
    assert not [ln for ax in fig.axes for ln in ax.get_lines() if ln.get_gid() == "workers:mx.partner"]


def test_more_bins_than_pixels_are_drawn_as_an_envelope_with_every_peak() -> None:
    bins = 50_000  # a month in one-minute bins: more bins than the figure is wide in pixels
    util = [((i * 7919) % 1000) / 4000 for i in range(bins)]  # 0 .. 0.25, in no order
    util[31_337] = 0.93
    rows = [{"time": 60.0 * i, "duration_s": 60.0, "link": "a--b", "direction": "a->b", "bytes": 0.0,
             "throughput_bps": 0.0, "utilisation": u} for i, u in enumerate(util)]
    fig = links_figure(rows)
    drawn = line(fig, "util:a--b:a->b")
    width_px = round(fig.get_figwidth() * fig.dpi)
    assert len(drawn.get_xdata()) <= 4 * width_px + 1  # first, lowest, highest, last of each pixel column
    assert max(drawn.get_ydata()) == 100 * 0.93 and min(drawn.get_ydata()) == 0.0
    assert drawn.get_xdata()[-1] == bins * 60.0 / 86_400.0  # to the end of the last bin, in days
    servers = [{"time": 60.0 * i, "duration_s": 60.0, "server": "mx.a", "queue_max": i % 97, "sessions_max": 1}
               for i in range(bins)]
    queue = line(servers_figure(servers), "queue:mx.a")
    assert len(queue.get_xdata()) <= 4 * width_px + 1 and max(queue.get_ydata()) == 96
