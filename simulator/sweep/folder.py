"""The sweep's result folder, written run by run so that an interrupted sweep resumes.

This module owns the files of a sweep's folder: ``sweep.json`` (the definition, checked on
resume), ``runs.csv`` (appended and flushed run by run; read back on resume, a row cut short
run again), ``scenario.yaml`` (the effective base scenario), the lock against a second sweep
writing at the same time, and at the end ``runs.csv`` rewritten in order, ``sweep.csv`` and
the plots (:class:`SweepFolder`).
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..resultdir import enclosing_result
from ..results import cell
from ..wording import counted
from .aggregation import point_columns
from .errors import SweepDefinitionError
from .figures import plot_sweep
from .metrics import INT_COLUMNS, RUN_COLUMNS, Metrics
from .plan import SweepPlan, param_text

_DEFINITION_FILE = "sweep.json"
_RUNS_FILE = "runs.csv"


def _run_header(plan: SweepPlan) -> list[str]:
    return ["point", "replication", "seed", *plan.keys, *RUN_COLUMNS]


def _run_cells(plan: SweepPlan, point: int, rep: int, metrics: Metrics) -> list[str]:
    params = [param_text(plan.points[point][key]) for key in plan.keys]
    return [str(point), str(rep), str(plan.seeds[rep]), *params, *(cell(metrics[c]) for c in RUN_COLUMNS)]


def _csv_line(cells: Sequence[str]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(cells)
    return buffer.getvalue()


def _write_atomic(path: Path, text: str) -> None:
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)


class SweepFolder:
    """The sweep's result folder: definition check, finished runs, row-by-row appends."""

    def __init__(self, folder: Path, plan: SweepPlan) -> None:
        self.folder = folder
        self.plan = plan
        self.header = _run_header(plan)
        self._runs_file: io.TextIOWrapper | None = None
        self._lock_file: io.TextIOWrapper | None = None

    def open(self) -> dict[tuple[int, int], Metrics]:
        """Check or write ``sweep.json``; return the runs ``runs.csv`` already holds."""
        self._check_place()
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise SweepDefinitionError(f"cannot write {self.folder}: {error.strerror or error}") from None
        self._lock()
        definition = self.plan.definition()
        stored_path = self.folder / _DEFINITION_FILE
        runs_path = self.folder / _RUNS_FILE
        finished: dict[tuple[int, int], Metrics] = {}
        if stored_path.exists():
            self._check_definition(stored_path, definition)
            if runs_path.exists():
                finished = self._read_runs(runs_path)
        _write_atomic(stored_path, json.dumps(definition, indent=2) + "\n")
        self._write_scenario()
        if not runs_path.exists():
            runs_path.write_text(_csv_line(self.header), encoding="utf-8")
        self._runs_file = open(runs_path, "a", encoding="utf-8", newline="")  # noqa: SIM115 (closed in close())
        return finished

    def _check_place(self) -> None:
        """Refuse a file, a run's result folder (or a folder inside one), and a folder with files
        that is not a sweep folder: a sweep's files would be mixed into them."""
        folder = self.folder
        if folder.exists() and not folder.is_dir():
            raise SweepDefinitionError(f"{folder} is a file, not a folder: give the sweep's result folder a new name")
        outer = enclosing_result(folder)
        if outer is not None:
            where = "is the result folder" if outer == folder.absolute() else f"is inside the result folder {outer}"
            raise SweepDefinitionError(f"{folder} {where} of a run, which would no longer hold one run: "
                                       "choose another output folder")
        others = folder.is_dir() and any(not p.name.startswith(".") for p in folder.iterdir())
        if others and not (folder / _DEFINITION_FILE).exists():
            raise SweepDefinitionError(
                f"{folder} holds files but is not a sweep folder (it has no {_DEFINITION_FILE}); it is left as "
                "it is: choose another output folder, or empty this one")

    def _write_scenario(self) -> None:
        swept = ", ".join(self.plan.keys) or "nothing"
        header = f"# Base scenario of a sweep; the points override: {swept} (see sweep.csv).\n"
        _write_atomic(self.folder / "scenario.yaml", header + self.plan.scenario.to_effective_yaml())

    def _check_definition(self, path: Path, definition: dict[str, Any]) -> None:
        try:
            stored = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise SweepDefinitionError(f"cannot read {path}: {error}") from None
        differences = [
            what
            for key, what in (
                ("grid", "the swept keys or values"),
                ("base_seed", "the base seed"),
                ("scenario_sha256", "the effective scenario"),
                ("format", "the folder format"),
            )
            if stored.get(key) != definition[key]
        ]
        if differences:
            raise SweepDefinitionError(
                f"{self.folder} holds a different sweep ({', '.join(differences)} "
                f"{'differ' if len(differences) > 1 else 'differs'}); "
                "resume only with the same definition, or choose another output folder"
            )
        if stored.get("replications", 0) > definition["replications"]:
            raise SweepDefinitionError(
                f"{self.folder} holds a sweep of {counted(stored['replications'], 'replication')}; "
                f"resume it with at least as many (got {definition['replications']})"
            )

    def _read_runs(self, path: Path) -> dict[tuple[int, int], Metrics]:
        text = path.read_text(encoding="utf-8")
        if text and not text.endswith("\n"):  # a row cut short by an interruption: run it again
            text = text[: text.rfind("\n") + 1]
            path.write_text(text, encoding="utf-8")
        rows = list(csv.reader(io.StringIO(text)))
        if not rows or rows[0] != self.header:
            raise SweepDefinitionError(f"{path} does not have the columns of this sweep; choose another output folder")
        finished: dict[tuple[int, int], Metrics] = {}
        width = len(self.header)
        for number, row in enumerate(rows[1:], start=2):
            try:
                if len(row) != width:
                    raise ValueError(f"{len(row)} cells instead of {width}")
                point, rep = int(row[0]), int(row[1])
                if not 0 <= point < len(self.plan.points) or int(row[2]) != self.plan.seeds[rep]:
                    raise ValueError("point or seed not of this sweep")
                cells = row[-len(RUN_COLUMNS) :]
                metrics = {c: _parsecell(c, cell) for c, cell in zip(RUN_COLUMNS, cells, strict=True)}
            except (ValueError, IndexError) as error:
                raise SweepDefinitionError(f"{path}, line {number}: unreadable run ({error})") from None
            finished[(point, rep)] = metrics
        return finished

    def append(self, point: int, rep: int, metrics: Metrics) -> None:
        assert self._runs_file is not None
        self._runs_file.write(_csv_line(_run_cells(self.plan, point, rep, metrics)))
        self._runs_file.flush()

    def _lock(self) -> None:
        """Refuse a second sweep writing into the same folder at the same time (POSIX only:
        an advisory lock the system releases when this process ends, however it ends)."""
        try:
            import fcntl
        except ImportError:  # Windows: no lock
            return
        lock = open(self.folder / ".sweep.lock", "w")  # noqa: SIM115 (held until close())
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            lock.close()
            raise SweepDefinitionError(f"another sweep is writing into {self.folder}; wait for it or stop it") from None
        self._lock_file = lock

    def close(self) -> None:
        """Close ``runs.csv``; the folder stays locked until :meth:`unlock`."""
        if self._runs_file is not None:
            self._runs_file.close()
            self._runs_file = None

    def unlock(self) -> None:
        self.close()
        if self._lock_file is not None:
            self._lock_file.close()  # releases the lock
            self._lock_file = None

    def finish(self, runs: dict[tuple[int, int], Metrics], points: list[dict[str, Any]], plots: bool) -> None:
        """Rewrite ``runs.csv`` in (point, replication) order; write ``sweep.csv``, plots, scenario."""
        lines = [_csv_line(self.header)]
        lines += [_csv_line(_run_cells(self.plan, p, r, runs[(p, r)])) for p, r in sorted(runs)]
        _write_atomic(self.folder / _RUNS_FILE, "".join(lines))
        columns = point_columns(self.plan)
        text = _csv_line(columns) + "".join(
            _csv_line([param_text(row[c]) if c in self.plan.keys else cell(row[c]) for c in columns])
            for row in points
        )
        _write_atomic(self.folder / "sweep.csv", text)
        if plots:
            plot_sweep(self.plan, points, self.folder / "plots")


def _parsecell(column: str, cell: str) -> int | float | None:
    if cell == "":
        return None
    return int(cell) if column in INT_COLUMNS else float(cell)

