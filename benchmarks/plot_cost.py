"""What drawing the standard plots costs, apart from everything else a run does.

``python benchmarks/plot_cost.py DIR [--repeat N]`` loads a result folder written by
``mailsim run`` (with the whole event log), derives what the figures are drawn from (the
tables, the time breakdown, the load tables: not timed), then draws and encodes every standard
plot ``N`` times (default 3) and prints, per plot, the least CPU time of two ways:

- ``whole``: each round as ``mailsim run`` draws them, inside a fresh
  :func:`simulator.mailpairs.shared_pairs`: the figures read the tables and make the aggregates
  they are drawn from (CDF points, queue envelopes, counts), then draw;
- ``drawing``: the aggregates already made (kept by one ``shared_pairs`` over all the rounds,
  after a first round that is not timed): drawing and encoding alone, what does not depend on
  the number of messages.

CPU time, not wall time, so other jobs on the machine disturb it less; the least of several,
for the same reason. To compare two checkouts, run it with each one's ``simulator`` first on
``PYTHONPATH`` (an older checkout keeps no aggregates: its two columns are about equal).
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

from simulator.resultdir import ResultFolderError
from simulator.runner import Result


def plot_cpu_s(folder: str, repeat: int) -> dict[str, tuple[float, float]]:
    """The least CPU seconds of each standard plot of ``folder``, by name: (whole, drawing alone)."""
    from simulator import mailpairs

    # an older checkout has no shared_pairs: each figure reads the table for itself there
    shared_pairs = getattr(mailpairs, "shared_pairs", contextlib.nullcontext)
    result = Result.load(folder)
    _ = result.tables, result.breakdown_rows, result.link_rows, result.server_rows  # derived, not timed
    whole: dict[str, float] = {}
    for _round in range(repeat):
        with shared_pairs():  # as Result.render_plots draws them: the tables read once a round
            _draw_all(result.figures(), whole)
    drawing: dict[str, float] = {}
    with shared_pairs():  # the aggregates made in the first round, kept for the others
        _draw_all(result.figures(), {})
        for _round in range(repeat):
            _draw_all(result.figures(), drawing)
    return {name: (whole[name], drawing[name]) for name in whole}


def _draw_all(figures: dict[str, Callable[[], Any]], best: dict[str, float]) -> None:
    """Draw and encode every figure once, keeping the least CPU time of each in ``best``."""
    from simulator import plots

    for name, draw in figures.items():
        start_s = time.process_time()
        plots.png_bytes(draw())
        best[name] = min(best.get(name, float("inf")), time.process_time() - start_s)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", metavar="DIR", help="a result folder written by 'mailsim run'")
    parser.add_argument("--repeat", type=int, default=3, help="draw every plot this many times (default 3)")
    args = parser.parse_args(argv)
    try:
        best = plot_cpu_s(args.folder, max(args.repeat, 1))
    except (OSError, ValueError, ResultFolderError) as error:  # no folder, not a result, no whole log
        print(f"plot_cost.py: {error}", file=sys.stderr)
        return 2
    width = max(map(len, best), default=5)
    print(f"{'':<{width}}  {'whole':>8}  {'drawing':>8}")
    for name, (whole_s, drawing_s) in best.items():
        print(f"{name:<{width}}  {whole_s:6.3f} s  {drawing_s:6.3f} s")
    totals = [sum(cpu[i] for cpu in best.values()) for i in (0, 1)]
    print(f"{'total':<{width}}  {totals[0]:6.3f} s  {totals[1]:6.3f} s  CPU (least of {max(args.repeat, 1)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
