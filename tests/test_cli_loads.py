"""``mailsim run --bin`` and the load tables as a user meets them: files, printed summary, plots."""

from __future__ import annotations

import csv
import html
import json
from pathlib import Path

import pytest
from test_cli import GOOD, cli, write


def test_run_with_a_bin_width_writes_the_tables_in_that_width(tmp_path: Path) -> None:
    out_dir = tmp_path / "out"
    code, out, err = cli("run", str(write(tmp_path, GOOD)), "-o", str(out_dir), "--bin", "10m", "--report")
    assert code == 0, err
    with open(out_dir / "links.csv", newline="") as f:
        links = list(csv.DictReader(f))
    with open(out_dir / "servers.csv", newline="") as f:
        servers = list(csv.DictReader(f))
    starts = sorted({float(r["time"]) for r in links})
    assert starts[:3] == [0.0, 600.0, 1200.0]
    assert {r["server"] for r in servers} == {"mx.alpha", "mx.beta"}
    assert len(servers) == 2 * len(starts) and len(links) == 2 * 3 * len(starts)  # 3 links, 2 directions
    loads = json.loads((out_dir / "summary.json").read_text())["loads"]
    assert loads["bin_s"] == 600.0
    link, server = loads["most_loaded_link"], loads["most_loaded_server"]
    assert f"most loaded link: {link['link']} ({link['direction']})" in out
    assert f"most loaded server: {server['server']}," in out and "in the 10m from" in out
    assert {p.name for p in (out_dir / "plots").glob("*.png")} >= {"links.png", "servers.png"}
    page = (out_dir / "report.html").read_text()
    assert html.escape(f"most loaded link: {link['link']} ({link['direction']})") in page


@pytest.mark.parametrize("bad", ["0", "-5s", "abc", "1e400", "0s"])
def test_a_bad_bin_width_exits_2_and_writes_nothing(tmp_path: Path, bad: str) -> None:
    out_dir = tmp_path / "out"
    code, out, err = cli("run", str(write(tmp_path, GOOD)), "-o", str(out_dir), "--bin", bad)
    assert code == 2
    assert "--bin" in err and "Traceback" not in err and out == ""
    assert not out_dir.exists()


@pytest.mark.parametrize("tiny", ["1e-9s", "1ms"])
def test_a_bin_too_small_for_the_traffic_period_exits_2_before_simulating(tmp_path: Path, tiny: str) -> None:
    out_dir = tmp_path / "out"
    code, out, err = cli("run", str(write(tmp_path, GOOD)), "-o", str(out_dir), "--bin", tiny)
    assert code == 2, err
    assert err.startswith("error: --bin: a bin width of ") and "rows of links.csv and servers.csv" in err
    assert "at most 1,000,000: use a width of at least " in err and "Traceback" not in err and out == ""
    assert not out_dir.exists()


def test_plot_redraws_the_load_plots_from_the_folder(tmp_path: Path) -> None:
    out_dir = tmp_path / "out"
    assert cli("run", str(write(tmp_path, GOOD)), "-o", str(out_dir), "-q", "--no-plots")[0] == 0
    assert not (out_dir / "plots").exists()
    code, out, err = cli("plot", str(out_dir))
    assert code == 0, err
    assert (out_dir / "plots" / "links.png").read_bytes()[:4] == b"\x89PNG"
    assert f"wrote {out_dir / 'plots' / 'servers.png'}" in out
