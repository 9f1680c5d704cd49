"""Ctrl-C during a simulation keeps what was simulated: the run stops at the simulated time
reached and writes a valid result folder marked partial (manifest, summary, the printed report,
report.html, ``Result.load``), its tables consistent (every pair created is delivered, bounced or
pending). A second Ctrl-C while that folder is written leaves the old folder as it was.

The CLI is run as a user runs it: in a subprocess sent real SIGINTs, and in this process with
a real SIGINT sent from the progress callback (at a simulated time the test chooses).
"""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import pytest

from simulator import Result, cli, interrupts, load_scenario
from simulator.eventkinds import as_dict
from simulator.progress import RunProgress
from simulator.resultdir import verify
from simulator.world import World

# Mail to b.example is delivered, mail to c.example waits for a server that is down throughout
# (retried every 5 minutes, given up after 10: bounces), so an interrupted run has
# delivered, bounced and pending pairs. Far more traffic than a test waits for.
LONG = """
name: long
seed: 5
duration: 10d
network:
  links:
    - {between: [lan.a, mx.a], latency: 1ms}
    - {between: [mx.a, mx.b], latency: 20ms, bandwidth: 100Mbps}
    - {between: [mx.a, mx.c], latency: 20ms, bandwidth: 100Mbps}
servers:
  mx.a:
    domains: [a.example]
    retry: {policy: fixed, interval: 5m, give_up: 10m}
  mx.b: {domains: [b.example]}
  mx.c: {domains: [c.example]}
users:
  - {group: {prefix: a, count: 5, domain: a.example}, at: lan.a}
  - {address: bob@b.example, at: mx.b}
  - {address: cat@c.example, at: mx.c}
traffic:
  - {from: a.example, to: b.example, rate: 900/h, size: 5KB}
  - {from: a.example, to: c.example, rate: 120/h, size: 5KB}
outages:
  - {target: mx.c, start: 0s, duration: 40d}
"""
WHOLE_FILES = {"deliveries.csv", "retrievals.csv", "queues.csv", "events.csv", "summary.json", "scenario.yaml",
               "manifest.json", "links.csv", "servers.csv"}


@pytest.fixture
def long_yaml(tmp_path: Path) -> Path:
    path = tmp_path / "long.yaml"
    path.write_text(LONG)
    return path


def files_of(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def old_result(tmp_path: Path) -> tuple[Path, dict[str, bytes]]:
    """A result folder of a whole (short) run, and its files."""
    short = tmp_path / "short.yaml"
    short.write_text(LONG.replace("duration: 10d", "duration: 10m").replace("name: long", "name: short"))
    out = tmp_path / "out"
    assert cli.main(["run", str(short), "-o", str(out), "-q", "--no-plots"], io.StringIO(), io.StringIO()) == 0
    return out, files_of(out)


def check_partial_folder(out: Path, duration_s: float) -> Result:
    """The checks every partial folder passes; returns it loaded."""
    verify(out)  # every file listed in the manifest, unchanged
    manifest = json.loads((out / "manifest.json").read_text())
    summary = json.loads((out / "summary.json").read_text())
    assert manifest["partial"] is True and summary["partial"] is True
    end_s = summary["end_time_s"]
    assert manifest["simulated_until_s"] == end_s and 0 < end_s < duration_s
    loaded = Result.load(out)
    assert loaded.partial and loaded.end_time_s == end_s
    assert loaded.summary == summary  # the tables written are those the log written derives
    assert max(r[0] for r in loaded.records) <= end_s
    # conservation: every pair created is delivered, bounced or pending, and each of the three occurs
    created = Counter()
    for _t, event, _mid, _node, values in loaded.records:
        if event == "created":
            f = as_dict(event, values)
            created[f["kind"]] += len(f["to"])
    mail = [r for r in loaded.tables.deliveries if r["kind"] == "mail"]
    statuses = Counter(r["status"] for r in mail)
    counts = summary["counts"]
    assert counts["delivered"] + counts["bounced"] + counts["pending"] == counts["submitted"] == created["mail"]
    assert (statuses["delivered"], statuses["bounced"], statuses["pending"]) == \
        (counts["delivered"], counts["bounced"], counts["pending"])
    assert min(counts["delivered"], counts["bounced"], counts["pending"]) > 0
    assert len(loaded.tables.deliveries) == sum(created.values())
    delivered_ids = {(r[2], as_dict(r[1], r[4])["rcpt"]) for r in loaded.records if r[1] == "delivered"}
    assert {(r["message_id"], r["recipient"]) for r in mail if r["status"] == "delivered"} <= delivered_ids
    return loaded


# ---- a real Ctrl-C, in a subprocess -------------------------------------------------------------


def start_run(*argv: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen([sys.executable, "-m", "simulator", "run", *argv], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)


def wait_for_line(stream: IO[str], start: str, seen: list[str]) -> None:
    """Read ``stream`` until a line starting with ``start`` (kept with the others in ``seen``)."""
    for line in stream:
        seen.append(line)
        if line.lstrip().startswith(start):
            return
    raise AssertionError(f"no line starting {start!r} in {''.join(seen)!r}")


def test_ctrl_c_while_simulating_writes_a_partial_folder(long_yaml: Path, tmp_path: Path) -> None:
    out, _ = old_result(tmp_path)
    process = start_run(str(long_yaml), "-o", str(out), "--no-plots")
    assert process.stderr is not None
    seen: list[str] = []
    wait_for_line(process.stderr, "simulating:", seen)  # after the two quiet seconds
    process.send_signal(signal.SIGINT)
    stdout, rest = process.communicate(timeout=300)
    err = "".join(seen) + rest
    assert process.returncode == 130, err
    assert "Traceback" not in err and "interrupted: writing the partial result, simulated until " in err
    assert "PARTIAL: interrupted before the end" in stdout and f"results in {out}/" in stdout
    assert set(files_of(out)) == WHOLE_FILES
    loaded = check_partial_folder(out, 10 * 86_400.0)
    assert loaded.summary["name"] == "long"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_a_second_ctrl_c_while_the_partial_result_is_written_leaves_the_old_folder(
    long_yaml: Path, tmp_path: Path
) -> None:
    out, before = old_result(tmp_path)
    process = start_run(str(long_yaml), "-o", str(out))
    assert process.stderr is not None
    seen: list[str] = []
    wait_for_line(process.stderr, "simulating:", seen)
    process.send_signal(signal.SIGINT)
    wait_for_line(process.stderr, "interrupted: writing the partial result", seen)
    process.send_signal(signal.SIGINT)  # deriving the tables of minutes of traffic takes a while
    stdout, rest = process.communicate(timeout=300)
    err = "".join(seen) + rest
    assert (process.returncode, stdout) == (130, ""), err
    assert err.endswith("interrupted\n") and "Traceback" not in err
    assert files_of(out) == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


# ---- a real Ctrl-C in this process, at a chosen simulated time --------------------------------


def interrupt_at(monkeypatch: pytest.MonkeyPatch, at_s: float, times: int = 1) -> list[float]:
    """Send this process a SIGINT from the progress callback once the simulation has passed
    ``at_s`` (``times`` of them); returns the simulated times they were sent at."""
    sent: list[float] = []
    simulation = RunProgress.simulation

    def wrapped(self: RunProgress, status: Any) -> None:
        if status.now_s >= at_s and not sent and not status.finished:
            for _ in range(times):
                sent.append(status.now_s)
                os.kill(os.getpid(), signal.SIGINT)
                time.sleep(0.01)  # the handler runs in this thread at the next instruction
        simulation(self, status)

    monkeypatch.setattr(RunProgress, "simulation", wrapped)
    return sent


def test_a_partial_folder_has_plots_and_redraws_as_partial(
    long_yaml: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sent = interrupt_at(monkeypatch, 1800.0)
    out = tmp_path / "out"
    stdout, stderr = io.StringIO(), io.StringIO()
    assert cli.main(["run", str(long_yaml), "-o", str(out), "-q", "--report"], stdout, stderr) == 130
    assert stdout.getvalue() == "" and stderr.getvalue().startswith("interrupted: writing the partial result")
    loaded = check_partial_folder(out, 10 * 86_400.0)
    # the run stops within the batch of events that saw the interrupt
    assert sent[0] <= loaded.end_time_s < sent[0] + 600
    assert {"plots/latency_cdf.png", "plots/queue_length.png", "report.html"} <= set(files_of(out))
    assert "Partial result: the run was interrupted" in (out / "report.html").read_text()
    stdout = io.StringIO()
    assert cli.main(["plot", str(out), "--message", "m1"], stdout, io.StringIO()) == 0
    assert "holds a partial run, interrupted at simulated" in stdout.getvalue()
    manifest = json.loads((out / "manifest.json").read_text())
    assert (manifest["partial"], manifest["simulated_until_s"]) == (True, loaded.end_time_s)
    assert "plots/journey-m1.png" in manifest["files"]


def test_two_ctrl_c_while_simulating_abort_and_leave_the_old_folder(
    long_yaml: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out, before = old_result(tmp_path)
    interrupt_at(monkeypatch, 1200.0, times=2)
    stderr = io.StringIO()
    assert cli.main(["run", str(long_yaml), "-o", str(out), "-q"], io.StringIO(), stderr) == 130
    assert stderr.getvalue() == "interrupted\n"
    assert files_of(out) == before


# ---- the pieces ----------------------------------------------------------------------------------


def test_the_first_ctrl_c_asks_to_stop_and_the_second_raises() -> None:
    with interrupts.noticing_interrupts(), interrupts.first_interrupt_stops() as stop:
        assert not stop()
        handler = signal.getsignal(signal.SIGINT)
        assert callable(handler)
        handler(signal.SIGINT, None)
        assert stop()
        interrupts.raise_if_interrupted()  # a stop request is not an interrupt to pass on
        with pytest.raises(KeyboardInterrupt):
            handler(signal.SIGINT, None)
        with pytest.raises(KeyboardInterrupt):
            interrupts.raise_if_interrupted()


def test_a_world_stopped_early_ends_at_the_time_reached_and_one_never_stopped_runs_to_the_end() -> None:
    text = textwrap.dedent(LONG).replace("duration: 10d", "duration: 30m")
    stopped = World(load_scenario(text))
    asks: list[float] = []

    def stop_after_three_batches() -> bool:  # asked before the first batch, then after each
        asks.append(stopped.env.now)
        return len(asks) == 4

    end_s = stopped.run(stop=stop_after_three_batches)
    assert stopped.stopped and stopped.status.finished and end_s == asks[-1] == stopped.env.now < 1800
    assert stopped.events_processed == 3000 and len(stopped.log) > 0
    assert max(r[0] for r in stopped.log.records) == end_s

    at_once = World(load_scenario(text))  # asked to stop before anything happened
    assert at_once.run(stop=lambda: True) == 0.0 and at_once.stopped and at_once.events_processed == 0

    whole, never = World(load_scenario(text)), World(load_scenario(text))
    assert whole.run() == never.run(stop=lambda: False) > 1800
    assert not never.stopped and whole.log.records == never.log.records


def test_a_ctrl_c_before_the_clock_moves_writes_nothing_and_keeps_the_old_folder(
    long_yaml: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    @contextmanager
    def asked_at_once() -> Iterator[Callable[[], bool]]:
        yield lambda: True  # Ctrl-C came while the world was being built

    out, before = old_result(tmp_path)
    monkeypatch.setattr(cli, "first_interrupt_stops", asked_at_once)
    stdout, stderr = io.StringIO(), io.StringIO()
    assert cli.main(["run", str(long_yaml), "-o", str(out), "--no-plots"], stdout, stderr) == 130
    assert stdout.getvalue() == ""
    assert stderr.getvalue() == f"interrupted before anything was simulated: nothing written ({out} is as it was)\n"
    assert files_of(out) == before
