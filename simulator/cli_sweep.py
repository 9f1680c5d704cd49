"""The ``mailsim sweep`` subcommand: parse ``--set`` grids, pick the executor, show progress.

``mailsim sweep SCENARIO --set KEY=V1,V2,... [--set ...] --replications R
[--jobs N | --dask ADDRESS] [-o DIR]`` runs every combination of the values, R
replications each, and writes the result folder described in :mod:`simulator.sweep.folder`.
Values are YAML scalars (``15m``, ``100Mbps``, ``3``, ``true``, ``null``), split on the commas
that are not inside brackets, braces or quotes (so ``{exponential: {mean: 10KB}}`` is one
value).  Everything is validated before the first run; bad input exits with status 2.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.util
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from .cli import CommandError
from .cores import available_cores
from .problems import ScenarioError
from .progress import StatusLine
from .units import format_duration
from .wording import counted

if TYPE_CHECKING:
    from .sweep.api import SweepOutcome

# The scenario model and the sweep machinery are imported by ``handle``, so that registering the
# subcommand (every ``mailsim`` command does) loads neither.

EXIT_OK, EXIT_FAILED, EXIT_INTERRUPTED = 0, 1, 130
_MAX_POINTS_SHOWN = 20


def register(subparsers: Any) -> dict[str, Callable[[argparse.Namespace, TextIO, TextIO], int]]:
    """Add ``sweep`` to the ``mailsim`` subcommands."""
    p = subparsers.add_parser(
        "sweep",
        help="run a scenario over a grid of parameter values, with replications",
        description="Run every combination of the --set values, R replications each (replication r of every "
        "point uses the same seed), and write runs.csv, sweep.csv (mean and 95% CI per point), plots and "
        "the effective scenario. Running the same command again resumes an interrupted sweep.",
    )
    p.add_argument("scenario", help="scenario YAML file")
    p.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=V1,V2,...",
                   help="a dotted scenario key and its values (network.links.1.bandwidth=10Mbps,100Mbps); repeat "
                   "for a grid of every combination")
    p.add_argument("-r", "--replications", type=int, required=True, metavar="R",
                   help="independent replications of every point (at least 2 for confidence intervals)")
    where = p.add_mutually_exclusive_group()
    where.add_argument("-j", "--jobs", type=int, metavar="N",
                       help=f"worker processes on this machine (default: every core, here {available_cores()}); "
                       "1 runs in this process")
    where.add_argument("--dask", metavar="ADDRESS",
                       help="run on Dask: 'local' starts a LocalCluster, tcp://host:8786 uses a running scheduler "
                       "(pip install 'mailsim[dask]')")
    p.add_argument("-o", "--output", help="result folder (default: results/<scenario name>-sweep)")
    p.add_argument("--seed", type=int, help="base seed the replications' seeds derive from (default: the scenario's)")
    p.add_argument("--keep-runs", action="store_true", help="also save every run's result folder under runs/")
    p.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    p.add_argument("-q", "--quiet", action="store_true", help="print nothing but errors")
    p.add_argument("--max-messages", type=int, metavar="N",
                   help="refuse points expected to make more than N mail (message, recipient) pairs "
                   "(default 2,000,000)")
    return {"sweep": handle}


def handle(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Plan (validating everything), then run the sweep; exit status."""
    from .scenario import load_scenario
    from .sweep.api import run_sweep
    from .sweep.errors import SweepDefinitionError, SweepError
    from .sweep.executors import Dask, Processes
    from .sweep.plan import plan_sweep

    grid = parse_sets(args.sets)
    if args.replications < 1:
        raise CommandError(f"--replications must be at least 1, got {args.replications}")
    if args.jobs is not None and args.jobs < 1:
        raise CommandError(f"--jobs must be at least 1, got {args.jobs}")
    if args.max_messages is not None and args.max_messages < 1:
        raise CommandError(f"--max-messages must be at least 1, got {args.max_messages}")
    if args.seed is not None and args.seed < 0:
        raise CommandError(f"--seed must not be negative, got {args.seed}")
    if args.dask is not None and importlib.util.find_spec("distributed") is None:
        raise CommandError("--dask needs Dask: pip install 'mailsim[dask]' (or dask[distributed])")
    scenario = load_scenario(Path(args.scenario), max_messages=args.max_messages)
    try:
        plan = plan_sweep(scenario, grid, args.replications, seed=args.seed)
    except ScenarioError as error:
        raise CommandError(f"{args.scenario}: invalid sweep value(s)\n{error}") from None
    except SweepDefinitionError as error:
        raise CommandError(str(error)) from None
    folder = Path(args.output) if args.output else Path("results") / f"{_safe(scenario.name)}-sweep"
    executor = Dask(args.dask) if args.dask is not None else Processes(args.jobs)
    progress = None if args.quiet else ProgressLine(err)
    try:
        outcome = run_sweep(plan, executor, folder, keep_runs=args.keep_runs, plots=not args.no_plots,
                            progress=progress)
    except SweepDefinitionError as error:
        raise CommandError(str(error)) from None
    except KeyboardInterrupt:
        if progress is not None:
            progress.close()
        err.write(f"interrupted: finished runs are in {folder / 'runs.csv'}; "
                  "run the same command again to resume\n")
        return EXIT_INTERRUPTED
    except SweepError as error:
        if progress is not None:
            progress.close()
        err.write(f"error: {error}\n(finished runs are in {folder / 'runs.csv'}; reproduce the failing run with "
                  "mailsim run and the seed above, on that point's scenario)\n")
        return EXIT_FAILED
    if progress is not None:
        progress.close()
    if not args.quiet:
        out.write(report(outcome, _executor_text(args)))
    return EXIT_OK


# --------------------------------------------------------------------------- --set parsing


def parse_sets(sets: list[str]) -> dict[str, list[object]]:
    """``["a.b=1,2", "c=x"]`` -> ``{"a.b": [1, 2], "c": ["x"]}``; CommandError for bad text."""
    grid: dict[str, list[object]] = {}
    for text in sets:
        key, equals, values = text.partition("=")
        key = key.strip()
        if not equals or not key:
            raise CommandError(f"--set {text!r}: write KEY=VALUE1,VALUE2,... (for example "
                               "network.links.1.bandwidth=10Mbps,100Mbps)")
        if key in grid:
            raise CommandError(f"--set {key}: given twice; list all its values in one --set")
        items = split_values(values)
        if any(not item.strip() for item in items):
            raise CommandError(f"--set {text!r}: empty value (write null for no value)")
        grid[key] = [parse_value(item) for item in items]
    return grid


def split_values(text: str) -> list[str]:
    """Split on commas outside brackets, braces and quotes."""
    items: list[str] = []
    depth = 0
    quote = ""
    start = 0
    for index, char in enumerate(text):
        if quote:
            if char == quote:
                quote = ""
        elif char in "'\"":
            quote = char
        elif char in "[{":
            depth += 1
        elif char in "]}":
            depth -= 1
        elif char == "," and depth == 0:
            items.append(text[start:index])
            start = index + 1
    if depth != 0 or quote:
        raise CommandError(f"--set value {text!r}: unbalanced brackets or quotes")
    items.append(text[start:])
    return items


def parse_value(text: str) -> object:
    """A value as YAML reads it (``3`` int, ``0.5`` float, ``15m`` string, ``true``, ``null``)."""
    import yaml

    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise CommandError(f"--set value {text.strip()!r} is not valid YAML: {error}") from None
    if isinstance(value, datetime.date):  # YAML reads 2024-01-01 as a date; keep the text
        return text.strip()
    return value


# --------------------------------------------------------------------------- output


class ProgressLine:
    """``done/total runs, elapsed, runs/s, ETA`` on stderr: rewritten in place on a terminal, a
    line every ten seconds otherwise.  The rate and the ETA extrapolate this session's pace (runs
    finished in an earlier session and skipped now do not count)."""

    def __init__(self, stream: TextIO, every_s: float = 0.2, every_s_not_tty: float = 10.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.line = StatusLine(stream)
        self.every_s = every_s if self.line.tty else every_s_not_tty
        self.clock = clock
        self.start = clock()
        self.last = -1e9
        self.first_done: int | None = None

    def __call__(self, done: int, total: int) -> None:
        now = self.clock()
        if self.first_done is None:
            self.first_done = done
            self.start = now
        if done < total and now - self.last < self.every_s:
            return
        self.last = now
        elapsed = now - self.start
        ran = done - self.first_done
        share = done / total if total else 1.0
        pace = "ETA --" if ran == 0 or elapsed <= 0 else \
            f"{ran / elapsed:.3g} runs/s, ETA {_duration(elapsed / ran * (total - done))}"
        skipped = f", {self.first_done} already done" if self.first_done else ""
        self.line.show(f"  sweep: {done}/{counted(total, 'run')} ({share:.0%}){skipped}, "
                       f"elapsed {_duration(elapsed)}, {pace}")

    def close(self) -> None:
        self.line.end(keep=True)


def _duration(seconds: float) -> str:
    return f"{seconds:.1f}s" if seconds < 60 else format_duration(round(seconds))


def _executor_text(args: argparse.Namespace) -> str:
    if args.dask is not None:
        return "a local Dask cluster" if args.dask == "local" else f"Dask at {args.dask}"
    jobs = args.jobs or available_cores()
    return "this process" if jobs == 1 else f"{jobs} processes"


def report(outcome: SweepOutcome, where: str) -> str:
    """The short summary printed after a sweep."""
    from .sweep.plan import param_text

    plan = outcome.plan
    lines = [
        f"{plan.scenario.name}: {counted(len(plan.points), 'point')} x {counted(plan.replications, 'replication')} "
        f"= {counted(plan.runs, 'run')} (ran {outcome.ran} on {where} in {_duration(outcome.elapsed_s)}; "
        f"{outcome.skipped} {'was' if outcome.skipped == 1 else 'were'} already done)",
    ]
    for row in outcome.points[:_MAX_POINTS_SHOWN]:
        label = ", ".join(f"{k}={param_text(row[k])}" for k in plan.keys) or "the scenario"
        lines.append(f"  {label}: delivery latency mean {_with_ci(row, 'delivery_latency_mean_s', ' s')}, "
                     f"bounce rate {_with_ci(row, 'bounce_rate')}")
    if len(outcome.points) > _MAX_POINTS_SHOWN:
        lines.append(f"  ... {counted(len(outcome.points) - _MAX_POINTS_SHOWN, 'more point')} in sweep.csv")
    lines.append(f"  results in {outcome.folder}/")
    return "\n".join(lines) + "\n"


def _with_ci(row: dict[str, Any], metric: str, unit: str = "") -> str:
    """``3.396 s ± 0.45 s``; an interval clipped at the metric's range (a latency's at 0) as
    ``0.0123 (95% CI 0 to 0.034)``; a half-width of exactly 0 as ``± 0``."""
    mean, half = row[metric], row[f"{metric}_ci95"]
    if mean is None:
        return "n/a"
    if half is None:
        return f"{mean:.4g}{unit}"
    low, high = row[f"{metric}_ci95_low"], row[f"{metric}_ci95_high"]
    if low > mean - half or high < mean + half:
        return f"{mean:.4g}{unit} (95% CI {low:.2g} to {high:.2g}{unit})"
    return f"{mean:.4g}{unit} ± {half:.2g}{unit}"


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name) or "sweep"
