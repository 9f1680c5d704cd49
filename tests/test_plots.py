"""Plots, journeys, topology drawings, the HTML report and the ``plot``/``show`` subcommands.

Figures are checked against the tables they draw (a CDF's median marker is summary.json's p50,
a queue line is queues.csv), PNGs are opened and checked to be real images of a sensible size,
and the commands are run through ``cli.main``.
"""

from __future__ import annotations

import base64
import io
import json
import re
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import run_yaml
from PIL import Image

from simulator import Result, cli, journey, plots, runner, topology, world
from simulator.scenario import load_scenario

SCENARIO = """
name: plots-test
seed: 11
duration: 90m
network:
  links:
    - {between: [lan.a, mx.a], latency: 1ms}
    - {between: [mx.a, core], latency: 10ms}
    - {between: [core, mx.b], latency: 15ms}
    - {between: [lan.b, mx.b], latency: 2ms, bandwidth: 10Mbps}
    - {between: [core, mx.c], latency: 20ms}
    - {between: [lan.c, mx.c], latency: 1ms}
servers:
  mx.a: {domains: [a.example]}
  mx.b: {domains: [b.example]}
  mx.c: {domains: [c.example]}
defaults:
  retry: {policy: fixed, interval: 10m, give_up: 1h30m}
users:
  - {address: ann@a.example, at: lan.a}
  - {address: pop@b.example, at: lan.b, access: {protocol: pop3, poll: 5m}}
  - {address: imap@b.example, at: lan.b, access: {protocol: imap, devices: 2}}
  - {address: web@b.example, at: lan.b, access: {protocol: http, poll: 5m}}
  - {address: cy@c.example, at: lan.c}
traffic:
  - {from: a.example, to: b.example, rate: 30/h, size: {lognormal: {median: 10KB, sigma: 1}}}
messages:
  - {at: 1m, from: ann@a.example, to: [imap@b.example], size: 10KB}
  - {at: 2m, from: ann@a.example, to: [nobody@b.example], size: 1KB}
  - {at: 3m, from: pop@b.example, to: [ann@a.example], size: 3KB}
  - {at: 15m, from: ann@a.example, to: [cy@c.example], size: 2KB}
outages:
  - {target: mx.b, start: 30m, duration: 25m}
  - {target: mx.c, start: 10m, duration: 4h}
"""

MIN_SIDE_PX, MAX_SIDE_PX = 400, 4000


@pytest.fixture(scope="module")
def result() -> Result:
    return run_yaml(SCENARIO)


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A result folder written by ``mailsim run --report``."""
    root = tmp_path_factory.mktemp("plots")
    (root / "s.yaml").write_text(SCENARIO)
    out = io.StringIO()
    assert cli.main(["run", str(root / "s.yaml"), "-o", str(root / "out"), "--report", "-q"], out, out) == 0
    return root / "out"


def _mail_id(result: Result, recipient: str) -> str:
    rows = result.tables.deliveries
    return next(r["message_id"] for r in rows if r["kind"] == "mail" and r["recipient"] == recipient)


def _gid(fig: Any, gid: str) -> Any:
    found = [a for ax in fig.axes for a in ax.get_children() if a.get_gid() == gid]
    assert len(found) == 1, f"expected one artist {gid!r}, found {len(found)}"
    return found[0]


def _check_png(data: bytes) -> tuple[int, int]:
    image = Image.open(io.BytesIO(data))
    image.load()
    assert image.format == "PNG"
    width, height = image.size
    assert MIN_SIDE_PX <= width <= MAX_SIDE_PX and 250 <= height <= MAX_SIDE_PX, image.size
    colours = image.convert("RGB").getcolors(maxcolors=1 << 20)
    assert colours is not None and len(colours) > 20, "an image of a few flat colours is not a plot"
    return width, height


def _main(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = cli.main(list(argv), out, err)
    return code, out.getvalue(), err.getvalue()


# ---- the files mailsim run writes -----------------------------------------------------------


def test_run_writes_every_plot_as_a_real_png(folder: Path) -> None:
    names = sorted(p.stem for p in (folder / "plots").glob("*.png"))
    assert names == sorted(runner.PLOT_FILES)
    for path in (folder / "plots").glob("*.png"):
        _check_png(path.read_bytes())


def test_pngs_carry_no_software_or_timestamp(folder: Path) -> None:
    for path in (folder / "plots").glob("*.png"):
        data = path.read_bytes()
        assert b"Software" not in data and b"matplotlib" not in data.lower()


def test_plot_redraws_the_same_pngs_without_simulating(folder: Path, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    def no_simulation(*_args: Any, **_kwargs: Any) -> None:
        raise AssertionError("mailsim plot must not simulate")

    monkeypatch.setattr(world, "World", no_simulation)  # run() takes World from simulator.world when called
    code, out, _err = _main("plot", str(folder), "-o", str(tmp_path))
    assert code == 0
    assert out.count("wrote ") == len(runner.PLOT_FILES)
    for path in (folder / "plots").glob("*.png"):
        assert (tmp_path / path.name).read_bytes() == path.read_bytes(), path.name


def test_plot_message_draws_a_journey(folder: Path, tmp_path: Path) -> None:
    mid = next(iter(Result.load(folder).tables.deliveries))["message_id"]
    target = tmp_path / "j.png"
    code, out, _err = _main("plot", str(folder), "--message", mid, "-o", str(target))
    assert code == 0 and str(target) in out
    _check_png(target.read_bytes())


def test_plot_message_default_path(folder: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy"  # leave the module's folder as mailsim run wrote it
    shutil.copytree(folder, copy)
    mid = next(iter(Result.load(copy).tables.deliveries))["message_id"]
    code, _out, _err = _main("plot", str(copy), "--message", mid)
    assert code == 0
    assert (copy / "plots" / f"journey-{mid}.png").is_file()
    assert f"plots/journey-{mid}.png" in json.loads((copy / "manifest.json").read_text())["files"]
    assert Result.load(copy).summary == Result.load(folder).summary  # still one consistent run


@pytest.mark.parametrize("argv, needle", [
    (["--message", "m999999"], "no message 'm999999'"),
    ([], None),
])
def test_plot_bad_input_exits_2(folder: Path, tmp_path: Path, argv: list[str], needle: str | None) -> None:
    target = str(folder) if needle else str(tmp_path / "missing")
    code, _out, err = _main("plot", target, *argv)
    assert code == 2
    assert (needle or "no result folder") in err
    assert "Traceback" not in err


def test_plot_of_a_folder_that_is_not_a_result_exits_2(tmp_path: Path) -> None:
    code, _out, err = _main("plot", str(tmp_path))
    assert code == 2 and "has no manifest.json (not a result folder)" in err


def test_show_draws_the_topology(tmp_path: Path) -> None:
    (tmp_path / "s.yaml").write_text(SCENARIO)
    code, out, _err = _main("show", str(tmp_path / "s.yaml"), "-o", str(tmp_path / "net.png"))
    assert code == 0 and "net.png" in out
    _check_png((tmp_path / "net.png").read_bytes())


def test_show_an_invalid_scenario_exits_2(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text(SCENARIO.replace("latency: 10ms", "latency: fast"))
    code, _out, err = _main("show", str(tmp_path / "bad.yaml"), "-o", str(tmp_path / "net.png"))
    assert code == 2 and "network.links.1.latency" in err
    assert not (tmp_path / "net.png").exists()


# ---- the report -----------------------------------------------------------------------------


def test_report_is_self_contained_with_every_plot(folder: Path) -> None:
    page = (folder / "report.html").read_text()
    images = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    assert len(images) == len(runner.PLOT_FILES)
    for data in images:
        _check_png(base64.b64decode(data))
    assert not re.search(r'(src|href)="(https?:)?//', page), "no external assets"
    assert "<script" not in page and "<link" not in page


def test_report_shows_the_summary_numbers(folder: Path) -> None:
    summary = json.loads((folder / "summary.json").read_text())
    page = (folder / "report.html").read_text()
    for key in ("submitted", "delivered", "bounced", "pending"):
        assert re.search(rf"<td[^>]*>{summary['counts'][key]}</td>", page), key
    p50 = summary["latency_s"]["p50"]
    assert f'title="{p50!r} s"' in page


# ---- what the figures show equals the tables ------------------------------------------------


def _delivered(result: Result) -> list[dict[str, Any]]:
    return [r for r in result.tables.deliveries if r["kind"] == "mail" and r["status"] == "delivered"]


def test_latency_cdf_plots_every_delivered_pair_and_the_summary_percentiles(result: Result) -> None:
    fig = result.plot_latency()
    line = _gid(fig, "cdf:delivery: submitted to mailbox")
    latencies = sorted(r["latency_s"] for r in _delivered(result))
    assert list(line.get_xdata()) == pytest.approx(latencies)
    n, total = len(latencies), result.summary["counts"]["submitted"]
    assert n < total  # the scenario bounces and leaves mail pending: the curve is over every pair
    assert list(line.get_ydata()) == pytest.approx([(i + 1) / total for i in range(n)])
    assert list(_gid(fig, "plateau:delivery: submitted to mailbox").get_ydata()) == pytest.approx([n / total] * 2)
    for q in (50, 90, 99):
        marker = _gid(fig, f"p{q}:delivery: submitted to mailbox")
        assert marker.get_xdata()[0] == pytest.approx(result.summary["latency_s"][f"p{q}"])
        assert marker.get_ydata()[0] == pytest.approx(q / 100 * n / total)
    e2e = _gid(fig, "p50:end to end: submitted to first device")
    assert e2e.get_xdata()[0] == pytest.approx(result.summary["end_to_end_latency_s"]["p50"])


def test_cdf_median_matches_the_saved_summary(folder: Path) -> None:
    summary = json.loads((folder / "summary.json").read_text())
    fig = Result.load(folder).plot_latency()
    assert _gid(fig, "p50:delivery: submitted to mailbox").get_xdata()[0] == pytest.approx(summary["latency_s"]["p50"])


def test_latency_by_domain_has_one_curve_per_destination_domain(result: Result) -> None:
    fig = result.plot_latency("domain")
    by_domain: dict[str, list[float]] = {}
    for r in _delivered(result):
        by_domain.setdefault(r["recipient"].rpartition("@")[2], []).append(r["latency_s"])
    assert {"a.example", "b.example"} <= set(by_domain)
    for domain, values in by_domain.items():
        label = next(a.get_gid() for ax in fig.axes for a in ax.get_lines()
                     if (a.get_gid() or "").startswith(f"cdf:{domain}"))
        assert len(_gid(fig, label).get_xdata()) == len(values)
        median = _gid(fig, label.replace("cdf:", "p50:", 1)).get_xdata()[0]
        assert median == pytest.approx(float(np.percentile(values, 50)))


def test_latency_by_protocol_matches_the_summary_per_protocol(result: Result) -> None:
    fig = result.plot_latency("protocol")
    per_protocol = result.summary["retrieval_by_protocol"]
    assert {"pop3", "imap", "http"} <= set(per_protocol)
    for protocol, stats in per_protocol.items():
        if not stats["retrieved"]:
            continue
        e2e = _gid(fig, f"p50:{protocol}: end to end").get_xdata()[0]
        assert e2e == pytest.approx(stats["end_to_end_latency_s"]["p50"])
        wait = _gid(fig, f"p50:{protocol}: mailbox to device").get_xdata()[0]
        assert wait == pytest.approx(stats["retrieval_latency_s"]["p50"])


def test_queue_timeline_draws_queues_csv_and_shades_outages(result: Result) -> None:
    fig = result.plot_queues()
    scale, _unit = plots.time_scale(result.end_time_s)
    for server in result.scenario.servers:
        rows = [r for r in result.tables.queues if r["server"] == server]
        line = _gid(fig, f"queue:{server}")
        assert list(line.get_xdata()) == pytest.approx([r["time"] / scale for r in rows] + [result.end_time_s / scale])
        assert list(line.get_ydata()) == [r["queue_length"] for r in rows] + [rows[-1]["queue_length"]]
    ax_b = _gid(fig, "queue:mx.b").axes
    spans = [p for p in ax_b.patches if p.get_facecolor()[3] > 0]
    assert len(spans) == sum(1 for o in result.scenario.outages if o.target == "mx.b")


def test_attempts_histogram_counts_every_mail_pair(result: Result) -> None:
    fig = result.plot_attempts()
    bars = [p for ax in fig.axes for p in ax.patches if (p.get_gid() or "").startswith("attempts:")]
    total_pairs = sum(p.get_height() for p in bars)
    total_attempts = sum(int(p.get_gid().rsplit(":", 1)[1]) * p.get_height() for p in bars)
    assert total_pairs == result.summary["counts"]["submitted"]
    assert total_attempts == result.summary["attempts"]["total"]
    bounced = sum(p.get_height() for p in bars if p.get_gid().startswith("attempts:bounced:"))
    assert bounced == result.summary["counts"]["bounced"]


def test_every_plot_labels_its_axes(result: Result) -> None:
    for name, draw in result.figures().items():
        fig = draw()
        for ax in fig.axes:
            if not ax.axison:
                continue
            assert ax.get_ylabel(), f"{name}: y axis without a label"
            if ax.get_xaxis().get_visible() and ax is fig.axes[-1]:
                assert ax.get_xlabel(), f"{name}: x axis without a label"


def test_figures_display_themselves_and_render_deterministically(result: Result) -> None:
    first = result.plot_latency()._repr_png_()
    assert first.startswith(b"\x89PNG")
    assert plots.png_bytes(result.plot_latency()) == first


# ---- where the time went --------------------------------------------------------------------


def test_breakdown_parts_add_up_to_the_latency(result: Result) -> None:
    rows = result.breakdown_rows
    assert len(rows) == len(_delivered(result))
    for row in rows:
        assert row["queue_wait_s"] >= -1e-9 and row["transfer_s"] > 0
        assert row["queue_wait_s"] + row["transfer_s"] == pytest.approx(row["latency_s"], abs=1e-9)


def test_breakdown_of_a_direct_delivery_is_two_smtp_sessions() -> None:
    text = SCENARIO.replace("rate: 30/h", "rate: 0/h")
    r = run_yaml(text)
    row = next(x for x in r.breakdown_rows if x["recipient"] == "imap@b.example")
    rtt_submit, rtt_relay = 2 * 0.001, 2 * (0.010 + 0.015)
    assert row["transfer_s"] == pytest.approx(4.5 * rtt_submit + 4.5 * rtt_relay, abs=1e-9)  # unlimited links: T = 0
    assert row["queue_wait_s"] == pytest.approx(0.0, abs=1e-9)


def test_breakdown_puts_an_outage_in_the_queue_wait(result: Result) -> None:
    down = next(o for o in result.scenario.outages if o.target == "mx.b")
    waited = [x for x in result.breakdown_rows
              if x["domain"] == "b.example" and x["queue_wait_s"] > 0 and x["latency_s"] > 60]
    assert waited, "mail sent during mx.b's outage waited in mx.a's queue"
    for row in waited:
        assert row["queue_wait_s"] > row["transfer_s"]
        assert row["queue_wait_s"] <= down.end_s - down.start_s + 600 + 30  # outage + one interval + a timeout


# ---- journeys -------------------------------------------------------------------------------


def _steps(result: Result, mid: str) -> journey.Journey:
    users = {u.address: u.at for u in result.scenario.expanded_users()}
    return journey.build(result.records, mid, set(result.scenario.servers), users, result.end_time_s)


def test_journey_of_a_retrieved_message(result: Result) -> None:
    mid = _mail_id(result, "imap@b.example")
    j = _steps(result, mid)
    keys = [lane.key for lane in j.lanes]
    assert keys[:3] == ["ua:ann@a.example", "mx.a", "mx.b"]
    assert [s.kind for s in j.steps if s.kind in ("submit", "relay")] == ["submit", "relay"]
    retrievals = [r for r in result.tables.retrievals if r["message_id"] == mid]
    fetched = [s for s in j.steps if s.kind == "retrieve"]
    assert len(fetched) == len(retrievals) == 2  # IMAP, two devices
    assert {s.dst for s in fetched} == {"dev:imap@b.example:1", "dev:imap@b.example:2"}
    assert [s.time_s for s in j.steps] == sorted(s.time_s for s in j.steps)


def test_journey_of_a_refused_message_shows_the_bounce_and_its_dsn(result: Result) -> None:
    mid = _mail_id(result, "nobody@b.example")
    j = _steps(result, mid)
    dsn = next(values[0] for t, e, m, n, values in result.records if e == "bounce_sent" and m == mid)
    bounces = [s for s in j.steps if s.kind == "bounce"]
    assert any("550" in s.label for s in bounces)
    assert any(s.message_id == dsn for s in j.steps), "the DSN's own steps are part of the journey"


def test_journey_folds_a_long_retry_run(result: Result) -> None:
    mid = _mail_id(result, "cy@c.example")
    attempts = sum(1 for _t, e, m, n, _d in result.records if e == "attempt" and m == mid)
    assert attempts > journey.MAX_ATTEMPTS_SHOWN
    j = _steps(result, mid)
    fold = [s for s in j.steps if s.kind == "fold"]
    assert len(fold) == 1 and f"{attempts - 4} more failed attempts" in fold[0].label
    shown = sum(1 for s in j.steps if s.kind == "note" and s.label.startswith("attempt"))
    assert shown == 4
    assert any(lane == "mx.c" for lane, _start, _end in j.outages)
    _check_png(plots.png_bytes(journey.draw(j)))


def test_journey_of_an_unknown_message_raises(result: Result) -> None:
    with pytest.raises(journey.UnknownMessageError, match="m424242"):
        result.plot_journey("m424242")


# ---- topology -------------------------------------------------------------------------------


def test_topology_draws_every_node_and_link_with_its_numbers() -> None:
    scenario = load_scenario(SCENARIO)
    fig = topology.topology_figure(scenario)
    texts = {t.get_gid(): t.get_text() for ax in fig.axes for t in ax.texts if t.get_gid()}
    for node in scenario.nodes():
        assert f"node:{node}" in texts
    for link in scenario.links:
        label = texts[f"link-label:{link.name}"]
        assert plots.short_duration(link.latency_s) in label
        assert topology.bandwidth_text(link.bandwidth_bps) in label
    assert "mx.b" in texts["node:mx.b"] and "b.example" in texts["node:mx.b"]


def test_topology_layout_is_deterministic_and_spread() -> None:
    scenario = load_scenario(SCENARIO)
    first = topology.layout(topology.graph(scenario))
    assert topology.layout(topology.graph(scenario)) == first
    assert len(set(first.values())) == len(first)
    assert plots.png_bytes(topology.topology_figure(scenario)) == plots.png_bytes(topology.topology_figure(scenario))


def test_bandwidth_and_duration_texts() -> None:
    assert topology.bandwidth_text(None) == "unlimited"
    assert topology.bandwidth_text(100e6) == "100 Mbps"
    assert topology.bandwidth_text(1e9) == "1 Gbps"
    assert plots.short_duration(0.0123) == "12.3 ms"
    assert plots.short_duration(90) == "1.5 min"
    assert plots.short_duration(7200) == "2 h"
