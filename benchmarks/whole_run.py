"""The whole ``mailsim run`` command as a user waits for it: wall time, peak memory, where the time
goes.

:func:`measure` runs ``mailsim run SCENARIO -o FOLDER`` (default outputs: CSVs, summary, plots) in a
fresh interpreter and times it from the moment the process is started to the moment it has exited,
every file and plot written. The child is this file run as a script: it records a time mark at each
phase of the command (imports, reading the scenario, simulating, deriving the tables, writing the
files, drawing the plots) and then runs ``simulator.cli.entrypoint`` exactly as the ``mailsim``
console script does (through ``simulator.launch``, which only loads it first). The marks come from
wrapping the CLI's progress display and its calls of ``load_scenario`` and ``run``, so nothing the
command does is changed. Whatever follows the last step of ``Result.save`` (the printed summary,
freeing the heap, interpreter shutdown) is counted as teardown.

Peak memory is the child's high-water mark (Linux ``VmHWM`` just before it exits, which a fresh
process image starts afresh) and, as a cross-check, ``ru_maxrss`` from ``os.wait4``. Where it is
reached shows in the memory at each phase's end (``phases_rss_kib``): the resident memory then
(``VmRSS``) and the high-water mark so far, which grows in the phase that set it.
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

PHASE_LABELS: dict[str, str] = {
    "import": "start Python, import simulator.cli",
    "load": "parse arguments, read + validate scenario",
    "simulate": "simulate (import the core, build World, World.run)",
    "derive": "derive tables + summary (+ time breakdown)",
    "write": "write CSVs, summary.json, scenario.yaml",
    "plots": "draw plots (import matplotlib) + write them",
    "teardown": "print summary, free the heap, exit",
}
"""The phases of the whole command, in order, and how the report names them."""


@dataclass
class WholeRun:
    """One whole ``mailsim run``: its wall time (s), each phase's share of it, peak RSS, results."""

    wall_s: float
    cpu_s: float  # user + system CPU time of the command (steadier than wall time on a busy machine)
    phases_s: dict[str, float]
    plots_s: dict[str, float]  # each plot's drawing and encoding, by name
    peak_rss_kib: int  # VmHWM of the command (ru_maxrss where /proc is missing)
    ru_maxrss_kib: int  # ru_maxrss of the child from os.wait4
    delivered_pairs: int
    delivered_messages: int
    files: list[str] = field(default_factory=list)
    phases_rss_kib: dict[str, tuple[int, int]] = field(default_factory=dict)  # phase -> (VmRSS, VmHWM) at its end

    def pairs_per_s(self) -> float:
        return self.delivered_pairs / self.wall_s

    def pairs_per_cpu_s(self) -> float:
        return self.delivered_pairs / self.cpu_s


def measure(scenario_path: Path, extra_args: Sequence[str] = ()) -> WholeRun:
    """Run ``mailsim run scenario_path`` with default outputs into a temporary folder; time it."""
    with tempfile.TemporaryDirectory(prefix="mailsim-whole-") as tmp:
        folder = Path(tmp) / "result"
        marks_path = Path(tmp) / "marks.json"
        argv = [sys.executable, str(Path(__file__).resolve()), str(marks_path),
                "run", str(scenario_path), "-o", str(folder), *extra_args]
        with open(Path(tmp) / "stdout", "wb") as out, open(Path(tmp) / "stderr", "wb") as err:
            start_s = time.monotonic()
            child = subprocess.Popen(argv, stdout=out, stderr=err)
            _pid, status, usage = os.wait4(child.pid, 0)
            end_s = time.monotonic()
        child.returncode = os.waitstatus_to_exitcode(status)
        if child.returncode != 0:
            raise RuntimeError(f"mailsim run failed ({child.returncode}):\n{(Path(tmp) / 'stderr').read_text()}")
        marks = json.loads(marks_path.read_text())
        summary = json.loads((folder / "summary.json").read_text())
        delivered_messages = _delivered_messages(folder / "deliveries.csv")
        files = sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())
    phases_s, plots_s = _phases(marks["marks"], start_s, end_s)
    phases_rss = _phases_rss(marks["marks"], marks.get("end_rss_kib", [0, 0]))
    return WholeRun(wall_s=end_s - start_s, cpu_s=usage.ru_utime + usage.ru_stime, phases_s=phases_s, plots_s=plots_s,
                    peak_rss_kib=marks["peak_rss_kib"] or usage.ru_maxrss, ru_maxrss_kib=usage.ru_maxrss,
                    delivered_pairs=summary["counts"]["delivered"], delivered_messages=delivered_messages,
                    files=files, phases_rss_kib=phases_rss)


def _delivered_messages(path: Path) -> int:
    """Mail messages with at least one recipient delivered (as the event-loop ratio counts them)."""
    import csv

    with open(path, newline="") as f:
        return len({row["message_id"] for row in csv.DictReader(f)
                    if row["kind"] == "mail" and row["status"] == "delivered"})


def _phases(marks: list[list[Any]], start_s: float, end_s: float) -> tuple[dict[str, float], dict[str, float]]:
    """Seconds per phase from the marks ``[phase, detail, monotonic time]`` (each starts a phase)."""
    phases = dict.fromkeys(PHASE_LABELS, 0.0)
    plots: dict[str, float] = {}
    points = [("import", "", start_s), *((p, d, t) for p, d, t, *_memory in marks), ("end", "", end_s)]
    for (phase, detail, t0), (_next, _detail, t1) in itertools.pairwise(points):
        phases[phase] = phases.get(phase, 0.0) + (t1 - t0)
        if phase == "plots":
            name = detail.split(" (")[0]
            plots[name] = plots.get(name, 0.0) + (t1 - t0)
    phases.pop("end", None)
    return phases, plots


def _phases_rss(marks: list[list[Any]], end_rss_kib: list[int]) -> dict[str, tuple[int, int]]:
    """Per phase, (VmRSS, VmHWM) in KiB when it ended: at the next phase's first mark, or at exit."""
    ends: dict[str, tuple[int, int]] = {}
    for (phase, *_rest), (_next, _detail, _t, rss, hwm) in itertools.pairwise([["import"], *marks]):
        ends[phase] = (rss, hwm)
    ends[marks[-1][0] if marks else "import"] = (end_rss_kib[0], end_rss_kib[1])
    return ends


# ---- the child: mailsim's CLI with time marks -------------------------------------------------


def _memory_kib() -> tuple[int, int]:
    """This process's resident memory now and its high-water mark (``VmRSS``, ``VmHWM``), 0 where unknown."""
    found = {"VmRSS:": 0, "VmHWM:": 0}
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            key = line.split(":")[0] + ":"
            if key in found:
                found[key] = int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return found["VmRSS:"], found["VmHWM:"]


def _child(marks_path: str, argv: list[str]) -> NoReturn:
    marks: list[tuple[str, str, float, int, int]] = []
    import simulator.cli as cli

    def mark(phase: str, detail: str) -> None:
        marks.append((phase, detail, time.monotonic(), *_memory_kib()))

    mark("load", "")
    plain_run, progress_class = cli.run, cli.RunProgress

    def timed_run(*args: Any, **kwargs: Any) -> Any:
        mark("simulate", "")
        return plain_run(*args, **kwargs)

    class MarkedProgress(progress_class):  # type: ignore[misc, valid-type]
        def step(self, phase: str, detail: str) -> None:
            if not marks or marks[-1][0] != phase or phase == "plots":
                mark(phase, detail)
            super().step(phase, detail)

        def close(self, completed: bool = True) -> None:
            super().close(completed)
            if marks[-1][0] != "teardown":
                mark("teardown", "")

    def write_marks() -> None:
        rss_kib, peak_kib = _memory_kib()
        Path(marks_path).write_text(json.dumps({"marks": marks, "peak_rss_kib": peak_kib,
                                                "end_rss_kib": [rss_kib, peak_kib]}))

    cli.run = timed_run
    cli.RunProgress = MarkedProgress  # type: ignore[misc]
    cli.entrypoint(argv, before_exit=write_marks)


USAGE = """usage: whole_run.py MARKS_FILE run SCENARIO [mailsim run options]

The child that benchmarks/bench.py starts to time a whole `mailsim run` (see this file's text):
it writes its time marks to MARKS_FILE. To measure a run, use `python benchmarks/bench.py`."""


if __name__ == "__main__":
    if len(sys.argv) < 3 or sys.argv[1].startswith("-"):
        print(USAGE, file=sys.stderr)
        sys.exit(2)
    _child(sys.argv[1], sys.argv[2:])
