"""The ``mailsim`` command: argument parsing, exit codes and terminal output only.

Exit status: 0 success, 2 bad input (an invalid scenario, a missing file, bad arguments),
1 an unexpected internal error (reported without a traceback unless ``--debug``).
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TextIO

from . import __version__, buildinfo, quick_exit
from .capture import describe_ids, parse_message_ids, unknown_message_ids
from .events_filter import FULL, EventsChoice, parse_events
from .interrupts import first_interrupt_stops, noticing_interrupts
from .launch import EXIT_INTERRUPTED
from .limits import DEFAULT_MAX_MESSAGES
from .load_summary import most_loaded_lines
from .problems import ScenarioError
from .progress import RunProgress
from .resultdir import ResultFolderError, check_target
from .table_files import DEFAULT_FORMAT, FORMATS
from .units import format_duration, parse_duration
from .wording import counted

if TYPE_CHECKING:
    from .runner import Result

# The scenario model (pydantic, numpy) and the simulation core are imported by the commands that
# use them, so that ``mailsim --help`` and ``--version`` load neither.

EXIT_OK, EXIT_INTERNAL, EXIT_BAD_INPUT = 0, 1, 2

# Modules that add subcommands: each has ``register(subparsers) -> dict[name, handler]`` where
# ``handler(args, out, err) -> int``; they may raise ScenarioError or CommandError for bad input.
COMMAND_MODULES: tuple[str, ...] = ("simulator.cli_sweep", "simulator.cli_plots", "simulator.cli_trace")


class CommandError(Exception):
    """Bad input found by a command (a missing folder, an unknown message id): exit status 2."""


class _Parser(argparse.ArgumentParser):
    """argparse, but bad arguments exit with status 2 through main() rather than sys.exit here."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise _UsageError(f"{self.prog}: {message}")


class _UsageError(Exception):
    pass


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="mailsim", description="Discrete-event simulator of Internet e-mail.")
    parser.add_argument("--version", action="version", version=f"mailsim {__version__} ({buildinfo.describe()})")
    parser.add_argument("--debug", action="store_true", help="show a traceback on internal errors")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p = sub.add_parser("run", help="simulate a scenario and write its result files")
    p.add_argument("scenario", help="scenario YAML file")
    p.add_argument("-o", "--output", help="result folder (default: results/<scenario name>)")
    p.add_argument("--seed", type=_seed, help="override the scenario's seed (a whole number >= 0)")
    p.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE",
                   help="override a dotted scenario key for this run (traffic.0.rate=20/h), as sweep --set "
                   "takes it; repeatable")
    p.add_argument("--bin", dest="bin_s", type=_bin_width, metavar="DURATION",
                   help="width of the time bins of links.csv and servers.csv (30s, 5m, 1h; default: the "
                   "smallest round width that fits the run in 300 bins)")
    p.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    p.add_argument("--report", action="store_true", help="also write a self-contained report.html")
    p.add_argument("--transcripts", action="store_true",
                   help="record every session's commands and replies with their times (transcripts.jsonl)")
    p.add_argument("--pcap", action="store_true", help="write a packet capture of every session (capture.pcap)")
    p.add_argument("--capture-messages", metavar="ID,ID",
                   help="with --transcripts/--pcap: record only these messages' sessions")
    p.add_argument("--events", type=_events, default=parse_events(FULL), metavar="full|none|KIND[,KIND...]",
                   help="what events.csv keeps: every record (full, the default), no file (none), or the records "
                        "of these event kinds; the tables and summary always derive from the whole log")
    p.add_argument("--format", choices=tuple(FORMATS), default=DEFAULT_FORMAT,
                   help="the tables (and the event log) as csv (the default), parquet, or both")
    p.add_argument("-q", "--quiet", action="store_true", help="print nothing but errors")
    _max_messages_option(p)

    p = sub.add_parser("validate", help="check a scenario file without running it")
    p.add_argument("scenario", help="scenario YAML file")
    _max_messages_option(p)

    sub.add_parser("schema", help="print the scenario file's JSON Schema")
    return parser


def _max_messages_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--max-messages", type=_positive, metavar="N",
                        help=f"refuse a scenario expected to make more than N mail (message, recipient) pairs "
                        f"(default {DEFAULT_MAX_MESSAGES:,}; see docs/scenario.md, limits)")


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is not a whole number >= 1")
    return value


def _events(text: str) -> EventsChoice:
    try:
        return parse_events(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _bin_width(text: str) -> float:
    try:
        value = parse_duration(text)
    except (ValueError, OverflowError) as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text!r}: a bin must be longer than 0 s")
    return value


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{value} is negative; seeds are whole numbers >= 0")
    return value


def _extra_commands(parser: argparse.ArgumentParser) -> dict[str, Callable[..., int]]:
    """Let each module of COMMAND_MODULES add its subcommands to ``parser``."""
    handlers: dict[str, Callable[..., int]] = {}
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for name in COMMAND_MODULES:
        handlers.update(importlib.import_module(name).register(sub))
    return handlers


def main(argv: Sequence[str] | None = None, stdout: TextIO | None = None, stderr: TextIO | None = None) -> int:
    """Run the command line; returns the exit status."""
    out = stdout or sys.stdout
    err = stderr or sys.stderr
    args: argparse.Namespace | None = None
    try:
        parser = build_parser()
        handlers = _extra_commands(parser)
        args = parser.parse_args(argv)
        with noticing_interrupts():
            return _command(args, handlers, out, err)
    except _UsageError as e:
        err.write(f"{e}\n")
        return EXIT_BAD_INPUT
    except ScenarioError as e:
        err.write(f"error: {getattr(args, 'scenario', '')}: invalid scenario\n{e}\n")
        return EXIT_BAD_INPUT
    except (CommandError, ResultFolderError) as e:
        err.write(f"error: {e}\n")
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        err.write("interrupted\n")
        return EXIT_INTERRUPTED
    except Exception as e:
        if args is not None and args.debug:
            raise
        err.write(f"internal error: {type(e).__name__}: {e}\n(run again with --debug for a traceback, "
                  "and please report it with the scenario file)\n")
        return EXIT_INTERNAL


def _command(args: argparse.Namespace, handlers: dict[str, Callable[..., int]], out: TextIO, err: TextIO) -> int:
    if args.command in handlers:
        return handlers[args.command](args, out, err)
    from .scenario import load_scenario, scenario_json_schema

    if args.command == "schema":
        out.write(json.dumps(scenario_json_schema(), indent=2) + "\n")
        return EXIT_OK
    scenario = load_scenario(Path(args.scenario), max_messages=args.max_messages)
    if args.command == "run":
        scenario = _with_sets(scenario, args.sets, args.scenario)
    if args.command == "validate":
        from .workload import estimate

        work = estimate(scenario)
        pairs = f"{work.pairs:,.0f}"
        expected = f"about {pairs} {'message' if pairs == '1' else 'messages'} expected"
        out.write(f"{args.scenario}: valid scenario '{scenario.name}' ({counted(len(scenario.servers), 'server')}, "
                  f"{counted(work.users, 'user')}, {expected})\n")
        return EXIT_OK
    return _run(args, scenario, out, err)


def _run(args: argparse.Namespace, scenario: Any, out: TextIO, err: TextIO) -> int:
    from .runner import check_bin_width, run

    if args.output == "":
        raise CommandError("--output: an empty path; give the result folder (default: results/<scenario name>)")
    folder = Path(args.output) if args.output is not None else Path("results") / _safe(scenario.name)
    wire = args.transcripts or args.pcap
    if args.capture_messages is not None and not wire:
        raise CommandError("--capture-messages needs --transcripts or --pcap")
    chosen = _capture_ids(args.capture_messages)
    check_target(folder)  # a bad output path fails now, not after the simulation
    if args.bin_s is not None:
        try:
            check_bin_width(args.bin_s, scenario)
        except ValueError as error:
            raise CommandError(f"--bin: {error}") from None
    with RunProgress(err, enabled=not args.quiet) as progress:
        with first_interrupt_stops() as stop:  # a first Ctrl-C keeps what was simulated; a second aborts
            result = run(scenario, seed=args.seed, progress=progress.simulation, trace=wire, trace_messages=chosen,
                         stop=stop, bin_s=args.bin_s)
        if result.partial and result.end_time_s <= 0.0:
            progress.note(f"interrupted before anything was simulated: nothing written ({folder} is as it was)")
            return EXIT_INTERRUPTED
        if result.partial:
            progress.note(f"interrupted: writing the partial result, simulated until "
                          f"{format_duration(round(result.end_time_s))} (Ctrl-C again to abort)")
        if chosen and (unknown := unknown_message_ids(result.records, chosen)):
            raise CommandError(f"--capture-messages: this run created no message {', '.join(unknown)} "
                               f"(it created {describe_ids(result.records)}); nothing was written")
        result.save(folder, with_plots=not args.no_plots, report=args.report,
                    transcripts=args.transcripts, pcap=args.pcap, progress=progress.step, events=args.events,
                    format=args.format, keep_log=False)  # only the summary is read after this
    if not args.quiet:
        out.write(report(result, folder))
    quick_exit.hold(result)  # freed by the process's end, not object by object (see quick_exit)
    return EXIT_INTERRUPTED if result.partial else EXIT_OK


def _with_sets(scenario: Any, sets: list[str], source: str) -> Any:
    """``scenario`` with the ``--set KEY=VALUE`` overrides applied (one value each; the syntax is sweep's)."""
    if not sets:
        return scenario
    from .cli_sweep import parse_sets  # here, not at the top: cli_sweep imports this module

    changes: dict[str, object] = {}
    for key, values in parse_sets(sets).items():
        if len(values) != 1:
            raise CommandError(f"--set {key}: mailsim run takes one value, got {len(values)} "
                               "(mailsim sweep runs several; quote a value that holds a comma)")
        changes[key] = values[0]
    try:
        return scenario.override(changes)
    except ScenarioError as error:
        raise CommandError(f"{source}: invalid --set value(s)\n{error}") from None


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name) or "run"


def _capture_ids(text: str | None) -> list[str] | None:
    """The IDs of ``--capture-messages`` (None without it); malformed ones are refused before simulating."""
    if text is None:
        return None
    try:
        return parse_message_ids(text)
    except ValueError as error:
        raise CommandError(f"--capture-messages: {error}") from None


def report(result: Result, folder: Path) -> str:
    """The short human summary printed after a run."""
    s = result.summary
    c = s["counts"]
    lines = [
        f"{s['name']}: seed {s['seed']}, simulated {format_duration(round(s['end_time_s']))} ({s['end_time_s']:.3f} s)",
        f"  mail (message, recipient) pairs: {c['submitted']} submitted, {c['delivered']} delivered, "
        f"{c['bounced']} bounced, {c['pending']} pending, {counted(c['duplicates'], 'duplicate')}"
        + (f" (and {c['expanded']} to lists and aliases)" if c.get("expanded") else ""),
        f"  DSNs: {counted(c['bounces_sent'], 'bounce')}, {counted(c['warnings_sent'], 'delay warning')}",
    ]
    if s.get("partial"):
        lines.insert(1, "  PARTIAL: interrupted before the end; the tables cover the run up to then, "
                        "mail neither delivered nor bounced by then is pending")
    for key, label in (("latency_s", "delivery latency"), ("end_to_end_latency_s", "end-to-end latency")):
        st = s[key]
        if st["count"]:
            lines.append(f"  {label}: mean {_t(st['mean'])}, p50 {_t(st['p50'])}, p90 {_t(st['p90'])}, "
                         f"p99 {_t(st['p99'])}, max {_t(st['max'])}")
    for protocol, p in s.get("retrieval_by_protocol", {}).items():
        if p["delivered"]:
            st = p["end_to_end_latency_s"]
            share = p["every_device_share"]
            lines.append(f"  {protocol}: {counted(p['users'], 'user')}, {p['retrieved']}/{p['delivered']} retrieved, "
                         f"{share:.0%} on every device, end-to-end p50 {_t(st['p50']) if st['count'] else '-'}")
    if s["peak_queue"]:
        peaks = ", ".join(f"{k} {v}" for k, v in s["peak_queue"].items())
        lines.append(f"  peak queue: {peaks}")
    for server, by_code in s.get("refusals", {}).items():
        lines.append(f"  refused by {server}: " + ", ".join(f"{n} x {reply}" for reply, n in by_code.items()))
    lines.extend(most_loaded_lines(s.get("loads")))
    lines.append(f"  results in {folder}/")
    return "\n".join(lines) + "\n"


def _t(seconds: float) -> str:
    if seconds < 1:
        return f"{seconds * 1000:.1f}ms"
    if seconds < 120:
        return f"{seconds:.2f}s"
    return format_duration(round(seconds))


def entrypoint(argv: Sequence[str] | None = None, before_exit: Callable[[], None] | None = None) -> NoReturn:
    """Console-script entry point: :func:`main`, then the process ends (at once after ``mailsim run``:
    see :mod:`simulator.quick_exit`). ``before_exit`` is called just before it ends (a benchmark's marks)."""
    quick_exit.arm()
    status = main(argv)
    if before_exit is not None:
        before_exit()
    quick_exit.end(status)
