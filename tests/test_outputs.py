"""What a result folder holds as files: ``--events full|none|KIND,...`` and ``--format csv|parquet|both``.

The derived tables and summary never depend on either choice; the manifest records a choice that
is not the default; ``Result.load`` reads every kind of folder back; Parquet and CSV agree value
for value (each Parquet value written as the CSV writes it gives the CSV's text); bad choices are
refused with exit status 2 before anything is simulated.
"""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator import Result, cli, load_scenario, run
from simulator.events_filter import EVENT_KINDS
from simulator.results import cell, stats
from simulator.table_schema import TABLES

REPO = Path(__file__).resolve().parents[1]
TABLE_FILES = ("deliveries", "retrievals", "queues", "links", "servers")


def cli_run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = cli.main(list(argv), out, err)
    return code, out.getvalue(), err.getvalue()


def run_into(folder: Path, scenario: str = "outage-retry", *options: str) -> dict[str, Any]:
    code, _, err = cli_run("run", str(REPO / "scenarios" / f"{scenario}.yaml"), "-o", str(folder), "-q",
                           "--no-plots", *options)
    assert code == 0, err
    manifest: dict[str, Any] = json.loads((folder / "manifest.json").read_text())
    return manifest


@pytest.fixture(scope="module")
def default_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("default") / "r"
    manifest = run_into(folder)
    assert set(manifest) == {"format", "run_id", "files"}  # a default run's manifest as before
    return folder


def csv_rows(path: Path) -> list[list[str]]:
    with open(path, newline="") as f:
        return list(csv.reader(f))


# ---- --events --------------------------------------------------------------------------------------


def test_events_none_writes_no_log_and_the_same_tables(default_run: Path, tmp_path: Path) -> None:
    folder = tmp_path / "r"
    manifest = run_into(folder, "outage-retry", "--events", "none")
    assert manifest["events"] == "none"
    assert sorted(manifest["files"]) == ["deliveries.csv", "links.csv", "queues.csv", "retrievals.csv",
                                         "scenario.yaml", "servers.csv", "summary.json"]
    for name in ("deliveries.csv", "retrievals.csv", "queues.csv", "links.csv", "servers.csv", "summary.json"):
        assert (folder / name).read_bytes() == (default_run / name).read_bytes(), name
    loaded, whole = Result.load(folder), Result.load(default_run)
    assert (loaded.events_kept, loaded.records) == ("none", [])
    assert loaded.summary == whole.summary and loaded.tables == whole.tables
    assert loaded.deliveries.equals(whole.deliveries)
    code, out, err = cli_run("plot", str(folder))
    assert (code, out) == (2, "") and "written with --events none" in err and "--events full" in err
    with pytest.raises(ValueError, match="needs the whole event log"):
        loaded.plot_queues()
    with pytest.raises(ValueError, match="kept no event log"):
        _ = loaded.events


def test_events_of_some_kinds_keeps_exactly_their_records_in_order(default_run: Path, tmp_path: Path) -> None:
    folder = tmp_path / "r"
    manifest = run_into(folder, "outage-retry", "--events", "bounced,created")
    assert manifest["events"] == "created,bounced"  # in the order of the vocabulary
    every = csv_rows(default_run / "events.csv")
    kept = csv_rows(folder / "events.csv")
    assert kept[0] == every[0] and kept[1:] == [r for r in every[1:] if r[1] in ("created", "bounced")]
    assert {r[1] for r in kept[1:]} == {"created", "bounced"}
    assert (folder / "summary.json").read_bytes() == (default_run / "summary.json").read_bytes()
    loaded = Result.load(folder)
    assert loaded.events_kept == "created,bounced" and len(loaded.records) == len(kept) - 1
    assert loaded.events["event"].tolist() == [r[1] for r in kept[1:]]  # the kinds kept, as kept
    assert loaded.tables == Result.load(default_run).tables


@pytest.mark.parametrize(("value", "needle"), [
    ("nope", "unknown event kind 'nope'; give full, none, or some of: created, accepted"),
    ("created,sent,Delivered,x", "unknown event kinds 'Delivered', 'x'"),
    ("full,created", "'full' and 'none' stand alone"),
    ("created,,sent", "an empty event kind"),
    ("", "an empty event kind"),
])
def test_a_bad_events_choice_exits_2_before_simulating(tmp_path: Path, value: str, needle: str) -> None:
    code, out, err = cli_run("run", str(REPO / "scenarios" / "quickstart.yaml"), "-o", str(tmp_path / "r"),
                             "--events", value)
    assert (code, out) == (2, "") and needle in err and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []


def test_the_vocabulary_is_the_one_docs_events_md_lists() -> None:
    text = (REPO / "docs" / "events.md").read_text()
    documented = []
    for block in text.split("\n| event |")[1:]:
        for line in block.split("\n\n")[0].splitlines()[2:]:
            documented.append(line.split("|")[1].strip().strip("`"))
    assert tuple(documented) == EVENT_KINDS


# ---- --format ------------------------------------------------------------------------------------


def test_a_bad_format_exits_2_and_save_refuses_bad_choices_before_writing(tmp_path: Path) -> None:
    code, out, err = cli_run("run", str(REPO / "scenarios" / "quickstart.yaml"), "-o", str(tmp_path / "r"),
                             "--format", "xlsx")
    assert (code, out) == (2, "") and "--format: invalid choice: 'xlsx'" in err
    result = run(load_scenario(REPO / "scenarios" / "quickstart.yaml"))
    with pytest.raises(ValueError, match="unknown format 'xml'"):
        result.save(tmp_path / "a", with_plots=False, format="xml")
    with pytest.raises(ValueError, match="unknown event kind 'sending'"):
        result.save(tmp_path / "b", with_plots=False, events="sending")
    assert list(tmp_path.iterdir()) == []


def test_parquet_only_folders_load_to_the_same_result_and_repeat_byte_for_byte(
    default_run: Path, tmp_path: Path
) -> None:
    manifests = [run_into(tmp_path / name, "outage-retry", "--format", "parquet") for name in ("a", "b")]
    assert manifests[0] == manifests[1]  # same seed: the same bytes, by their sha256
    assert manifests[0]["table_format"] == "parquet"
    assert sorted(manifests[0]["files"]) == ["deliveries.parquet", "events.parquet", "links.parquet",
                                             "queues.parquet", "retrievals.parquet", "scenario.yaml",
                                             "servers.parquet", "summary.json"]
    assert (tmp_path / "a" / "summary.json").read_bytes() == (default_run / "summary.json").read_bytes()
    loaded, whole = Result.load(tmp_path / "a"), Result.load(default_run)
    assert loaded.records == whole.records and loaded.tables == whole.tables
    # a Parquet folder with only its tables (no log) reads its tables from Parquet
    run_into(tmp_path / "c", "outage-retry", "--format", "parquet", "--events", "none")
    tables_only = Result.load(tmp_path / "c")
    assert tables_only.tables == whole.tables and tables_only.summary == whole.summary
    for name in ("deliveries", "retrievals", "queues", "links", "servers"):
        assert getattr(tables_only, name).equals(getattr(whole, name)), name


def test_parquet_columns_have_the_documented_types() -> None:
    from simulator.eventkinds import FIELD_TYPES
    from simulator.parquet_io import arrow_schema, events_schema

    expected = {"string": "string", "int64": "int64", "float64": "double"}
    for table in ("deliveries", "retrievals", "queues", "links", "servers"):
        schema = arrow_schema(table)
        assert [(f.name, str(f.type), f.nullable) for f in schema] == \
            [(c.name, expected[c.type], c.nullable) for c in TABLES[table]]
    nullable = {c.name for c in TABLES["deliveries"] if c.nullable}
    assert nullable == {"delivered_at", "retrieved_at", "latency_s"}
    event_types = {"text": "string", "int": "int64", "float": "double", "list": "list<item: string>", "flag": "bool"}
    assert [(f.name, str(f.type), f.nullable) for f in events_schema()] == [
        ("time", "double", False), ("event", "string", False), ("message_id", "string", False),
        ("node", "string", False), *((name, event_types[t], True) for name, t in FIELD_TYPES.items())]


@pytest.mark.parametrize("scenario", ["outage-retry", "readers", "conversations", "greylisting"])
def test_parquet_and_csv_agree_value_for_value(tmp_path: Path, scenario: str) -> None:
    from simulator.eventkinds import KINDS, detail_text

    folder = tmp_path / "r"
    manifest = run_into(folder, scenario, "--format", "both")
    assert manifest["table_format"] == "both"
    for table in TABLE_FILES:
        text = csv_rows(folder / f"{table}.csv")
        data = pq.read_table(folder / f"{table}.parquet")
        assert data.schema.names == text[0]
        assert [[cell(v) for v in row.values()] for row in data.to_pylist()] == text[1:], table
        assert len(text) > 2, table
    # events: the four columns as written, and each record's typed fields give its detail text
    text = csv_rows(folder / "events.csv")
    rows = pq.read_table(folder / "events.parquet").to_pylist()
    assert len(rows) == len(text) - 1 > 100
    for row, (time_text, event, message_id, node, detail) in zip(rows, text[1:], strict=True):
        assert float(time_text) == row["time"] and (row["event"], row["message_id"], row["node"]) == \
            (event, message_id, node)
        names = [f.name for f in KINDS[event].fields]
        values = tuple(tuple(row[n]) if isinstance(row[n], list) else row[n] for n in names)
        assert detail_text(event, values) == detail
        assert all(row[n] is None for n in row if n not in (*names, "time", "event", "message_id", "node"))


# ---- the summary's statistics ---------------------------------------------------------------------


def _statistics_by_hand(values: list[float]) -> dict[str, Any]:
    """The summary's statistics worked out over a sorted list of Python floats."""
    ordered = sorted(values)
    n = len(ordered)

    def at(q: float) -> float:
        pos = (n - 1) * q / 100.0
        lo = math.floor(pos)
        hi = min(lo + 1, n - 1)
        return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)

    return {"count": n, "mean": math.fsum(ordered) / n, "p50": at(50), "p90": at(90), "p99": at(99),
            "max": ordered[-1]}


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(0, 1e7, allow_nan=False), min_size=1, max_size=300))
def test_summary_statistics_over_arrays_are_those_of_sorted_floats_to_the_last_bit(values: list[float]) -> None:
    got = stats(np.array(values))
    assert got == _statistics_by_hand(values)
    assert all(type(v) in (int, float) for v in got.values())  # JSON writes them as Python numbers
    assert json.dumps(got) == json.dumps(_statistics_by_hand(values))


def test_summary_statistics_of_nothing_are_none() -> None:
    assert stats(np.array([])) == stats([]) == {"count": 0, "mean": None, "p50": None, "p90": None, "p99": None,
                                                "max": None}
