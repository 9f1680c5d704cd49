"""What does not happen silently: a user's mistake or a fault that would give a wrong or mixed
result without a word is refused with a clear message (exit status 2 from the CLI).

Commands run through ``cli.main`` as a user types them; each test checks the exit status, the
message and the files left behind.
"""

from __future__ import annotations

import io
import signal
from pathlib import Path
from typing import Any

import pytest
from test_resultdir import TINY as RESULT_TINY

from simulator import cli, results

TINY = RESULT_TINY.replace("{latency}", "20ms")  # a two-domain world with a little traffic


def cli_run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = cli.main(list(argv), out, err)
    return code, out.getvalue(), err.getvalue()


def files_of(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture()
def scenario(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.yaml"
    path.write_text(TINY.format(name="tiny"), encoding="utf-8")
    return path


@pytest.fixture()
def result_folder(scenario: Path, tmp_path: Path) -> Path:
    out = tmp_path / "out"
    code, _, err = cli_run("run", str(scenario), "-o", str(out), "-q", "--no-plots")
    assert code == 0, err
    return out


# ---- Ctrl-C that Python swallows still stops the swap ------------------------------------------------


def test_a_ctrl_c_swallowed_in_a_callback_still_leaves_the_old_folder(
    scenario: Path, result_folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C arriving inside a weakref callback or __del__ (matplotlib runs many while drawing) is
    printed as 'Exception ignored' and dropped by Python; the run must still not swap in."""
    before = files_of(result_folder)
    other = tmp_path / "other.yaml"
    other.write_text(TINY.format(name="other"), encoding="utf-8")
    real_write_json = results.write_json
    swallowed = []

    def write_json_interrupted(path: Path, data: dict[str, Any]) -> None:
        handler = signal.getsignal(signal.SIGINT)
        assert callable(handler)
        try:
            handler(signal.SIGINT, None)  # what a Ctrl-C does; the KeyboardInterrupt is then lost
        except KeyboardInterrupt:
            swallowed.append(path)
        real_write_json(path, data)

    monkeypatch.setattr(results, "write_json", write_json_interrupted)
    code, _, err = cli_run("run", str(other), "-o", str(result_folder), "-q", "--no-plots")
    assert swallowed and code == 130 and "interrupted" in err
    assert files_of(result_folder) == before
    assert [p.name for p in tmp_path.iterdir() if ".mailsim-" in p.name] == []


def test_without_ctrl_c_the_handler_is_put_back(scenario: Path, tmp_path: Path) -> None:
    before = signal.getsignal(signal.SIGINT)
    assert cli_run("run", str(scenario), "-o", str(tmp_path / "out"), "-q", "--no-plots")[0] == 0
    assert signal.getsignal(signal.SIGINT) is before


# ---- show and plot -o never write over something else -----------------------------------------------


@pytest.mark.parametrize("where, needle", [
    ("notes.csv", "figures are written as PNG"),
    ("a-folder", "figures are written as PNG"),
    ("a-folder.png", "is a folder"),
    ("data.png", "exists and is not a PNG; it is left as it is"),
    ("notes.csv/x.png", "notes.csv is a file, not a folder"),
    ("out/plots/net.png", "is inside the result folder"),
])
def test_show_refuses_a_place_that_holds_something_else(
    scenario: Path, result_folder: Path, tmp_path: Path, where: str, needle: str
) -> None:
    (tmp_path / "notes.csv").write_text("a,b\n1,2\n", encoding="utf-8")
    (tmp_path / "data.png").write_text("not an image\n", encoding="utf-8")
    (tmp_path / "a-folder").mkdir()
    (tmp_path / "a-folder.png").mkdir()
    before = files_of(tmp_path)
    code, out, err = cli_run("show", str(scenario), "-o", str(tmp_path / where))
    assert (code, out) == (2, "") and needle in err and "internal error" not in err
    assert files_of(tmp_path) == before


def test_show_writes_a_png_and_replaces_an_earlier_one(scenario: Path, tmp_path: Path) -> None:
    target = tmp_path / "drawings" / "net.png"
    for _ in range(2):
        code, out, _ = cli_run("show", str(scenario), "-o", str(target))
        assert code == 0 and out == f"wrote {target}\n"
        assert target.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")


@pytest.mark.parametrize("args, needle", [
    (("-o", "{other}"), "is inside the result folder"),
    (("-o", "{other}/plots"), "is inside the result folder"),
    (("-o", "{notes}"), "is a file, not a folder"),
    (("--message", "m1", "-o", "{notes}"), "figures are written as PNG"),
    (("--message", "m1", "-o", "{other}/journey.png"), "is inside the result folder"),
])
def test_plot_output_into_another_result_or_onto_a_file_is_refused(
    scenario: Path, result_folder: Path, tmp_path: Path, args: tuple[str, ...], needle: str
) -> None:
    other = tmp_path / "other"
    assert cli_run("run", str(scenario), "-o", str(other), "-q", "--no-plots")[0] == 0
    notes = tmp_path / "notes.csv"
    notes.write_text("a,b\n", encoding="utf-8")
    before = files_of(tmp_path)
    argv = [a.format(other=other, notes=notes) for a in args]
    code, out, err = cli_run("plot", str(result_folder), *argv)
    assert (code, out) == (2, "") and needle in err
    assert files_of(tmp_path) == before
    assert cli_run("plot", str(other), "--message", "m1")[0] == 0  # still one whole run


def test_plot_output_inside_its_own_result_folder_goes_through_the_manifest(result_folder: Path) -> None:
    target = result_folder / "journeys" / "m1.png"
    code, _, err = cli_run("plot", str(result_folder), "--message", "m1", "-o", str(target))
    assert code == 0, err
    assert "journeys/m1.png" in (result_folder / "manifest.json").read_text(encoding="utf-8")


# ---- a sweep is never mixed into a folder of something else ------------------------------------------


@pytest.mark.parametrize("where, needle", [
    ("notes.csv", "is a file, not a folder"),
    ("notes.csv/sweep", "cannot write"),
    ("papers", "holds files but is not a sweep folder (it has no sweep.json); it is left as it is"),
    ("out", "is the result folder of a run"),
    ("out/sweep", "is inside the result folder"),
])
def test_sweep_output_that_holds_something_else_is_refused_before_running(
    scenario: Path, result_folder: Path, tmp_path: Path, where: str, needle: str
) -> None:
    (tmp_path / "notes.csv").write_text("a,b\n", encoding="utf-8")
    (tmp_path / "papers").mkdir()
    (tmp_path / "papers" / "draft.txt").write_text("my thesis\n", encoding="utf-8")
    before = files_of(tmp_path)
    code, out, err = cli_run("sweep", str(scenario), "--set", "traffic.0.rate=6/h,12/h", "-r", "2", "-j", "1",
                             "-o", str(tmp_path / where), "-q", "--no-plots")
    assert (code, out) == (2, "") and needle in err and "internal error" not in err
    assert files_of(tmp_path) == before


def test_a_sweep_resumes_in_its_own_folder_and_names_the_one_difference(scenario: Path, tmp_path: Path) -> None:
    folder = tmp_path / "sweep"
    argv = ["sweep", str(scenario), "--set", "traffic.0.rate=6/h,12/h", "-r", "2", "-j", "1", "-o", str(folder),
            "-q", "--no-plots"]
    assert cli_run(*argv)[0] == 0
    assert cli_run(*argv)[0] == 0  # the same sweep again: resumed, nothing mixed
    code, _, err = cli_run(*argv, "--seed", "9")
    assert code == 2 and "(the base seed differs)" in err


# ---- what a valid scenario asks for that could never happen ------------------------------------------


@pytest.mark.parametrize("edit, key, needle", [
    (("from: a.example, to: b.example", "from: ann@a.example, to: ann@a.example"), "traffic.0.to",
     "'ann@a.example' has no user but the sender ('ann@a.example')"),
    (("from: a.example, to: b.example", "from: a.example, to: a.example"), "traffic.0.to",
     "the entry would send nothing"),
    (("duration: 20m", "duration: 0"), "duration",
     "0 s, but traffic.0 has a rate above 0: traffic creates messages only before duration"),
    (("duration: 20m", "duration: 20m\nuntil: 1h\noutages: [{target: mx.b, start: 2h, duration: 1h}]"),
     "outages.0.start", "7200.0 s is after until (3600.0 s): the outage would never happen"),
])
def test_a_scenario_asking_for_what_never_happens_is_refused(
    tmp_path: Path, edit: tuple[str, str], key: str, needle: str
) -> None:
    path = tmp_path / "futile.yaml"
    path.write_text(TINY.format(name="futile").replace(*edit, 1), encoding="utf-8")
    for argv in (["validate", str(path)], ["run", str(path), "-o", str(tmp_path / "out")]):
        code, out, err = cli_run(*argv)
        assert (code, out) == (2, "") and f"{key}: " in err and needle in err and "(line " in err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("edit", [
    ("rate: 12/h", "rate: 0/h"),  # sends nothing on purpose
    ("duration: 20m", "duration: 20m\nuntil: 1h\noutages: [{target: mx.b, start: 1h, duration: 1h}]"),  # at until
    ("duration: 20m", "duration: 20m\noutages: [{target: mx.b, start: 2h, duration: 1h}]"),  # no until
])
def test_what_is_meant_or_may_happen_stays_valid(tmp_path: Path, edit: tuple[str, str]) -> None:
    path = tmp_path / "fine.yaml"
    path.write_text(TINY.format(name="fine").replace(*edit, 1), encoding="utf-8")
    code, out, err = cli_run("validate", str(path))
    assert code == 0 and "valid scenario 'fine'" in out, err


def test_duration_0_with_traffic_at_rate_0_stays_valid(tmp_path: Path) -> None:
    path = tmp_path / "scripted.yaml"
    path.write_text(TINY.format(name="scripted").replace("duration: 20m", "duration: 0").replace("12/h", "0/h"),
                    encoding="utf-8")
    code, out, err = cli_run("validate", str(path))
    assert code == 0 and "valid scenario 'scripted'" in out, err


# ---- the API ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("given", ["scenarios/quickstart.yaml", {"name": "x"}, None])
def test_run_takes_a_scenario_and_says_so(given: object) -> None:
    from simulator import run

    with pytest.raises(TypeError, match=r"run\(\) takes a Scenario \(from load_scenario\), got "):
        run(given)
