"""Running a planned sweep, from the command line's side or from Python.

This module owns :func:`run_sweep` (a :class:`~.plan.SweepPlan` run on an executor, recorded
in and resumed from an output folder, returning a :class:`SweepOutcome` of plain data) and
:func:`sweep` (planning and running in one call, returning pandas DataFrames as a
:class:`SweepResult`). pandas is imported only inside :func:`sweep`.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeAlias

from ..scenario import Scenario
from .aggregation import aggregate, point_columns, run_rows
from .errors import SweepDefinitionError
from .executors import execute_runs, open_executor, resolve_executor
from .folder import SweepFolder
from .metrics import RUN_COLUMNS, Metrics
from .plan import Grid, SweepPlan, plan_sweep

Progress: TypeAlias = Callable[[int, int], None]
"""Called with (runs done, runs in total) at the start and after every finished run."""



@dataclass
class SweepOutcome:
    """A finished sweep as plain data: rows of ``runs.csv`` and of ``sweep.csv``."""

    plan: SweepPlan
    runs: list[dict[str, Any]]
    points: list[dict[str, Any]]
    ran: int
    skipped: int
    elapsed_s: float
    folder: Path | None = None


def run_sweep(
    plan: SweepPlan,
    executor: object = None,
    output: str | os.PathLike[str] | None = None,
    *,
    keep_runs: bool = False,
    plots: bool = True,
    progress: Progress | None = None,
) -> SweepOutcome:
    """Run a planned sweep; with ``output``, record it there and resume what it holds.

    ``executor``: None (a process pool over every core), ``Serial()``, ``Processes(n)``,
    ``Dask("local" | address)``, a number of jobs (1 runs here), a Dask ``Client`` or any
    ``concurrent.futures.Executor`` (left running).  ``keep_runs`` saves each run's result
    folder under ``output/runs/`` (a Dask cluster's workers must see that path).
    Ctrl-C (KeyboardInterrupt) stops the sweep; finished runs stay in ``runs.csv``.
    """
    started = time.monotonic()
    executor = resolve_executor(executor)
    folder = None if output is None else Path(output)
    if keep_runs and folder is None:
        raise SweepDefinitionError("keep_runs needs an output folder")
    store = None if folder is None else SweepFolder(folder, plan)
    try:
        finished = {} if store is None else store.open()
        done: dict[tuple[int, int], Metrics] = dict(finished)
        keep = None
        if keep_runs and folder is not None:
            keep = (folder / "runs").resolve()
            keep.mkdir(parents=True, exist_ok=True)
        todo = [(p, r) for r in range(plan.replications) for p in range(len(plan.points)) if (p, r) not in done]
        if progress is not None:
            progress(len(done), plan.runs)
        with open_executor(executor, len(todo)) as pool:
            for (point, rep), metrics in execute_runs(pool, plan, todo, keep):
                done[(point, rep)] = metrics
                if store is not None:
                    store.append(point, rep, metrics)
                if progress is not None:
                    progress(len(done), plan.runs)
        if store is not None:
            store.close()
        points = aggregate(plan, done)
        if store is not None:
            store.finish(done, points, plots)
    finally:
        if store is not None:
            store.unlock()
    return SweepOutcome(
        plan=plan, runs=run_rows(plan, done), points=points, ran=len(done) - len(finished),
        skipped=len(finished), elapsed_s=time.monotonic() - started, folder=folder,
    )


@dataclass
class SweepResult:
    """A finished sweep as DataFrames: ``runs`` (one row per run, as ``runs.csv``) and
    ``summary`` (one row per point, as ``sweep.csv``)."""

    runs: Any
    summary: Any
    outcome: SweepOutcome


def sweep(
    scenario: Scenario | str | os.PathLike[str],
    grid: Grid,
    replications: int = 1,
    executor: object = None,
    *,
    seed: int | None = None,
    output: str | os.PathLike[str] | None = None,
    keep_runs: bool = False,
    plots: bool = True,
    progress: Progress | None = None,
) -> SweepResult:
    """Run every combination of ``grid`` ``replications`` times; return pandas DataFrames.

    ``sweep("scenarios/quickstart.yaml", {"network.links.1.bandwidth": ["10Mbps", "100Mbps"]}, 5)``.
    See :func:`plan_sweep` for the grid and :func:`run_sweep` for ``executor`` and
    ``output``.  Needs pandas.
    """
    import pandas as pd

    plan = plan_sweep(scenario, grid, replications, seed=seed)
    outcome = run_sweep(plan, executor, output, keep_runs=keep_runs, plots=plots, progress=progress)
    runs = pd.DataFrame(outcome.runs, columns=["point", "replication", "seed", *plan.keys, *RUN_COLUMNS])
    summary = pd.DataFrame(outcome.points, columns=point_columns(plan))
    return SweepResult(runs=runs, summary=summary, outcome=outcome)
