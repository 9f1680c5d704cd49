"""The progress display of ``mailsim run``: every phase named, plain lines in a log, one
rewritten line on a terminal, and the drain after the traffic period told by what remains."""

from __future__ import annotations

import io
import textwrap
import time
from pathlib import Path

import pytest
from test_idle_time import down_scenario

from simulator import load_scenario
from simulator import progress as progress_module
from simulator.cli import main
from simulator.cli_sweep import ProgressLine
from simulator.progress import PHASES, RunProgress, simulation_text
from simulator.units import format_duration
from simulator.world import World

REPO = Path(__file__).resolve().parents[1]
DAY_S = 86_400.0


class FakeClock:
    def __init__(self) -> None:
        self.now_s = 100.0

    def __call__(self) -> float:
        return self.now_s


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_run_into_a_log_names_every_phase_in_plain_lines(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(progress_module, "QUIET_S", 0.0)
    out, err = io.StringIO(), io.StringIO()
    code = main(["run", str(REPO / "scenarios" / "wire.yaml"), "-o", str(tmp_path / "r"),
                 "--report", "--transcripts", "--pcap"], out, err)
    assert code == 0, err.getvalue()
    text = err.getvalue()
    assert "\r" not in text
    lines = text.splitlines()
    # A line at each phase change, in the order of the run (and one more every ten seconds
    # within a phase, should this machine be that slow).
    labels = [line.split(":")[0].strip() for line in lines[:-1]]
    assert [label for i, label in enumerate(labels) if i == 0 or labels[i - 1] != label] == list(PHASES.values())
    assert lines[0].startswith("  simulating: ")
    assert lines[-1].strip().startswith("finished [")
    assert (tmp_path / "r" / "capture.pcap").is_file() and "results in" in out.getvalue()


def test_quiet_shows_no_progress_whatever_the_wait(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(progress_module, "QUIET_S", 0.0)
    out, err = io.StringIO(), io.StringIO()
    code = main(["run", str(REPO / "scenarios" / "wire.yaml"), "-o", str(tmp_path / "r"), "-q", "--no-plots"],
                out, err)
    assert (code, out.getvalue(), err.getvalue()) == (0, "", "")


def test_a_log_gets_a_line_per_phase_change_and_one_every_ten_seconds_within_a_phase() -> None:
    clock, stream = FakeClock(), io.StringIO()
    display = RunProgress(stream, quiet_s=2.0, heartbeat_s=None, clock=clock)
    display.step("derive", "early")  # within the quiet start: nothing
    assert stream.getvalue() == ""
    clock.now_s += 3
    display.step("derive", "deliveries")
    clock.now_s += 5
    display.step("derive", "summary")  # same phase, 5 s later: not yet
    clock.now_s += 5
    display.step("derive", "still")  # 10 s after the last line
    display.step("write", "events.csv")  # a new phase: at once
    display.close()
    assert stream.getvalue().splitlines() == [
        "  deriving tables: deliveries [3s]",
        "  deriving tables: still [13s]",
        "  writing files: events.csv [13s]",
        "  finished [13s]",
    ]


def test_an_interrupted_run_does_not_claim_to_have_finished() -> None:
    clock, stream = FakeClock(), io.StringIO()
    with pytest.raises(KeyboardInterrupt), RunProgress(stream, quiet_s=0.0, heartbeat_s=None, clock=clock) as display:
        display.step("plots", "latency_cdf (1/7)")
        raise KeyboardInterrupt
    assert stream.getvalue() == "  drawing plots: latency_cdf (1/7) [0s]\n"


def test_a_terminal_gets_one_line_rewritten_in_place_and_cleared_at_the_end() -> None:
    clock, stream = FakeClock(), Terminal()
    display = RunProgress(stream, quiet_s=0.0, heartbeat_s=None, clock=clock)
    display.step("derive", "deliveries, retrievals, queues")
    clock.now_s += 1
    display.step("write", "events.csv")
    display.close()
    text = stream.getvalue()
    assert "\n" not in text
    parts = text.split("\r")
    assert parts[0] == parts[-1] == ""
    first, second, cleared = parts[1:-1]
    assert first == "  deriving tables: deliveries, retrievals, queues [0s]"
    # The shorter line is padded to cover the longer one it replaces.
    assert second.rstrip() == "  writing files: events.csv [1s]" and len(second) == len(first)
    assert cleared == " " * len(second.rstrip())


def test_the_heartbeat_shows_the_line_again_while_a_step_gives_no_news() -> None:
    stream = io.StringIO()
    display = RunProgress(stream, quiet_s=0.0, every_s_not_tty=0.01, heartbeat_s=0.01)
    display.step("derive", "a huge log")
    deadline = time.monotonic() + 10
    while stream.getvalue().count("deriving tables: a huge log") < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    display.close()
    assert stream.getvalue().count("deriving tables: a huge log") >= 2


# One message to a server that stays down, with a one-hour traffic period.
DOWN = down_scenario("{policy: postfix}").replace("duration: 1m\n", "duration: 1h\n", 1)


def texts_at(text: str, *times_s: float) -> tuple[World, list[str]]:
    """Run the scenario, taking the progress text when the clock reaches each time."""
    world = World(load_scenario(textwrap.dedent(text)))
    seen: list[str] = []
    for at_s in times_s:
        world.env.timeout(at_s).callbacks.append(lambda _event: seen.append(simulation_text(world.status)))
    world.run()
    return world, seen


def test_during_the_traffic_period_the_line_shows_how_much_of_it_has_passed() -> None:
    _, (text,) = texts_at(DOWN, 1800.0)
    assert text.startswith("50% of the 1h traffic period; at 30m, 1 message, ")


def test_after_the_traffic_period_the_line_shows_what_remains_to_drain() -> None:
    world, (text,) = texts_at(DOWN, 3 * DAY_S)
    next_s = min(r[0] for r in world.log.records if r[0] > 3 * DAY_S)  # each attempt and failure is logged
    assert text.startswith(f"draining, next event at {format_duration(round(next_s))}; 1 message queued, 1 task open; "
                           "at 3d, traffic ended at 1h; ")
    assert "%" not in text


def test_the_last_report_says_the_simulation_is_done() -> None:
    world = World(load_scenario(textwrap.dedent(DOWN).replace("duration: 90d", "duration: 1h")))
    texts: list[str] = []
    world.run(lambda status: texts.append(simulation_text(status)))
    assert texts[-1].startswith(f"done at {format_duration(round(world.env.now))}; ")


def test_the_sweep_line_on_a_terminal_is_rewritten_and_kept_at_the_end() -> None:
    stream = Terminal()
    line = ProgressLine(stream, every_s=0.0)
    line(1, 4)
    line(4, 4)
    line.close()
    shown = stream.getvalue()
    assert shown.count("\r") == 2 and shown.endswith("\n") and shown.count("\n") == 1
    first, second = shown.split("\r")[1:]
    assert first.startswith("  sweep: 1/4 runs (25%), 1 already done, ") and "ETA --" in first
    # the second line is longer, so there is nothing to pad over
    assert second.startswith("  sweep: 4/4 runs (100%), 1 already done, ") and second.endswith("\n")


class Status:
    """A RunStatus stand-in with figures set by the test."""

    def __init__(self, now_s: float, messages: int, duration_s: float = 3600.0, until_s: float | None = None,
                 finished: bool = False) -> None:
        self.now_s, self.messages_created, self.duration_s, self.until_s = now_s, messages, duration_s, until_s
        self.finished, self.events, self.queued_messages, self.busy, self.next_event_s = finished, 0, 2, 3, None
        self.stopped = False


def test_the_simulation_line_shows_messages_per_second_and_the_eta_of_the_traffic_period() -> None:
    clock, stream = FakeClock(), io.StringIO()
    display = RunProgress(stream, quiet_s=0.0, every_s_not_tty=0.0, heartbeat_s=None, clock=clock)
    display.simulation(Status(now_s=100.0, messages=40))  # the first report: no pace yet
    clock.now_s += 10
    display.simulation(Status(now_s=1000.0, messages=540))  # 900 simulated s in 10 s, 500 messages
    clock.now_s += 5
    display.simulation(Status(now_s=4000.0, messages=700))  # draining: neither the rate nor an ETA
    clock.now_s += 5
    display.simulation(Status(now_s=5000.0, messages=1040, finished=True))
    display.close()
    lines = stream.getvalue().splitlines()
    assert lines[0] == "  simulating: 3% of the 1h traffic period; at 1m40s, 40 messages, 0 events [0s]"
    # 2600 simulated seconds left at 90 per wall second; the ETA and the rate within 80 columns
    assert lines[1] == "  simulating: 28% of the 1h traffic period, ETA 29s, 50 messages/s; " \
                       "at 16m40s, 540 messages, 0 events [10s]"
    assert lines[1].index("messages/s") < 80
    assert lines[2] == "  simulating: draining; 2 messages queued, 3 tasks open; at 1h6m40s, traffic ended at 1h; " \
                       "700 messages, 0 events [15s]"
    assert lines[3] == "  simulating: done at 1h23m20s, 50 messages/s; 1,040 messages, 0 events [20s]"


def test_the_eta_runs_to_a_hard_stop_within_the_traffic_period_and_waits_for_simulated_time_to_pass() -> None:
    clock, stream = FakeClock(), io.StringIO()
    display = RunProgress(stream, quiet_s=0.0, every_s_not_tty=0.0, heartbeat_s=None, clock=clock)
    display.simulation(Status(now_s=0.0, messages=0, until_s=1800.0))
    clock.now_s += 2
    display.simulation(Status(now_s=0.0, messages=0, until_s=1800.0))  # no simulated time has passed yet
    clock.now_s += 2
    display.simulation(Status(now_s=600.0, messages=3000, until_s=1800.0))  # 150 simulated s per wall s
    display.close()
    lines = stream.getvalue().splitlines()
    assert lines[1].startswith("  simulating: 0% of the 1h traffic period, ETA --, 0 messages/s; hard stop at 30m; ")
    assert lines[2].startswith("  simulating: 17% of the 1h traffic period, ETA 8s, 750 messages/s; hard stop at 30m; ")


def test_the_sweep_line_shows_runs_per_second_and_the_eta() -> None:
    clock, stream = FakeClock(), io.StringIO()
    line = ProgressLine(stream, every_s_not_tty=0.0, clock=clock)
    line(2, 10)  # two runs were done in an earlier session
    clock.now_s += 4
    line(4, 10)
    assert stream.getvalue().splitlines() == [
        "  sweep: 2/10 runs (20%), 2 already done, elapsed 0.0s, ETA --",
        "  sweep: 4/10 runs (40%), 2 already done, elapsed 4.0s, 0.5 runs/s, ETA 12.0s",
    ]
