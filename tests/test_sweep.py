"""Parameter sweeps: grid, seeds (common random numbers, spawned), executors, resume, statistics.

Expectations come from independent single runs (``mailsim run`` with the same seed), from the
seeding rule written in simulator/sweep/seeds.py, from arithmetic (Student-t intervals) or from
queueing theory (M/G/1-PS mean sojourn), never from pinned simulation output.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import math
from pathlib import Path

import numpy as np
import pytest

from simulator import ScenarioError, load_scenario
from simulator.cli import main
from simulator.cli_sweep import ProgressLine, parse_sets, split_values
from simulator.message import header_bytes
from simulator.sweep.api import run_sweep
from simulator.sweep.errors import SweepDefinitionError
from simulator.sweep.executors import Processes, Serial
from simulator.sweep.intervals import mean_ci95, t_quantile_975
from simulator.sweep.metrics import METRICS
from simulator.sweep.plan import plan_sweep
from simulator.sweep.seeds import replication_seeds

# A small world: a bottleneck link, POP3 and IMAP readers, and one message to an unknown user
# (a 550 and a bounce), so that every metric of a sweep has something to measure.
TINY = """\
name: tiny
seed: 5
duration: 1h
network:
  links:
    - {between: [lan.a, mx.a], latency: 1ms}
    - {between: [mx.a, mx.b], latency: 20ms, bandwidth: 10Mbps}
    - {between: [mx.b, lan.b], latency: 5ms, bandwidth: 20Mbps}
servers:
  mx.a: {domains: [a.example]}
  mx.b: {domains: [b.example]}
users:
  - {address: s@a.example, at: lan.a}
  - {address: t@a.example, at: lan.a}
  - {address: r@b.example, at: lan.b, access: {protocol: pop3, poll: 5m}}
  - {address: q@b.example, at: lan.b}
traffic:
  - {from: a.example, to: b.example, rate: 20/h, size: {lognormal: {median: 20KB, sigma: 1.0}}}
messages:
  - {at: 2m, from: s@a.example, to: [nobody@b.example], size: 3KB}
"""

GRID_ARGS = ["--set", "network.links.1.bandwidth=1Mbps,10Mbps", "--set", "traffic.0.rate=10/h,40/h"]
GRID = {"network.links.1.bandwidth": ["1Mbps", "10Mbps"], "traffic.0.rate": ["10/h", "40/h"]}


@pytest.fixture(scope="module")
def tiny_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("scenario") / "tiny.yaml"
    path.write_text(TINY)
    return path


def cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    status = main(list(argv), stdout=out, stderr=err)
    return status, out.getvalue(), err.getvalue()


def read_rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def serial_sweep(tiny_file: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The reference: the grid sweep run in this process (--jobs 1), every run kept."""
    folder = tmp_path_factory.mktemp("sweep") / "jobs1"
    status, _, err = cli("sweep", str(tiny_file), *GRID_ARGS, "-r", "3", "-j", "1", "-o", str(folder),
                           "--keep-runs", "--no-plots")
    assert status == 0, err
    return folder


# --------------------------------------------------------------------------- seeds and statistics


def test_replication_seeds_are_spawned_children_and_stable_when_extended() -> None:
    seeds = replication_seeds(42, 5)
    children = np.random.SeedSequence(42).spawn(5)
    assert seeds == tuple(int(c.generate_state(1, np.uint64)[0]) for c in children)
    assert len(set(seeds)) == 5
    assert all(s != 42 + r for r, s in enumerate(seeds))  # never seed + r
    assert replication_seeds(42, 8)[:5] == seeds  # adding replications keeps the earlier ones
    assert replication_seeds(43, 5) != seeds


def _t_cdf_above_zero(q: float, df: int, intervals: int = 4000) -> float:
    """P(0 < T < q) for Student's t with ``df`` degrees of freedom, by Simpson's rule."""
    log_norm = math.lgamma((df + 1) / 2) - math.lgamma(df / 2) - 0.5 * math.log(df * math.pi)

    def density(x: float) -> float:
        return math.exp(log_norm - (df + 1) / 2 * math.log1p(x * x / df))

    h = q / intervals
    inner = sum((4 if i % 2 else 2) * density(i * h) for i in range(1, intervals))
    return h / 3 * (density(0.0) + inner + density(q))


@pytest.mark.parametrize("df", [*range(1, 41), 60, 120, 1000])
def test_t_quantiles_are_the_975_points_of_student_t(df: int) -> None:
    assert _t_cdf_above_zero(t_quantile_975(df), df) == pytest.approx(0.475, abs=1e-5)


def test_t_quantiles_decrease_towards_the_normal_and_reject_df_0() -> None:
    quantiles = [t_quantile_975(df) for df in range(1, 200)]
    assert all(a > b for a, b in itertools.pairwise(quantiles))
    assert 1.96 < quantiles[-1] < 1.975
    with pytest.raises(ValueError):
        t_quantile_975(0)


def test_mean_ci95_arithmetic() -> None:
    mean, half = mean_ci95([1.0, 2.0, 3.0])  # s = 1, n = 3, t(2) = 4.3027
    assert mean == 2.0
    assert half == pytest.approx(4.3027 / math.sqrt(3))
    assert mean_ci95([7.0]) == (7.0, None)
    assert mean_ci95([]) == (None, None)
    assert mean_ci95([5.0, 5.0, 5.0])[1] == 0.0


# --------------------------------------------------------------------------- planning


def test_grid_is_every_combination_first_key_slowest_each_validated(tiny_file: Path) -> None:
    plan = plan_sweep(tiny_file, {"network.links.1.bandwidth": ["1Mbps", 5e6, "10Mbps"],
                                  "servers.mx.b.retry.interval": ["5m", 600]}, 2)
    assert plan.runs == 12
    assert [tuple(p.values()) for p in plan.points] == [
        ("1Mbps", "5m"), ("1Mbps", 600), (5e6, "5m"), (5e6, 600), ("10Mbps", "5m"), ("10Mbps", 600)]
    for overrides, text in zip(plan.points, plan.point_yaml, strict=True):
        scenario = load_scenario(text)  # each point's effective scenario is self-contained
        expected_bps = {"1Mbps": 1e6, 5e6: 5e6, "10Mbps": 1e7}[overrides["network.links.1.bandwidth"]]
        assert scenario.network.links[1].bandwidth_bps == expected_bps
        assert scenario.servers["mx.b"].retry.interval_s == {"5m": 300.0, 600: 600.0}[
            overrides["servers.mx.b.retry.interval"]]
        assert scenario.servers["mx.a"].retry.interval_s == 1800.0  # untouched
    assert plan.point_numbers[0] == (1e6, 300.0)


def test_empty_grid_is_replications_equal_to_runs_of_the_file_itself(tiny_file: Path, tmp_path: Path) -> None:
    plan = plan_sweep(tiny_file, {}, 2)
    assert len(plan.points) == 1 and plan.runs == 2
    assert plan.point_yaml[0] == load_scenario(tiny_file).to_effective_yaml()
    run_sweep(plan, Serial(), tmp_path / "sweep", keep_runs=True, plots=False)
    status, _, err = cli("run", str(tiny_file), "--seed", str(plan.seeds[1]), "-o", str(tmp_path / "single"),
                         "--no-plots", "-q")
    assert status == 0, err
    for name in ("summary.json", "events.csv", "deliveries.csv"):
        kept = tmp_path / "sweep" / "runs" / "point0000-rep001" / name
        assert kept.read_bytes() == (tmp_path / "single" / name).read_bytes()


@pytest.mark.parametrize(
    ("grid", "words"),
    [
        ({"network.links.9.bandwidth": ["1Mbps"]}, ["network.links", "no item 9"]),
        ({"network.links.1.bandwidth": ["1Mbps", "fast"]}, ["network.links.1.bandwidth", "fast"]),
        ({"servers.mx.b.retry.intervall": ["5m"]}, ["intervall", "interval"]),
        ({"seed": [1, 2]}, ["seed"]),
        ({"duration": []}, ["at least one value"]),
        ({"duration": ["1h", "1h"]}, ["more than once"]),
    ],
)
def test_bad_grid_is_refused_with_the_key_named(tiny_file: Path, grid: dict, words: list[str]) -> None:
    with pytest.raises((SweepDefinitionError, ScenarioError)) as caught:
        plan_sweep(tiny_file, grid, 2)
    for word in words:
        assert word in str(caught.value)


def test_parse_sets_reads_yaml_scalars_and_keeps_flow_values_whole() -> None:
    assert parse_sets(["a.b=15m,100Mbps,3,0.5,true,null"]) == {"a.b": ["15m", "100Mbps", 3, 0.5, True, None]}
    assert split_values("{exponential: {mean: 10KB}},{uniform: {low: 1, high: 2}},'x,y'") == [
        "{exponential: {mean: 10KB}}", "{uniform: {low: 1, high: 2}}", "'x,y'"]
    assert parse_sets(["t.0.size={exponential: {mean: 10KB}},20KB"]) == {
        "t.0.size": [{"exponential": {"mean": "10KB"}}, "20KB"]}
    assert parse_sets(["d=2024-01-01"]) == {"d": ["2024-01-01"]}


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--set", "network.links.9.bandwidth=1Mbps"], ["no item 9"]),
        (["--set", "network.links.1.bandwidth=1Mbps,fast"], ["fast", "network.links.1.bandwidth"]),
        (["--set", "network.links.1.bandwidth"], ["KEY=VALUE"]),
        (["--set", "duration=1h,,2h"], ["empty value"]),
        (["--set", "duration=1h", "--set", "duration=2h"], ["given twice"]),
        (["--set", "duration=[1h"], ["unbalanced"]),
        (["--set", "seed=1,2"], ["seed"]),
        (["--set", "duration=1h", "-j", "0"], ["--jobs"]),
    ],
)
def test_cli_bad_sweep_input_exits_2_before_anything_runs(
    tiny_file: Path, tmp_path: Path, args: list[str], words: list[str]
) -> None:
    folder = tmp_path / "out"
    status, _, err = cli("sweep", str(tiny_file), *args, "-r", "2", "-o", str(folder))
    assert status == 2
    for word in words:
        assert word in err
    assert "Traceback" not in err
    assert not folder.exists()


# --------------------------------------------------------------------------- runs


def test_sweep_runs_equal_single_mailsim_runs_with_the_same_seeds(
    serial_sweep: Path, tiny_file: Path, tmp_path: Path
) -> None:
    rows = read_rows(serial_sweep / "runs.csv")
    assert len(rows) == 4 * 3
    # common random numbers: replication r has one seed at every point; replications differ
    seeds = {r: {row["seed"] for row in rows if row["replication"] == str(r)} for r in range(3)}
    assert all(len(s) == 1 for s in seeds.values())
    assert len({next(iter(s)) for s in seeds.values()}) == 3
    base = load_scenario(tiny_file)
    for row in rows[:: 5]:  # a spread of points and replications
        point_file = tmp_path / f"point{row['point']}.yaml"
        point = base.override({k: row[k] for k in GRID})
        point_file.write_text(point.to_effective_yaml())
        single = tmp_path / f"single{row['point']}-{row['replication']}"
        status, _, err = cli("run", str(point_file), "--seed", row["seed"], "-o", str(single), "--no-plots", "-q")
        assert status == 0, err
        summary = json.loads((single / "summary.json").read_text())
        kept = serial_sweep / "runs" / f"point{int(row['point']):04d}-rep{int(row['replication']):03d}"
        assert (kept / "summary.json").read_text() == (single / "summary.json").read_text()
        assert (kept / "events.csv").read_text() == (single / "events.csv").read_text()
        assert float(row["delivery_latency_mean_s"]) == summary["latency_s"]["mean"]
        assert float(row["delivery_latency_p99_s"]) == summary["latency_s"]["p99"]
        assert float(row["retrieval_latency_p50_s"]) == summary["retrieval_latency_s"]["p50"]
        assert int(row["duplicates"]) == summary["counts"]["duplicates"]
        assert int(row["peak_queue"]) == max(summary["peak_queue"].values())
        assert float(row["bounce_rate"]) == summary["counts"]["bounced"] / summary["counts"]["submitted"]


def test_sweep_csv_is_mean_and_t_interval_of_runs_csv(serial_sweep: Path) -> None:
    runs = read_rows(serial_sweep / "runs.csv")
    points = read_rows(serial_sweep / "sweep.csv")
    assert len(points) == 4
    for point in points:
        mine = [r for r in runs if r["point"] == point["point"]]
        assert int(point["runs"]) == len(mine) == 3
        for metric in METRICS:
            values = [float(r[metric]) for r in mine if r[metric] != ""]
            assert int(point[f"{metric}_n"]) == len(values)
            if len(values) >= 2:
                mean = sum(values) / len(values)
                sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))
                assert float(point[metric]) == pytest.approx(mean, rel=1e-12)
                assert float(point[f"{metric}_ci95"]) == pytest.approx(
                    t_quantile_975(len(values) - 1) * sd / math.sqrt(len(values)), rel=1e-9, abs=1e-15)
    assert "tiny" in (serial_sweep / "scenario.yaml").read_text()
    definition = json.loads((serial_sweep / "sweep.json").read_text())
    assert definition["grid"] == GRID and definition["replications"] == 3


def test_jobs_2_gives_identical_runs_csv(serial_sweep: Path, tiny_file: Path, tmp_path: Path) -> None:
    folder = tmp_path / "jobs2"
    status, out, err = cli("sweep", str(tiny_file), *GRID_ARGS, "-r", "3", "-j", "2", "-o", str(folder))
    assert status == 0, err
    assert (folder / "runs.csv").read_bytes() == (serial_sweep / "runs.csv").read_bytes()
    assert (folder / "sweep.csv").read_bytes() == (serial_sweep / "sweep.csv").read_bytes()
    for key in GRID:  # one PNG per swept key
        assert (folder / "plots" / f"{key}.png").read_bytes()[:4] == b"\x89PNG"
    assert "2 processes" in out and "ETA" in err


def test_dask_local_and_a_running_scheduler_give_identical_runs_csv(
    serial_sweep: Path, tiny_file: Path, tmp_path: Path
) -> None:
    distributed = pytest.importorskip("distributed")
    folder = tmp_path / "dask"
    status, out, err = cli("sweep", str(tiny_file), *GRID_ARGS, "-r", "3", "--dask", "local", "-o", str(folder),
                           "--no-plots")
    assert status == 0, err
    assert (folder / "runs.csv").read_bytes() == (serial_sweep / "runs.csv").read_bytes()
    assert "local Dask cluster" in out
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None) as cluster:
        folder = tmp_path / "scheduler"
        status, out, err = cli("sweep", str(tiny_file), *GRID_ARGS, "-r", "3", "--dask", cluster.scheduler_address,
                               "-o", str(folder), "--no-plots")
    assert status == 0, err
    assert (folder / "runs.csv").read_bytes() == (serial_sweep / "runs.csv").read_bytes()
    assert f"Dask at {cluster.scheduler_address}" in out


def test_dask_without_dask_installed_exits_2(tiny_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "distributed" else real(name, *a))
    status, _, err = cli("sweep", str(tiny_file), *GRID_ARGS, "-r", "2", "--dask", "local", "-o", str(tmp_path / "x"))
    assert status == 2 and "pip install 'mailsim[dask]'" in err
    assert not (tmp_path / "x").exists()


# --------------------------------------------------------------------------- resume


class _StopAfter:
    """A progress callback that interrupts the sweep like Ctrl-C once ``runs`` more have run."""

    def __init__(self, runs: int) -> None:
        self.runs = runs
        self.first: int | None = None

    def __call__(self, done: int, total: int) -> None:
        if self.first is None:
            self.first = done
        if done - self.first >= self.runs:
            raise KeyboardInterrupt


def test_interrupted_sweep_resumes_and_skips_finished_runs(serial_sweep: Path, tiny_file: Path, tmp_path: Path) -> None:
    plan = plan_sweep(tiny_file, GRID, 3)
    folder = tmp_path / "resumed"
    with pytest.raises(KeyboardInterrupt):
        run_sweep(plan, Serial(), folder, plots=False, progress=_StopAfter(5))
    assert len(read_rows(folder / "runs.csv")) == 5
    with pytest.raises(KeyboardInterrupt):  # again, this time from a process pool
        run_sweep(plan, Processes(2), folder, plots=False, progress=_StopAfter(2))
    recorded = len(read_rows(folder / "runs.csv"))
    assert recorded >= 7
    outcome = run_sweep(plan, Serial(), folder, plots=False)
    assert (outcome.skipped, outcome.ran) == (recorded, 12 - recorded)
    assert (folder / "runs.csv").read_bytes() == (serial_sweep / "runs.csv").read_bytes()
    again = run_sweep(plan, Serial(), folder, plots=False)
    assert (again.skipped, again.ran) == (12, 0)
    assert (folder / "sweep.csv").read_bytes() == (serial_sweep / "sweep.csv").read_bytes()


def test_row_cut_short_by_an_interruption_is_run_again(serial_sweep: Path, tiny_file: Path, tmp_path: Path) -> None:
    folder = tmp_path / "cut"
    folder.mkdir()
    (folder / "sweep.json").write_bytes((serial_sweep / "sweep.json").read_bytes())
    text = (serial_sweep / "runs.csv").read_text()
    lines = text.splitlines(keepends=True)
    (folder / "runs.csv").write_text("".join(lines[:4]) + lines[4][:25])  # header, 3 runs, a partial row
    outcome = run_sweep(plan_sweep(tiny_file, GRID, 3), Serial(), folder, plots=False)
    assert (outcome.skipped, outcome.ran) == (3, 9)
    assert (folder / "runs.csv").read_text() == text


def test_more_replications_extend_a_finished_sweep(serial_sweep: Path, tiny_file: Path, tmp_path: Path) -> None:
    folder = tmp_path / "more"
    run_sweep(plan_sweep(tiny_file, GRID, 3), Serial(), folder, plots=False)
    outcome = run_sweep(plan_sweep(tiny_file, GRID, 4), Serial(), folder, plots=False)
    assert (outcome.skipped, outcome.ran) == (12, 4)
    rows = read_rows(folder / "runs.csv")
    assert [r for r in rows if r["replication"] != "3"] == read_rows(serial_sweep / "runs.csv")
    with pytest.raises(SweepDefinitionError, match="at least as many"):
        run_sweep(plan_sweep(tiny_file, GRID, 2), Serial(), folder, plots=False)


def test_a_different_sweep_in_the_same_folder_is_refused(serial_sweep: Path, tiny_file: Path, tmp_path: Path) -> None:
    folder = tmp_path / "other"
    run_sweep(plan_sweep(tiny_file, GRID, 2), Serial(), folder, plots=False)
    before = (folder / "runs.csv").read_bytes()
    status, _, err = cli("sweep", str(tiny_file), "--set", "network.links.1.bandwidth=1Mbps,20Mbps",
                         "--set", "traffic.0.rate=10/h,40/h", "-r", "2", "-o", str(folder))
    assert status == 2 and "different sweep" in err and "swept keys or values" in err
    status, _, err = cli("sweep", str(tiny_file), *GRID_ARGS, "-r", "2", "--seed", "99", "-o", str(folder))
    assert status == 2 and "base seed" in err
    assert (folder / "runs.csv").read_bytes() == before


def test_a_folder_in_use_by_another_sweep_is_refused(tiny_file: Path, tmp_path: Path) -> None:
    fcntl = pytest.importorskip("fcntl")
    folder = tmp_path / "busy"
    folder.mkdir()
    with open(folder / ".sweep.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        status, _, err = cli("sweep", str(tiny_file), *GRID_ARGS, "-r", "2", "-o", str(folder))
    assert status == 2 and "another sweep" in err
    assert not (folder / "runs.csv").exists()


# --------------------------------------------------------------------------- Python API and progress


def test_python_sweep_returns_dataframes(serial_sweep: Path, tiny_file: Path) -> None:
    pd = pytest.importorskip("pandas")
    from simulator.sweep import sweep

    result = sweep(tiny_file, GRID, 3, executor=1)  # no folder: nothing written
    assert isinstance(result.runs, pd.DataFrame) and isinstance(result.summary, pd.DataFrame)
    assert len(result.runs) == 12 and len(result.summary) == 4
    on_disk = pd.read_csv(serial_sweep / "runs.csv", dtype={"seed": "uint64"})
    assert result.runs["delivery_latency_mean_s"].tolist() == on_disk["delivery_latency_mean_s"].tolist()
    assert result.runs["seed"].astype("uint64").tolist() == on_disk["seed"].tolist()
    assert result.summary["network.links.1.bandwidth"].tolist() == ["1Mbps", "1Mbps", "10Mbps", "10Mbps"]
    slow_link = result.summary[result.summary["network.links.1.bandwidth"] == "1Mbps"]
    fast_link = result.summary[result.summary["network.links.1.bandwidth"] == "10Mbps"]
    # a 1 Mbit/s bottleneck delays mail more than a 10 Mbit/s one (same streams, same traffic)
    assert (slow_link["delivery_latency_mean_s"].to_numpy() > fast_link["delivery_latency_mean_s"].to_numpy()).all()


def test_progress_line_shows_done_total_and_eta() -> None:
    stream = io.StringIO()
    progress = ProgressLine(stream, every_s_not_tty=0.0)
    progress(2, 10)
    progress(6, 10)
    progress.close()
    lines = stream.getvalue().splitlines()
    assert lines[0].startswith("  sweep: 2/10 runs (20%), 2 already done") and "ETA --" in lines[0]
    assert "6/10 runs (60%)" in lines[1] and "ETA " in lines[1] and "ETA --" not in lines[1]


# --------------------------------------------------------------------------- theory

MM1 = """\
name: mg1-ps
seed: 11
duration: 1h
network:
  links:
    - {between: [lan.a, mx.a], latency: 0s}
    - {between: [mx.a, mx.b], latency: 0s, bandwidth: 10Mbps}
    - {between: [mx.b, lan.b], latency: 0s}
servers:
  mx.a: {domains: [a.example], concurrency: 100000}
  mx.b: {domains: [b.example]}
users:
  - {address: s@a.example, at: lan.a}
  - {address: r@b.example, at: lan.b}
traffic:
  - {from: s@a.example, to: r@b.example, rate: 0.5/s, size: {exponential: {mean: 1MB}}}
"""


def test_the_package_exports_the_documented_python_api_each_name_from_its_module() -> None:
    """``simulator.sweep`` re-exports what docs/sweeps.md documents, nothing it does not, and
    defines none of it itself: each name has one home, a module of the package with a docstring."""
    import __future__

    import importlib
    import pkgutil
    import re
    import types

    import simulator.sweep as package

    docs = (Path(__file__).resolve().parent.parent / "docs" / "sweeps.md").read_text(encoding="utf-8")
    imported = re.search(r"^from simulator\.sweep import (.+)$", docs, re.MULTILINE)
    assert imported is not None
    assert {name.strip() for name in imported.group(1).split(",")} <= set(package.__all__)
    undocumented = [name for name in package.__all__ if not re.search(rf"`[^`]*\b{name}\b[^`]*`", docs)]
    assert undocumented == []
    others = [name for name, value in vars(package).items() if not name.startswith("_") and name not in package.__all__
              and not isinstance(value, types.ModuleType) and value is not __future__.annotations]
    assert others == []  # beside the API only its modules
    modules = [info.name for info in pkgutil.iter_modules(package.__path__)]
    assert len(modules) >= 8
    for name in modules:
        assert importlib.import_module(f"simulator.sweep.{name}").__doc__, name
    for name in package.__all__:
        home = getattr(package, name).__module__
        assert home != "simulator.sweep" and home.startswith("simulator.sweep."), (name, home)


@pytest.mark.slow
def test_mm1_sweep_over_bandwidth_has_the_analytic_mean_sojourn_inside_its_ci(tmp_path: Path) -> None:
    """Zero latencies and unlimited access links leave one processor-sharing link: each message's
    delivery latency is its sojourn there. Poisson arrivals (rate 0.5/s) and service times
    8 * (headers + Exp(1 MB)) / C make M/G/1-PS, whose mean sojourn E[S] / (1 - rho) is that
    of M/M/1 (insensitivity)."""
    path = tmp_path / "mm1.yaml"
    path.write_text(MM1)
    bandwidths_bps = [8e6, 10e6, 13e6, 20e6, 40e6]
    plan = plan_sweep(path, {"network.links.1.bandwidth": bandwidths_bps}, 10)
    outcome = run_sweep(plan, Processes(), tmp_path / "out", plots=False)
    service_bytes = header_bytes("s@a.example", ("r@b.example",)) + 1e6
    inside = 0
    for row in outcome.points:
        mean_service_s = 8 * service_bytes / row["network.links.1.bandwidth"]
        rho = 0.5 * mean_service_s
        sojourn_s = mean_service_s / (1 - rho)
        half = row["delivery_latency_mean_s_ci95"]
        assert half < 0.1 * sojourn_s  # an interval narrow enough to mean something
        inside += abs(row["delivery_latency_mean_s"] - sojourn_s) <= half
    assert inside >= 4
