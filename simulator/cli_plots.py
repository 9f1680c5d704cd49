"""The ``mailsim plot`` and ``mailsim show`` subcommands: figures without simulating again.

``mailsim plot DIR`` redraws the standard plots of a result folder from its events.csv and
scenario.yaml; ``--message ID`` draws one message's journey instead; ``--report`` also writes
report.html. Files written into the result folder are added the whole-folder way, its manifest
updated (:func:`simulator.resultdir.add_files`), so the folder stays one consistent run.
``mailsim show SCENARIO`` draws a scenario's network. Bad input (a missing folder, a folder
whose files disagree, an unknown message id) raises :class:`simulator.cli.CommandError` (exit
status 2).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TextIO

__all__ = ["register"]


def register(subparsers: Any) -> dict[str, Callable[[argparse.Namespace, TextIO, TextIO], int]]:
    """Add ``plot`` and ``show`` to the ``mailsim`` parser; returns their handlers."""
    p = subparsers.add_parser("plot", help="redraw the plots of a result folder (or one message's journey)")
    p.add_argument("folder", metavar="DIR", help="a result folder written by 'mailsim run'")
    p.add_argument("--message", metavar="ID", help="draw this message's journey (a sequence chart)")
    p.add_argument("-o", "--output", metavar="OUT",
                   help="where to write: a folder for the plots (default DIR/plots), a PNG file with --message "
                        "(default DIR/plots/journey-ID.png)")
    p.add_argument("--report", action="store_true", help="also write DIR/report.html")
    p = subparsers.add_parser("show", help="draw a scenario's network topology as a PNG")
    p.add_argument("scenario", help="scenario YAML file")
    p.add_argument("-o", "--output", metavar="PNG", help="output file (default: <scenario name>-topology.png)")
    return {"plot": _plot, "show": _show}


def _load(folder: str) -> Any:
    from .cli import CommandError
    from .resultdir import ResultFolderError
    from .runner import Result
    from .scenario import ScenarioError

    try:
        return Result.load(folder)
    except (FileNotFoundError, ResultFolderError) as error:
        raise CommandError(str(error)) from None
    except ValueError as error:
        raise CommandError(f"{folder}: {error}") from None
    except ScenarioError as error:
        raise CommandError(f"{folder}/scenario.yaml: invalid scenario\n{error}") from None


def _plot(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from . import plots
    from .cli import CommandError
    from .figure_paths import check_figure_file, check_figure_folder
    from .journey import UnknownMessageError
    from .report import render_report

    result = _load(args.folder)
    folder = Path(args.folder)
    if result.events_kept != "full":
        raise CommandError(f"{folder} was written with --events {result.events_kept}: its plots and journeys "
                           "need the whole event log; run the scenario again with --events full")
    if args.message:
        try:
            fig = result.plot_journey(args.message)
        except UnknownMessageError as error:
            raise CommandError(f"{folder}: {error.args[0]}") from None
        target = Path(args.output) if args.output else folder / "plots" / f"journey-{_safe(args.message)}.png"
        _check(check_figure_file, target, folder)
        paths = _write(folder, {target: plots.png_bytes(fig)})
    else:
        plot_folder = Path(args.output) if args.output else folder / "plots"
        _check(check_figure_folder, plot_folder, folder)
        images = result.render_plots()
        files = {plot_folder / f"{name}.png": png for name, png in images.items()}
        if args.report:
            files[folder / "report.html"] = render_report(result, images).encode("utf-8")
        paths = _write(folder, files)
    out.write("".join(f"wrote {p}\n" for p in paths))
    if result.partial:
        out.write(f"note: {folder} holds a partial run, interrupted at simulated {result.end_time_s:.3f} s\n")
    return 0


def _write(folder: Path, files: Mapping[Path, bytes]) -> list[Path]:
    """Write ``files``: those inside the result folder ``folder`` through its manifest, the rest as they are."""
    from .resultdir import add_files

    root = folder.resolve()
    inside = {path: path.resolve().relative_to(root).as_posix()
              for path in files if path.resolve().is_relative_to(root)}
    written = add_files(folder, {name: files[path] for path, name in inside.items()}) if inside else []
    for path, data in files.items():
        if path not in inside:
            _write_file(path, data)
            written.append(path)
    return written


def _check(check: Callable[[Path, Path | None], None], path: Path, own_result: Path | None) -> None:
    """Run a check of :mod:`simulator.figure_paths`; a place that must not be written is bad input."""
    from .cli import CommandError
    from .figure_paths import FigurePathError

    try:
        check(path, own_result)
    except FigurePathError as error:
        raise CommandError(str(error)) from None


def _write_file(path: Path, data: bytes) -> None:
    from .cli import CommandError

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    except OSError as error:
        raise CommandError(f"cannot write {path}: {error.strerror or error}") from None


def _show(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from . import plots
    from .figure_paths import check_figure_file
    from .limits import NO_MAIL_LIMIT
    from .scenario import load_scenario
    from .topology import topology_figure

    scenario = load_scenario(Path(args.scenario), max_messages=NO_MAIL_LIMIT)  # drawn, not run
    target = Path(args.output) if args.output else Path(f"{_safe(scenario.name)}-topology.png")
    _check(check_figure_file, target, None)
    _write_file(target, plots.png_bytes(topology_figure(scenario)))
    out.write(f"wrote {target}\n")
    return 0


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name) or "plot"
