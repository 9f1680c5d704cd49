"""The Python API a notebook uses: load, override, run, DataFrames, figures, save and load back."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import pandas as pd
import pytest

import simulator
from simulator import Result, ScenarioError, load_scenario, results, run
from simulator.eventkinds import FIELD_TYPES
from simulator.plots import Figure
from simulator.resultdir import ResultFolderError, write_manifest

SCENARIO = """
name: api-test
seed: 4
duration: 1h
network:
  links:
    - {between: [lan.a, mx.a], latency: 1ms}
    - {between: [mx.a, core], latency: 10ms, bandwidth: 100Mbps}
    - {between: [core, mx.b], latency: 20ms, bandwidth: 50Mbps}
    - {between: [lan.b, mx.b], latency: 2ms}
servers:
  mx.a: {domains: [a.example]}
  mx.b:
    domains: [b.example]
    retry: {policy: fixed, interval: 30m}
users:
  - {group: {prefix: a, count: 5, domain: a.example}, at: lan.a}
  - {address: pop@b.example, at: lan.b, access: {protocol: pop3, poll: 10m}}
  - {address: imap@b.example, at: lan.b, access: {protocol: imap, devices: 2}}
traffic:
  - {from: a.example, to: b.example, rate: 10/h, size: {lognormal: {median: 10KB, sigma: 1}}}
messages:
  - {at: 1m, from: a001@a.example, to: [nobody@b.example, pop@b.example], size: 1KB}
outages:
  - {target: mx.b, start: 10m, duration: 15m}
"""


@pytest.fixture(scope="module")
def result() -> Result:
    return run(load_scenario(SCENARIO))


def test_the_package_exports_the_notebook_api() -> None:
    for name in ("load_scenario", "run", "Result", "Scenario", "ScenarioError"):
        assert hasattr(simulator, name), name


def test_override_by_dotted_key_is_validated_like_the_file() -> None:
    scenario = load_scenario(SCENARIO)
    faster = scenario.override({"servers.mx.b.retry.interval": "15m"})
    assert faster.servers["mx.b"].retry.interval_s == 900.0
    assert scenario.servers["mx.b"].retry.interval_s == 1800.0  # the original is unchanged
    with pytest.raises(ScenarioError, match=r"servers\.mx\.b\.retry\.interval"):
        scenario.override({"servers.mx.b.retry.interval": "soon"})
    with pytest.raises(ScenarioError, match="nosuchkey"):
        scenario.override({"servers.mx.b.nosuchkey": 1})


def test_run_with_a_seed_uses_it(result: Result) -> None:
    other = run(load_scenario(SCENARIO), seed=99)
    assert other.seed == 99 and other.summary["seed"] == 99
    assert result.seed == 4


def test_deliveries_frame_is_the_deliveries_table(result: Result) -> None:
    df = result.deliveries
    assert isinstance(df, pd.DataFrame)
    assert list(df.columns) == list(results.DELIVERY_COLUMNS)
    assert len(df) == len(result.tables.deliveries)
    for column in ("submitted_at", "delivered_at", "retrieved_at", "latency_s"):
        assert df[column].dtype == "float64"
    for column in ("size_bytes", "wire_bytes", "attempts", "duplicates"):
        assert df[column].dtype == "int64"
    bounced = df[df["recipient"] == "nobody@b.example"].iloc[0]
    assert bounced["status"] == "bounced" and math.isnan(bounced["delivered_at"])
    delivered = df[(df["kind"] == "mail") & (df["status"] == "delivered")]
    assert delivered["latency_s"].median() == pytest.approx(result.summary["latency_s"]["p50"])


def test_retrievals_events_and_queues_frames(result: Result) -> None:
    retrievals = result.retrievals
    assert list(retrievals.columns) == list(results.RETRIEVAL_COLUMNS)
    assert len(retrievals) == len(result.tables.retrievals) > 0
    assert set(retrievals["protocol"]) == {"pop3", "imap"}
    events = result.events
    assert list(events.columns)[:5] == list(results.EVENT_COLUMNS)
    assert list(events.columns)[5:] == list(FIELD_TYPES)
    assert len(events) == len(result.records)
    assert events["time"].is_monotonic_increasing
    retrieved = events[events["event"] == "retrieved"]
    assert retrieved["protocol"].value_counts().to_dict() == retrievals["protocol"].value_counts().to_dict()
    assert retrieved["queue"].isna().all(), "a field a kind lacks is empty"
    first = retrieved.iloc[0]
    assert first["detail"] == f"rcpt={first['rcpt']} device={first['device']} protocol={first['protocol']} " \
                              f"seen={first['seen']}"
    queues = result.queues
    assert list(queues.columns) == list(results.QUEUE_COLUMNS)
    assert queues.groupby("server")["queue_length"].max().to_dict() == result.summary["peak_queue"]


def test_breakdown_frame_adds_up(result: Result) -> None:
    df = result.breakdown
    assert len(df) == result.summary["counts"]["delivered"]
    assert ((df["queue_wait_s"] + df["transfer_s"]) - df["latency_s"]).abs().max() < 1e-9


def test_frames_without_pandas_say_how_to_install_it(result: Result, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pandas", None)
    with pytest.raises(ImportError, match=r"pip install 'mailsim\[notebooks\]'"):
        _ = result.deliveries
    assert result.tables.deliveries, "rows still work without pandas"


def test_plot_methods_return_figures(result: Result) -> None:
    mid = result.tables.deliveries[0]["message_id"]
    figures = [result.plot_latency(), result.plot_latency("domain"), result.plot_latency("protocol"),
               result.plot_queues(), result.plot_attempts(), result.plot_time_breakdown(),
               result.plot_journey(mid), result.plot_topology()]
    assert all(isinstance(f, Figure) for f in figures)
    with pytest.raises(ValueError, match="by must be"):
        result.plot_latency("colour")


def test_save_and_load_give_equal_tables_and_summary(result: Result, tmp_path: Path) -> None:
    folder = result.save(tmp_path / "run", with_plots=False)
    loaded = Result.load(folder)
    assert loaded.records == result.records
    assert loaded.tables == result.tables
    assert loaded.summary == result.summary
    assert loaded.summary == json.loads((folder / "summary.json").read_text())
    assert loaded.scenario == result.scenario
    assert loaded.deliveries.equals(result.deliveries)
    assert not (folder / "plots").exists()


def test_load_keeps_details_and_exact_times(result: Result, tmp_path: Path) -> None:
    folder = result.save(tmp_path / "run", with_plots=False)
    loaded = Result.load(folder)
    assert loaded.records == result.records, "typed values survive the CSV round trip"
    assert any(len(v) > 1 for _t, e, _m, _n, values in loaded.records if e == "created" for v in [values[3]]), \
        "lists (comma-separated in the CSV) come back as tuples"
    assert all(type(r[0]) is float for r in loaded.records)


def test_load_refuses_what_is_not_a_result(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no result folder"):
        Result.load(tmp_path / "missing")
    with pytest.raises(ResultFolderError, match=r"has no manifest\.json \(not a result folder\)"):
        Result.load(tmp_path)
    (tmp_path / "events.csv").write_text("a,b\n")
    (tmp_path / "scenario.yaml").write_text("name: x\n")
    (tmp_path / "summary.json").write_text('{"run_id": "r1"}')
    write_manifest(tmp_path, "r1")  # a consistent folder whose events.csv is not an event log
    with pytest.raises(ValueError, match="not an event log"):
        Result.load(tmp_path)


def test_save_with_report_writes_report_html(result: Result, tmp_path: Path) -> None:
    folder = result.save(tmp_path / "run", with_plots=False, report=True)
    page = (folder / "report.html").read_text()
    assert page.startswith("<!DOCTYPE html>") and "data:image/png;base64," in page
    assert result.scenario.name in page
