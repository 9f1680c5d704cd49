"""Parameter sweeps with replications: the grid, the seeds, the executors, the statistics.

This module owns experiments made of many runs of one scenario:

- the grid: every combination of the values given for some dotted scenario keys
  (``network.links.1.bandwidth``), each combination a *point*, each validated through
  :meth:`Scenario.override` before anything runs;
- the seeds: replication ``r`` of every point runs with the same seed (common random
  numbers), and the seeds of different replications come from spawning the base
  seed's ``SeedSequence`` (see :func:`replication_seeds`), never from ``seed + r``;
- the executors: this process (:class:`Serial`), a local process pool
  (:class:`Processes`, the default, over all cores) or a Dask cluster (:class:`Dask`,
  optional: ``pip install 'mailsim[dask]'``); a run is a pure function of the point's
  effective YAML and its seed, so every executor gives identical results;
- the result folder: ``sweep.json`` (the definition, to resume safely), ``runs.csv``
  (appended and flushed run by run, so an interrupted sweep resumes where it stopped),
  ``sweep.csv`` (per point: mean and 95% confidence interval of each metric), plots of
  each metric against each swept key, and ``scenario.yaml`` (the effective base scenario);
- :func:`sweep`, the same from Python, returning pandas DataFrames.

pandas is imported only inside :func:`sweep`, which returns DataFrames, so the core
(planning, running, statistics, CSV files, plots) works without it.  Nothing here prints.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import csv
import hashlib
import io
import itertools
import json
import math
import multiprocessing
import os
import signal
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias

import numpy as np

from . import __version__
from .results import cell
from .runner import run
from .scenario import Problem, Scenario, ScenarioError, load_scenario
from .wording import counted

if TYPE_CHECKING:
    from .plots import Figure

__all__ = [
    "METRICS",
    "METRIC_RANGES",
    "RUN_COLUMNS",
    "Dask",
    "Processes",
    "Serial",
    "SweepDefinitionError",
    "SweepError",
    "SweepOutcome",
    "SweepPlan",
    "SweepResult",
    "ci_bounds",
    "mean_ci95",
    "plan_sweep",
    "replication_seeds",
    "run_metrics",
    "run_one",
    "run_sweep",
    "sweep",
    "sweep_figures",
    "t_quantile_975",
]

# --------------------------------------------------------------------------- metrics

RUN_COLUMNS: tuple[str, ...] = (
    "submitted", "delivered", "bounced", "pending", "duplicates", "bounce_rate", "peak_queue",
    "delivery_latency_mean_s", "delivery_latency_p50_s", "delivery_latency_p99_s",
    "retrieval_latency_mean_s", "retrieval_latency_p50_s", "retrieval_latency_p99_s",
    "end_time_s", "events",
)
"""What ``runs.csv`` records of each run, after its point, replication, seed and parameters."""

METRICS: tuple[str, ...] = (
    "delivery_latency_mean_s", "delivery_latency_p50_s", "delivery_latency_p99_s",
    "retrieval_latency_mean_s", "retrieval_latency_p50_s", "retrieval_latency_p99_s",
    "bounce_rate", "peak_queue", "duplicates",
)
"""The metrics ``sweep.csv`` gives a mean and a 95% confidence interval for, per point."""

METRIC_RANGES: dict[str, tuple[float, float | None]] = {
    **dict.fromkeys(METRICS, (0.0, None)), "bounce_rate": (0.0, 1.0),
}
"""The values each metric can take, (lowest, highest or None): latencies, counts and the queue
peak are never negative, and the bounce rate is a share. Confidence intervals are clipped to them."""

_INT_COLUMNS = frozenset({"submitted", "delivered", "bounced", "pending", "duplicates", "peak_queue", "events"})

Metrics: TypeAlias = dict[str, int | float | None]


def run_metrics(summary: Mapping[str, Any]) -> Metrics:
    """The ``RUN_COLUMNS`` of one run, from its ``summary.json`` data.

    Latencies are over delivered (retrieved) mail of kind ``mail`` and None when there is
    none; ``bounce_rate`` is bounced / submitted (None when nothing was submitted);
    ``peak_queue`` is the largest outgoing queue any server reached.
    """
    counts = summary["counts"]
    delivery = summary["latency_s"]
    retrieval = summary["retrieval_latency_s"]
    submitted = counts["submitted"]
    return {
        "submitted": submitted,
        "delivered": counts["delivered"],
        "bounced": counts["bounced"],
        "pending": counts["pending"],
        "duplicates": counts["duplicates"],
        "bounce_rate": counts["bounced"] / submitted if submitted else None,
        "peak_queue": max(summary["peak_queue"].values(), default=0),
        "delivery_latency_mean_s": delivery["mean"],
        "delivery_latency_p50_s": delivery["p50"],
        "delivery_latency_p99_s": delivery["p99"],
        "retrieval_latency_mean_s": retrieval["mean"],
        "retrieval_latency_p50_s": retrieval["p50"],
        "retrieval_latency_p99_s": retrieval["p99"],
        "end_time_s": summary["end_time_s"],
        "events": summary["events"],
    }


def run_one(scenario_yaml: str, seed: int, keep_folder: str | None = None, max_messages: int | None = None) -> Metrics:
    """One run of a sweep, as a worker process executes it: returns only its metrics.

    ``scenario_yaml`` is the point's effective scenario (picklable text); ``keep_folder``,
    if given, receives the run's whole result folder (without plots).
    """
    result = run(load_scenario(scenario_yaml, max_messages=max_messages), seed=seed)
    if keep_folder is not None:
        result.save(keep_folder, with_plots=False)
    return run_metrics(result.summary)


# --------------------------------------------------------------------------- statistics

_T_975: tuple[float, ...] = (
    12.7062, 4.3027, 3.1824, 2.7764, 2.5706, 2.4469, 2.3646, 2.3060, 2.2622, 2.2281,
    2.2010, 2.1788, 2.1604, 2.1448, 2.1314, 2.1199, 2.1098, 2.1009, 2.0930, 2.0860,
    2.0796, 2.0739, 2.0687, 2.0639, 2.0595, 2.0555, 2.0518, 2.0484, 2.0452, 2.0423,
)
"""Student's t 0.975 quantiles for 1..30 degrees of freedom (to 4 decimals)."""

_Z_975 = 1.959963984540054


def t_quantile_975(df: int) -> float:
    """Student's t 0.975 quantile (two-sided 95%) for ``df`` degrees of freedom.

    A table for 1..30; beyond, the Cornish-Fisher expansion of t around the normal
    quantile to the 1/df**3 term, within 2e-6 of the exact value for df > 30.
    """
    if df < 1:
        raise ValueError(f"degrees of freedom must be at least 1, got {df}")
    if df <= len(_T_975):
        return _T_975[df - 1]
    z = _Z_975
    return (
        z
        + (z**3 + z) / (4 * df)
        + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * df**2)
        + (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / (384 * df**3)
    )


def mean_ci95(values: Sequence[float]) -> tuple[float | None, float | None]:
    """Mean and half-width of its Student-t 95% confidence interval.

    (None, None) without values; the half-width is None with a single value. Values that are
    all equal (a quantity the seed does not change) give that value and a half-width of exactly
    0, not the rounding error of the sum and the squares.
    """
    n = len(values)
    if n == 0:
        return None, None
    if min(values) == max(values):
        return values[0], (None if n == 1 else 0.0)
    mean = math.fsum(values) / n
    if n == 1:
        return mean, None
    variance = math.fsum((v - mean) ** 2 for v in values) / (n - 1)
    return mean, t_quantile_975(n - 1) * math.sqrt(variance / n)


def ci_bounds(metric: str, mean: float | None, half: float | None) -> tuple[float | None, float | None]:
    """The interval ``mean ± half`` clipped to the values ``metric`` can take (:data:`METRIC_RANGES`),
    so that a latency's or a count's interval never reaches below 0; (None, None) without a half-width."""
    if mean is None or half is None:
        return None, None
    lowest, highest = METRIC_RANGES.get(metric, (-math.inf, None))
    low = max(lowest, mean - half)
    high = mean + half if highest is None else min(highest, mean + half)
    return low, high


# --------------------------------------------------------------------------- seeds


def replication_seeds(base_seed: int, replications: int) -> tuple[int, ...]:
    """The run seed of each replication: ``SeedSequence(base_seed).spawn(R)[r]`` as an int.

    Each child's first 64-bit word of state, ``generate_state(1, uint64)[0]``, is the
    seed: an int, so ``mailsim run SCENARIO --seed <it>`` reproduces the run exactly.
    Child ``r`` has spawn key ``(r,)`` whatever ``R`` is, so adding replications to a
    sweep keeps the seeds of those already run.
    """
    if replications < 1:
        raise ValueError(f"replications must be at least 1, got {replications}")
    children = np.random.SeedSequence(base_seed).spawn(replications)
    return tuple(int(child.generate_state(1, np.uint64)[0]) for child in children)


# --------------------------------------------------------------------------- the plan

Grid: TypeAlias = Mapping[str, Sequence[object]]


class SweepDefinitionError(ValueError):
    """A sweep that cannot be planned or resumed (bad grid, mismatching result folder)."""


@dataclass(frozen=True)
class SweepPlan:
    """A validated sweep: the points, their effective scenarios, the seeds."""

    scenario: Scenario
    keys: tuple[str, ...]
    values: tuple[tuple[object, ...], ...]
    points: tuple[dict[str, object], ...]
    point_yaml: tuple[str, ...]
    point_numbers: tuple[tuple[float | None, ...], ...]
    replications: int
    base_seed: int
    seeds: tuple[int, ...]

    @property
    def runs(self) -> int:
        return len(self.points) * self.replications

    def definition(self) -> dict[str, Any]:
        """What ``sweep.json`` stores: enough to tell whether a folder holds this sweep."""
        return {
            "format": 1,
            "mailsim": __version__,
            "grid": {key: list(values) for key, values in zip(self.keys, self.values, strict=True)},
            "replications": self.replications,
            "base_seed": self.base_seed,
            "seeds": "SeedSequence(base_seed).spawn(replications)[r].generate_state(1, uint64)[0]",
            "scenario_sha256": hashlib.sha256(self.scenario.to_effective_yaml().encode("utf-8")).hexdigest(),
        }

    def label(self, point: int) -> str:
        """``key=value, key=value`` of a point, for messages."""
        return ", ".join(f"{k}={param_text(v)}" for k, v in self.points[point].items()) or "(the scenario)"


def param_text(value: object) -> str:
    """A swept value as CSV text: YAML-style scalars, JSON for lists and mappings."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, list | dict):
        return json.dumps(value, separators=(", ", ": "))
    return str(value)


def _plain(value: object, key: str) -> object:
    """``value`` as plain JSON-able data (numpy scalars and tuples converted)."""
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or isinstance(value, str | bool | int | float):
        if isinstance(value, float) and not math.isfinite(value):
            raise SweepDefinitionError(f"{key}: sweep values must be finite, got {value!r}")
        return value
    if isinstance(value, list | tuple):
        return [_plain(item, key) for item in value]
    if isinstance(value, Mapping):
        return {str(k): _plain(v, key) for k, v in value.items()}
    raise SweepDefinitionError(
        f"{key}: sweep values are plain YAML data (numbers, strings, booleans, lists, mappings), "
        f"not {type(value).__name__}"
    )


def _check_grid(grid: Grid) -> tuple[tuple[str, ...], tuple[tuple[object, ...], ...]]:
    keys: list[str] = []
    values: list[tuple[object, ...]] = []
    for key, given in grid.items():
        if not isinstance(key, str) or not key:
            raise SweepDefinitionError(f"sweep keys are dotted scenario keys, got {key!r}")
        if key == "seed":
            raise SweepDefinitionError("'seed' cannot be swept: replications set each run's seed (give a base seed)")
        if isinstance(given, str | bytes) or not isinstance(given, Sequence):
            raise SweepDefinitionError(f"{key}: give a list of values, got {given!r}")
        if not given:
            raise SweepDefinitionError(f"{key}: give at least one value")
        plain = tuple(_plain(v, key) for v in given)
        duplicates = sorted({param_text(v) for v in plain if sum(param_text(w) == param_text(v) for w in plain) > 1})
        if duplicates:
            raise SweepDefinitionError(f"{key}: value(s) given more than once: {', '.join(duplicates)}")
        keys.append(key)
        values.append(plain)
    return tuple(keys), tuple(values)


def plan_sweep(
    scenario: Scenario | str | os.PathLike[str], grid: Grid, replications: int = 1, seed: int | None = None
) -> SweepPlan:
    """Expand and validate a sweep before anything runs.

    ``grid`` maps dotted scenario keys to their values; the points are every combination,
    the first key varying slowest.  Every value is first applied alone, then every
    combination, through :meth:`Scenario.override` (validated like the file).  Raises
    :class:`ScenarioError` naming the key and value of each problem, or
    :class:`SweepDefinitionError` for a malformed grid.  ``seed`` is the base seed
    (default: the scenario's).
    """
    base = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
    if isinstance(replications, bool) or not isinstance(replications, int) or replications < 1:
        raise SweepDefinitionError(f"replications must be a whole number >= 1, got {replications!r}")
    base_seed = base.seed if seed is None else seed
    if isinstance(base_seed, bool) or not isinstance(base_seed, int) or base_seed < 0:
        raise SweepDefinitionError(f"the base seed must be a whole number >= 0, got {base_seed!r}")
    keys, values = _check_grid(grid)
    built: dict[str, Scenario] = {}
    _check_each_value(base, keys, values, built)
    points: list[dict[str, object]] = []
    scenarios: list[Scenario] = []
    problems: list[Problem] = []
    for combination in itertools.product(*values):
        overrides = dict(zip(keys, combination, strict=True))
        try:
            scenarios.append(_override(base, overrides, built))
        except ScenarioError as error:
            label = ", ".join(f"{k}={param_text(v)}" for k, v in overrides.items())
            problems += [Problem(p.path, f"{p.message} [with {label}]", p.line) for p in error.problems]
        points.append(overrides)
    if problems:
        raise ScenarioError(problems)
    return SweepPlan(
        scenario=base,
        keys=keys,
        values=values,
        points=tuple(points),
        point_yaml=tuple(s.to_effective_yaml() for s in scenarios),
        point_numbers=tuple(tuple(_effective_number(s, key) for key in keys) for s in scenarios),
        replications=replications,
        base_seed=base_seed,
        seeds=replication_seeds(base_seed, replications),
    )


def _override(base: Scenario, overrides: dict[str, object], built: dict[str, Scenario]) -> Scenario:
    cache_key = json.dumps(overrides, sort_keys=True)
    scenario = built.get(cache_key)
    if scenario is None:
        scenario = built[cache_key] = base.override(overrides)
    return scenario


def _check_each_value(
    base: Scenario, keys: tuple[str, ...], values: tuple[tuple[object, ...], ...], built: dict[str, Scenario]
) -> None:
    """Apply every value alone first, so that a bad key or value is named precisely."""
    problems: list[Problem] = []
    for key, options in zip(keys, values, strict=True):
        for value in options:
            try:
                _override(base, {key: value}, built)
            except ScenarioError as error:
                label = f"{key}={param_text(value)}"
                problems += [Problem(p.path, f"{p.message} [with {label}]", p.line) for p in error.problems]
    if problems:
        raise ScenarioError(problems)


def _effective_number(scenario: Scenario, key: str) -> float | None:
    """The swept key's value in SI units as the effective scenario holds it, if it is a number."""
    node: Any = scenario.to_effective_dict()
    rest = key
    while rest:
        if isinstance(node, dict):
            match = max((k for k in node if rest == str(k) or rest.startswith(f"{k}.")), key=len, default=None)
            if match is None:
                return None
            node, rest = node[match], rest[len(str(match)) + 1 :]
        elif isinstance(node, list):
            head, _, rest = rest.partition(".")
            if not head.isdigit() or int(head) >= len(node):
                return None
            node = node[int(head)]
        else:
            return None
    if isinstance(node, bool) or not isinstance(node, int | float):
        return None
    return float(node)


# --------------------------------------------------------------------------- executors


@dataclass(frozen=True)
class Serial:
    """Run every run in this process, one after the other."""


@dataclass(frozen=True)
class Processes:
    """A local pool of worker processes (``jobs``: default every core this process may use)."""

    jobs: int | None = None


@dataclass(frozen=True)
class Dask:
    """A Dask cluster: ``"local"`` starts a LocalCluster (``workers`` processes, default one
    per core); any other address (``tcp://scheduler:8786``) connects to a running scheduler,
    whose workers must have mailsim installed."""

    address: str = "local"
    workers: int | None = None


Progress: TypeAlias = Callable[[int, int], None]
"""Called with (runs done, runs in total) at the start and after every finished run."""


def available_cores() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _resolve(executor: object) -> object:
    if executor is None:
        return Processes()
    if isinstance(executor, bool):
        raise TypeError("executor must be Serial(), Processes(n), Dask(address), an Executor or a number of jobs")
    if isinstance(executor, int):
        if executor < 1:
            raise ValueError(f"the number of jobs must be at least 1, got {executor}")
        return Serial() if executor == 1 else Processes(executor)
    if isinstance(executor, Processes) and executor.jobs == 1:
        return Serial()
    if isinstance(executor, Serial | Processes | Dask | cf.Executor) or _is_dask_client(executor):
        return executor
    raise TypeError(
        f"executor must be Serial(), Processes(n), Dask(address), an Executor or a number of jobs, "
        f"not {type(executor).__name__}"
    )


def _is_dask_client(obj: object) -> bool:
    return type(obj).__module__.startswith("distributed") and hasattr(obj, "get_executor")


def _ignore_sigint() -> None:
    """Worker initializer: Ctrl-C is the parent's to handle (it cancels and records)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _process_context() -> multiprocessing.context.BaseContext:
    """forkserver on Linux (workers fork from a clean, single-threaded server that has already
    imported the simulator: fast to start, no fork-with-threads hazards, no re-import of the
    caller's ``__main__``); spawn elsewhere (macOS and Windows, where fork is unsafe or absent)."""
    if sys.platform.startswith("linux"):
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(["simulator.sweep", "simulator.runner"])
        return context
    return multiprocessing.get_context("spawn")


@contextlib.contextmanager
def _open_executor(executor: object, tasks: int) -> Iterator[cf.Executor | None]:
    """The executor to submit runs to (None: run them here), shut down afterwards if ours."""
    if tasks == 0 or isinstance(executor, Serial):
        yield None
    elif isinstance(executor, Processes):
        jobs = min(executor.jobs or available_cores(), tasks)
        if jobs <= 1:
            yield None
            return
        pool = cf.ProcessPoolExecutor(jobs, mp_context=_process_context(), initializer=_ignore_sigint)
        try:
            yield pool
        except BaseException:
            _stop_workers(pool)
            raise
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
    elif isinstance(executor, Dask):
        with _dask_client(executor) as client:
            yield client.get_executor(pure=False)
    elif _is_dask_client(executor):
        yield executor.get_executor(pure=False)  # type: ignore[attr-defined]
    else:
        yield executor  # type: ignore[misc]  # the caller's own Executor: the caller shuts it down


def _stop_workers(pool: cf.ProcessPoolExecutor) -> None:
    """Stop a pool's workers now (on Ctrl-C) instead of letting them finish their runs."""
    terminate = getattr(pool, "terminate_workers", None)  # Python 3.14+
    if terminate is not None:
        terminate()
        return
    for process in list(getattr(pool, "_processes", {}).values()):
        with contextlib.suppress(Exception):
            process.terminate()


@contextlib.contextmanager
def _dask_client(spec: Dask) -> Iterator[Any]:
    try:
        import distributed
    except ImportError:
        raise SweepDefinitionError(
            "Dask is not installed: pip install 'mailsim[dask]' (or dask[distributed])"
        ) from None
    import logging

    if spec.address == "local":
        cluster = distributed.LocalCluster(
            n_workers=spec.workers or available_cores(), threads_per_worker=1, processes=True,
            dashboard_address=None, silence_logs=logging.ERROR,
        )
        try:
            with distributed.Client(cluster) as client:
                yield client
        finally:
            cluster.close()
    else:
        try:
            client = distributed.Client(spec.address, timeout="20s")
        except (OSError, TimeoutError) as error:
            raise SweepDefinitionError(f"cannot reach the Dask scheduler at {spec.address}: {error}") from None
        with client:
            yield client


class SweepError(RuntimeError):
    """A run of the sweep failed; the runs already finished stay recorded."""


def _execute(
    pool: cf.Executor | None, plan: SweepPlan, todo: Sequence[tuple[int, int]], keep: Path | None
) -> Iterator[tuple[tuple[int, int], Metrics]]:
    """Run ``todo`` (point, replication) pairs; yield each as it finishes."""

    def arguments(task: tuple[int, int]) -> tuple[str, int, str | None, int]:
        point, rep = task
        folder = None if keep is None else str(keep / run_folder_name(point, rep))
        return plan.point_yaml[point], plan.seeds[rep], folder, plan.scenario.max_messages

    def failed(task: tuple[int, int], error: BaseException) -> SweepError:
        point, rep = task
        return SweepError(
            f"run of point {point} ({plan.label(point)}), replication {rep} (seed {plan.seeds[rep]}) failed: "
            f"{type(error).__name__}: {error}"
        )

    if pool is None:
        for task in todo:
            try:
                metrics = run_one(*arguments(task))
            except Exception as error:
                raise failed(task, error) from error
            yield task, metrics
        return
    futures = {pool.submit(run_one, *arguments(task)): task for task in todo}
    try:
        for future in cf.as_completed(futures):
            task = futures[future]
            try:
                metrics = future.result()
            except Exception as error:
                raise failed(task, error) from error
            yield task, metrics
    finally:
        for future in futures:
            future.cancel()


def run_folder_name(point: int, replication: int) -> str:
    """The folder name of one kept run (``--keep-runs``) under ``runs/``."""
    return f"point{point:04d}-rep{replication:03d}"


# --------------------------------------------------------------------------- the result folder

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


class _Folder:
    """The sweep's result folder: definition check, finished runs, row-by-row appends."""

    def __init__(self, folder: Path, plan: SweepPlan) -> None:
        self.folder = folder
        self.plan = plan
        self.header = _run_header(plan)
        self._runs_file: io.TextIOWrapper | None = None
        self._lock_file: io.TextIOWrapper | None = None

    def open(self) -> dict[tuple[int, int], Metrics]:
        """Check or write ``sweep.json``; return the runs ``runs.csv`` already holds."""
        self.folder.mkdir(parents=True, exist_ok=True)
        self._lock()
        definition = self.plan.definition()
        stored_path = self.folder / _DEFINITION_FILE
        runs_path = self.folder / _RUNS_FILE
        finished: dict[tuple[int, int], Metrics] = {}
        if stored_path.exists():
            self._check_definition(stored_path, definition)
            if runs_path.exists():
                finished = self._read_runs(runs_path)
        elif runs_path.exists():
            raise SweepDefinitionError(
                f"{runs_path} exists but {stored_path.name} does not: not a sweep folder this version can resume; "
                "choose another output folder"
            )
        _write_atomic(stored_path, json.dumps(definition, indent=2) + "\n")
        self._write_scenario()
        if not runs_path.exists():
            runs_path.write_text(_csv_line(self.header), encoding="utf-8")
        self._runs_file = open(runs_path, "a", encoding="utf-8", newline="")  # noqa: SIM115 (closed in close())
        return finished

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
                f"{self.folder} holds a different sweep ({', '.join(differences)} differ); "
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
    return int(cell) if column in _INT_COLUMNS else float(cell)


# --------------------------------------------------------------------------- aggregation


def point_columns(plan: SweepPlan) -> list[str]:
    """The columns of ``sweep.csv``: point, parameters, runs, then per metric mean, ci95 (half-width),
    ci95_low and ci95_high (the interval, clipped to the metric's range), n."""
    stats = [name for metric in METRICS
             for name in (metric, f"{metric}_ci95", f"{metric}_ci95_low", f"{metric}_ci95_high", f"{metric}_n")]
    return ["point", *plan.keys, "runs", *stats]


def aggregate(plan: SweepPlan, runs: Mapping[tuple[int, int], Metrics]) -> list[dict[str, Any]]:
    """Per point: each metric's mean over the replications that have it, the half-width of
    its Student-t 95% confidence interval, that interval clipped to the metric's range (see
    :func:`ci_bounds`), and how many replications had it."""
    rows: list[dict[str, Any]] = []
    for point, overrides in enumerate(plan.points):
        done = [runs[(point, r)] for r in range(plan.replications) if (point, r) in runs]
        row: dict[str, Any] = {"point": point, **overrides, "runs": len(done)}
        for metric in METRICS:
            values = [float(m[metric]) for m in done if m[metric] is not None]  # type: ignore[arg-type]
            mean, half = mean_ci95(values)
            row[metric], row[f"{metric}_ci95"], row[f"{metric}_n"] = mean, half, len(values)
            row[f"{metric}_ci95_low"], row[f"{metric}_ci95_high"] = ci_bounds(metric, mean, half)
        rows.append(row)
    return rows


def run_rows(plan: SweepPlan, runs: Mapping[tuple[int, int], Metrics]) -> list[dict[str, Any]]:
    """One dict per run in (point, replication) order: the columns of ``runs.csv``."""
    return [
        {"point": p, "replication": r, "seed": plan.seeds[r], **plan.points[p], **runs[(p, r)]}
        for p, r in sorted(runs)
    ]


# --------------------------------------------------------------------------- plots

_METRIC_LABELS = {
    "delivery_latency_mean_s": "delivery latency, mean (s)",
    "delivery_latency_p50_s": "delivery latency, p50 (s)",
    "delivery_latency_p99_s": "delivery latency, p99 (s)",
    "retrieval_latency_mean_s": "retrieval latency, mean (s)",
    "retrieval_latency_p50_s": "retrieval latency, p50 (s)",
    "retrieval_latency_p99_s": "retrieval latency, p99 (s)",
    "bounce_rate": "bounce rate (bounced / submitted)",
    "peak_queue": "peak queue (messages)",
    "duplicates": "duplicate deliveries",
}


def plot_sweep(plan: SweepPlan, points: Sequence[dict[str, Any]], folder: Path) -> list[Path]:
    """Write :func:`sweep_figures` as ``folder/KEY.png``; returns the paths."""
    from .plots import save

    folder.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for key, fig in sweep_figures(plan, points).items():
        path = folder / f"{_safe_name(key)}.png"
        save(fig, path)
        written.append(path)
    return written


def sweep_figures(plan: SweepPlan, points: Sequence[dict[str, Any]]) -> dict[str, Figure]:
    """One figure per swept key: every metric against that key, mean with 95% CI bars, one line
    per combination of the other keys.  The bars are the intervals of ``sweep.csv``, clipped to
    the metric's range (never below 0).  Keys whose values are numbers (also unit strings,
    placed at their SI value and labelled as given) get a numeric axis, logarithmic when the
    values span 20 times or more; other values are placed in the order given.  Each error bar
    carries the gid ``ci:<metric>:<point>``."""
    from .plots import new_figure

    figures: dict[str, Figure] = {}
    for index, key in enumerate(plan.keys):
        fig = new_figure(13, 10)
        axes = fig.subplots(3, 3)
        groups: dict[tuple[str, ...], list[int]] = {}
        for p, overrides in enumerate(plan.points):
            others = tuple(f"{k}={param_text(v)}" for k, v in overrides.items() if k != key)
            groups.setdefault(others, []).append(p)
        positions, labels, log = _axis(plan, index)
        for ax, metric in zip(axes.flat, METRICS, strict=True):
            drawn = False
            for others, members in groups.items():
                shown = [p for p in members if points[p][metric] is not None]
                if not shown:
                    continue
                rows = [points[p] for p in shown]
                xs = [positions[param_text(row[key])] for row in rows]
                below = [row[metric] - row[f"{metric}_ci95_low"] if row[f"{metric}_ci95"] else 0.0 for row in rows]
                above = [row[f"{metric}_ci95_high"] - row[metric] if row[f"{metric}_ci95"] else 0.0 for row in rows]
                bars = ax.errorbar(xs, [row[metric] for row in rows], yerr=[below, above], marker="o", capsize=3,
                                   label=", ".join(others) if others else None)
                bars.lines[0].set_gid(f"mean:{metric}:{','.join(map(str, shown))}")
                bars.lines[0].set_clip_on(False)  # a mean of 0 on the axis' floor is drawn whole
                for collection in bars.lines[2]:
                    collection.set_gid(f"ci:{metric}:{','.join(map(str, shown))}")
                drawn = True
            if log:
                ax.set_xscale("log")
            if labels:
                ax.set_xticks(list(positions.values()), labels, rotation=30, fontsize=8)
                ax.minorticks_off()
            if not drawn:
                ax.text(0.5, 0.5, "no data", ha="center", va="center", transform=ax.transAxes)
            elif ax.get_ylim()[0] < METRIC_RANGES[metric][0]:  # no axis below what the metric can be
                ax.set_ylim(bottom=METRIC_RANGES[metric][0])
            ax.set_title(_METRIC_LABELS[metric], fontsize=10)
            ax.set_xlabel(key)
            ax.grid(True, alpha=0.3)
        handles, legend = axes.flat[0].get_legend_handles_labels()
        if legend and len(legend) <= 12:
            fig.legend(handles, legend, loc="lower center", ncol=min(3, len(legend)), fontsize=8)
        fig.suptitle(f"{plan.scenario.name}: metrics against {key} "
                     f"(mean of {counted(plan.replications, 'replication')}, 95% CI bars, clipped at 0)")
        fig.tight_layout(rect=(0, 0.05 if legend else 0, 1, 0.97))
        figures[key] = fig
    return figures


def _axis(plan: SweepPlan, index: int) -> tuple[dict[str, float], list[str] | None, bool]:
    """x position of each value of key ``index`` (by its text), tick labels if not plain numbers, log scale?"""
    given = plan.values[index]
    numbers: dict[str, float | None] = {}
    for p, overrides in enumerate(plan.points):
        numbers[param_text(overrides[plan.keys[index]])] = plan.point_numbers[p][index]
    texts = [param_text(v) for v in given]
    if any(numbers[t] is None for t in texts):
        return {t: float(i) for i, t in enumerate(texts)}, texts, False
    positions = {t: float(numbers[t]) for t in texts}  # type: ignore[arg-type]
    low, high = min(positions.values()), max(positions.values())
    log = low > 0 and high / low >= 20
    plain = all(isinstance(v, int | float) and not isinstance(v, bool) for v in given)
    return positions, None if plain else texts, log


def _safe_name(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in text) or "key"


# --------------------------------------------------------------------------- entry points


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
    executor = _resolve(executor)
    folder = None if output is None else Path(output)
    if keep_runs and folder is None:
        raise SweepDefinitionError("keep_runs needs an output folder")
    store = None if folder is None else _Folder(folder, plan)
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
        with _open_executor(executor, len(todo)) as pool:
            for (point, rep), metrics in _execute(pool, plan, todo, keep):
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
