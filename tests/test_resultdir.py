"""A result folder holds exactly one run: runs replace it whole, failures and interrupts leave it
as it was, bad output paths fail before simulating, and plot/trace/Result.load refuse a folder
whose files disagree with its manifest. Commands run through ``cli.main`` as a user types them.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simulator import Result, cli, load_scenario, results, run, runner
from simulator.resultdir import ResultFolderError, run_id_of, verify

TINY = """
name: {name}
seed: 1
duration: 20m
network:
  links:
    - {{between: [lan.a, mx.a], latency: 1ms}}
    - {{between: [mx.a, mx.b], latency: {latency}, bandwidth: 10Mbps}}
servers:
  mx.a: {{domains: [a.example]}}
  mx.b: {{domains: [b.example]}}
users:
  - {{address: ann@a.example, at: lan.a}}
  - {{address: bob@b.example, at: mx.b}}
traffic: [{{from: a.example, to: b.example, rate: 12/h, size: 5KB}}]
messages: [{{at: 1m, from: ann@a.example, to: [bob@b.example], size: 3KB}}]
"""
NAMES = ("tiny-a", "tiny-b")
BASE_FILES = {"deliveries.csv", "retrievals.csv", "queues.csv", "events.csv", "summary.json", "scenario.yaml",
              "manifest.json", "links.csv", "servers.csv"}
FLAG_FILES = {"--report": "report.html", "--transcripts": "transcripts.jsonl", "--pcap": "capture.pcap"}


def cli_run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = cli.main(list(argv), out, err)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def scenarios(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("scenarios")
    paths = {}
    for name, latency in zip(NAMES, ("20ms", "35ms"), strict=True):
        paths[name] = root / f"{name}.yaml"
        paths[name].write_text(TINY.format(name=name, latency=latency))
    return paths


def files_of(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (hidden ones too) by relative path, with its bytes."""
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def leftovers(parent: Path) -> list[str]:
    """Hidden folders a run may have left beside its result folder."""
    return sorted(p.name for p in parent.iterdir() if p.name.startswith("."))


def manifest(folder: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((folder / "manifest.json").read_text())
    return data


# ---- one run per folder --------------------------------------------------------------------------


def test_a_run_into_the_folder_of_another_run_keeps_nothing_of_it(scenarios: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "out"
    code, _, err = cli_run("run", str(scenarios["tiny-a"]), "-o", str(out), "-q", "--transcripts", "--pcap")
    assert code == 0, err
    assert cli_run("plot", str(out), "--message", "m1")[0] == 0
    assert (out / "plots" / "journey-m1.png").is_file() and (out / "transcripts.jsonl").is_file()
    code, _, err = cli_run("run", str(scenarios["tiny-b"]), "-o", str(out), "-q", "--no-plots")
    assert code == 0, err
    assert set(files_of(out)) == BASE_FILES
    assert json.loads((out / "summary.json").read_text())["name"] == "tiny-b"
    code, _, err = cli_run("trace", str(out), "--message", "m1")
    assert code == 2 and "has no transcripts.jsonl" in err  # not tiny-a's conversations
    assert leftovers(tmp_path) == []


def test_an_empty_existing_folder_is_used(scenarios: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "empty"
    out.mkdir()
    code, _, err = cli_run("run", str(scenarios["tiny-a"]), "-o", str(out), "-q", "--no-plots")
    assert code == 0, err
    assert set(files_of(out)) == BASE_FILES


def test_a_symlinked_result_folder_is_replaced_where_it_points(scenarios: dict[str, Path], tmp_path: Path) -> None:
    real, link = tmp_path / "real", tmp_path / "link"
    assert cli_run("run", str(scenarios["tiny-a"]), "-o", str(real), "-q", "--no-plots", "--transcripts")[0] == 0
    link.symlink_to(real, target_is_directory=True)
    assert cli_run("run", str(scenarios["tiny-b"]), "-o", str(link), "-q", "--no-plots")[0] == 0
    assert link.is_symlink() and set(files_of(real)) == BASE_FILES
    assert json.loads((link / "summary.json").read_text())["name"] == "tiny-b"


def test_same_seed_gives_identical_summary_and_manifest_and_another_seed_another_run_id(
    scenarios: dict[str, Path], tmp_path: Path
) -> None:
    for name, seed in (("a", "3"), ("b", "3"), ("c", "4")):
        assert cli_run("run", str(scenarios["tiny-a"]), "-o", str(tmp_path / name), "-q", "--no-plots",
                       "--seed", seed)[0] == 0
    a, b, c = (files_of(tmp_path / n) for n in "abc")
    assert a == b
    ids = [json.loads(f["summary.json"])["run_id"] for f in (a, c)]
    assert ids[0] != ids[1]
    expected = run_id_of(load_scenario(scenarios["tiny-a"]).to_effective_dict(), 3)
    assert ids[0] == expected == json.loads(a["manifest.json"])["run_id"]


def test_report_carries_the_run_id(scenarios: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert cli_run("run", str(scenarios["tiny-a"]), "-o", str(out), "-q", "--no-plots", "--report")[0] == 0
    meta = re.search(r'<meta name="mailsim-run-id" content="([0-9a-f]+)">', (out / "report.html").read_text())
    assert meta is not None and meta.group(1) == manifest(out)["run_id"]


# ---- failures and interrupts leave the old folder --------------------------------------------------


@pytest.fixture()
def old_folder(scenarios: dict[str, Path], tmp_path: Path) -> tuple[Path, dict[str, bytes]]:
    out = tmp_path / "out"
    code, _, err = cli_run("run", str(scenarios["tiny-a"]), "-o", str(out), "-q", "--no-plots", "--transcripts")
    assert code == 0, err
    return out, files_of(out)


@pytest.mark.parametrize("raised, status, needle", [
    (KeyboardInterrupt, 130, "interrupted"),
    (RuntimeError("disk on fire"), 1, "internal error: RuntimeError: disk on fire"),
    (OSError(28, "No space left on device"), 2, "No space left on device"),
])
def test_a_run_that_fails_while_writing_leaves_the_old_folder(
    scenarios: dict[str, Path], old_folder: tuple[Path, dict[str, bytes]], monkeypatch: pytest.MonkeyPatch,
    raised: BaseException, status: int, needle: str
) -> None:
    out, before = old_folder
    written = []

    def failing(path: Path, data: dict[str, Any]) -> None:
        written.append(path)
        raise raised

    monkeypatch.setattr(results, "write_json", failing)  # summary.json, after the CSV files
    code, _, err = cli_run("run", str(scenarios["tiny-b"]), "-o", str(out), "-q", "--no-plots")
    assert (code, written != []) == (status, True)
    assert needle in err and "Traceback" not in err
    assert files_of(out) == before
    assert leftovers(out.parent) == []


def test_a_run_interrupted_while_simulating_leaves_the_old_folder(
    scenarios: dict[str, Path], old_folder: tuple[Path, dict[str, bytes]], monkeypatch: pytest.MonkeyPatch
) -> None:
    out, before = old_folder

    def interrupted(*args: Any, **kwargs: Any) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(runner, "run", interrupted)  # cli._run imports it when it runs
    assert cli_run("run", str(scenarios["tiny-b"]), "-o", str(out), "-q")[0] == 130
    assert files_of(out) == before and leftovers(out.parent) == []


def test_a_swap_that_fails_puts_the_old_folder_back(
    scenarios: dict[str, Path], old_folder: tuple[Path, dict[str, bytes]], monkeypatch: pytest.MonkeyPatch
) -> None:
    out, before = old_folder
    real_rename = os.rename

    def rename(source: Any, target: Any) -> None:
        if ".mailsim-new-" in str(source):
            raise OSError(18, "Invalid cross-device link")
        real_rename(source, target)

    monkeypatch.setattr(os, "rename", rename)
    code, _, err = cli_run("run", str(scenarios["tiny-b"]), "-o", str(out), "-q", "--no-plots")
    assert code == 2 and "Invalid cross-device link" in err and f"{out} is as it was" in err
    assert files_of(out) == before and leftovers(out.parent) == []


# ---- bad output paths, before simulating -----------------------------------------------------------


def _no_simulation(monkeypatch: pytest.MonkeyPatch) -> None:
    def simulated(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("simulated before checking the output path")

    monkeypatch.setattr(runner, "run", simulated)  # cli._run imports it when it runs


def test_output_naming_an_existing_file_exits_2(
    scenarios: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _no_simulation(monkeypatch)
    target = tmp_path / "out"
    target.write_text("mine")
    code, _, err = cli_run("run", str(scenarios["tiny-a"]), "-o", str(target))
    assert code == 2 and f"{target} is a file, not a folder" in err
    assert target.read_text() == "mine"


def test_output_under_a_file_exits_2(scenarios: dict[str, Path], tmp_path: Path,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    _no_simulation(monkeypatch)
    (tmp_path / "notes").write_text("mine")
    code, _, err = cli_run("run", str(scenarios["tiny-a"]), "-o", str(tmp_path / "notes" / "deeper" / "out"))
    assert code == 2 and f"{tmp_path / 'notes'} is a file, not a folder" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes"]


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs Linux /proc")
def test_output_where_nothing_can_be_written_exits_2(scenarios: dict[str, Path],
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    _no_simulation(monkeypatch)  # /proc takes no new folders, not even from root
    code, _, err = cli_run("run", str(scenarios["tiny-a"]), "-o", "/proc/mailsim-results/out")
    assert code == 2 and "cannot write /proc/mailsim-results/out: /proc is not writable" in err


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root writes anywhere")
def test_output_in_a_read_only_folder_exits_2(scenarios: dict[str, Path], tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    _no_simulation(monkeypatch)
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        code, _, err = cli_run("run", str(scenarios["tiny-a"]), "-o", str(locked / "out"))
    finally:
        locked.chmod(0o755)
    assert code == 2 and f"{locked} is not writable" in err


def test_output_holding_the_current_folder_exits_2(scenarios: dict[str, Path], tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "out"
    assert cli_run("run", str(scenarios["tiny-a"]), "-o", str(out), "-q", "--no-plots")[0] == 0
    before = files_of(out)
    (out / "plots").mkdir()
    monkeypatch.chdir(out / "plots")
    _no_simulation(monkeypatch)
    code, _, err = cli_run("run", str(scenarios["tiny-b"]), "-o", "..")
    assert code == 2 and ".. holds the current folder" in err
    assert files_of(out) == before


def test_output_inside_another_result_folder_exits_2(scenarios: dict[str, Path], tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "out"
    assert cli_run("run", str(scenarios["tiny-a"]), "-o", str(out), "-q", "--no-plots")[0] == 0
    before = files_of(out)
    _no_simulation(monkeypatch)
    code, _, err = cli_run("run", str(scenarios["tiny-b"]), "-o", str(out / "more" / "b"))
    assert code == 2 and f"is inside the result folder {out}" in err
    assert files_of(out) == before and verify(out)


@pytest.mark.parametrize("contents", [{"thesis.tex": "mine"}, {"summary.json": "not json", "a.txt": "x"},
                                      {"summary.json": '{"total": 3}'}])
def test_a_folder_that_is_not_a_result_is_never_replaced(
    scenarios: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, contents: dict[str, str]
) -> None:
    target = tmp_path / "work"
    target.mkdir()
    for name, text in contents.items():
        (target / name).write_text(text)
    before = files_of(target)
    _no_simulation(monkeypatch)
    code, _, err = cli_run("run", str(scenarios["tiny-a"]), "-o", str(target))
    assert code == 2 and "holds files but is not a mailsim result folder" in err and "left as it is" in err
    assert files_of(target) == before


def test_save_refuses_what_cannot_be_a_result_folder(scenarios: dict[str, Path], tmp_path: Path) -> None:
    result = run(load_scenario(scenarios["tiny-a"]))
    (tmp_path / "work").mkdir()
    (tmp_path / "work" / "thesis.tex").write_text("mine")
    (tmp_path / "file").write_text("mine")
    for target, needle in ((tmp_path / "work", "not a mailsim result folder"), (tmp_path / "file", "is a file"),
                           (tmp_path / "file" / "out", "is a file")):
        with pytest.raises(ResultFolderError, match=needle):
            result.save(target, with_plots=False)
    assert (tmp_path / "work" / "thesis.tex").read_text() == "mine" and (tmp_path / "file").read_text() == "mine"
    assert leftovers(tmp_path) == []


# ---- folders whose files disagree are refused ------------------------------------------------------


def _mix_in_anothers_transcripts(folder: Path, other: Path) -> None:
    shutil.copy(other / "transcripts.jsonl", folder / "transcripts.jsonl")


def _change_events(folder: Path, other: Path) -> None:
    with open(folder / "events.csv", "a") as f:
        f.write("1.0,created,m99,mx.a,\n")


def _remove_queues(folder: Path, other: Path) -> None:
    (folder / "queues.csv").unlink()


def _take_anothers_summary(folder: Path, other: Path) -> None:
    shutil.copy(other / "summary.json", folder / "summary.json")


def _remove_manifest(folder: Path, other: Path) -> None:
    (folder / "manifest.json").unlink()


@pytest.mark.parametrize("spoil, needle", [
    (_mix_in_anothers_transcripts, "not part of the run transcripts.jsonl"),
    (_change_events, "changed since the run events.csv"),
    (_remove_queues, "missing queues.csv"),
    (_take_anothers_summary, "summary.json is of run "),
    (_remove_manifest, "has no manifest.json (a folder from an older mailsim"),
])
def test_plot_trace_and_load_refuse_a_folder_whose_files_disagree(
    scenarios: dict[str, Path], tmp_path: Path, spoil: Any, needle: str
) -> None:
    folder, other = tmp_path / "a", tmp_path / "b"
    assert cli_run("run", str(scenarios["tiny-a"]), "-o", str(folder), "-q", "--no-plots")[0] == 0
    assert cli_run("run", str(scenarios["tiny-b"]), "-o", str(other), "-q", "--no-plots", "--transcripts")[0] == 0
    spoil(folder, other)
    before = files_of(folder)
    for argv in (("plot", str(folder)), ("plot", str(folder), "--message", "m1"),
                 ("trace", str(folder), "--message", "m1")):
        code, _, err = cli_run(*argv)
        assert code == 2 and needle in err and "Traceback" not in err, (argv, err)
    with pytest.raises(ResultFolderError, match=re.escape(needle)):
        Result.load(folder)
    assert files_of(folder) == before  # a refused folder is not written to


def test_plot_writes_into_the_folder_through_its_manifest(scenarios: dict[str, Path], tmp_path: Path) -> None:
    folder = tmp_path / "out"
    assert cli_run("run", str(scenarios["tiny-a"]), "-o", str(folder), "-q", "--no-plots")[0] == 0
    run_id = manifest(folder)["run_id"]
    elsewhere = tmp_path / "elsewhere.png"
    for argv in (("--message", "m1"), ("--message", "m1", "-o", str(folder / "journeys" / "m1.png")),
                 ("--message", "m1", "-o", str(elsewhere))):
        code, out, err = cli_run("plot", str(folder), *argv)
        assert code == 0 and out.startswith("wrote "), err
    listed = set(manifest(folder)["files"])
    assert {"plots/journey-m1.png", "journeys/m1.png"} <= listed and elsewhere.is_file()
    assert verify(folder) == run_id and Result.load(folder).run_id == run_id
    assert leftovers(tmp_path) == []


# ---- the property: the folder always describes the last completed run -------------------------------

RUNS = st.tuples(st.sampled_from(NAMES), st.sampled_from([1, 2]),
                 st.sampled_from([(), ("--transcripts",), ("--pcap",), ("--transcripts", "--pcap"), ("--report",)]),
                 st.sampled_from(["done", "done", "interrupted", "journey"]))


@contextmanager
def _interrupted_while_writing() -> Iterator[None]:
    def interrupt(*args: Any, **kwargs: Any) -> None:
        raise KeyboardInterrupt

    with mock.patch.object(results, "write_events", interrupt):
        yield


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(RUNS, min_size=1, max_size=4))
def test_the_folder_always_holds_exactly_the_last_completed_run(
    scenarios: dict[str, Path], steps: list[tuple[str, int, tuple[str, ...], str]]
) -> None:
    effective = {name: load_scenario(path).to_effective_dict() for name, path in scenarios.items()}
    with tempfile.TemporaryDirectory() as parent:
        folder = Path(parent) / "out"
        last: tuple[str, int, tuple[str, ...]] | None = None
        journeys: set[str] = set()
        for name, seed, flags, how in steps:
            argv = ["run", str(scenarios[name]), "-o", str(folder), "-q", "--no-plots", "--seed", str(seed), *flags]
            if how == "interrupted":
                with _interrupted_while_writing():
                    assert cli_run(*argv)[0] == 130
            elif how == "journey" and last is not None:
                assert cli_run("plot", str(folder), "--message", "m1")[0] == 0
                journeys.add("plots/journey-m1.png")
            else:
                assert cli_run(*argv)[0] == 0
                last, journeys = (name, seed, flags), set()
            if last is None:
                assert not folder.exists()
                continue
            name_, seed_, flags_ = last
            expected = run_id_of(effective[name_], seed_)
            assert set(files_of(folder)) == BASE_FILES | {FLAG_FILES[f] for f in flags_} | journeys
            summary = json.loads((folder / "summary.json").read_text())
            assert (summary["name"], summary["seed"], summary["run_id"]) == (name_, seed_, expected)
            assert verify(folder) == expected  # every file listed, unchanged, of this run
            if "--report" in flags_:
                assert f'content="{expected}"' in (folder / "report.html").read_text()
            assert leftovers(Path(parent)) == []
