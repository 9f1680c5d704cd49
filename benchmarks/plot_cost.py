"""What drawing the standard plots costs, apart from everything else a run does.

``python benchmarks/plot_cost.py DIR [--repeat N]`` loads a result folder written by
``mailsim run`` (with the whole event log), derives what the figures are drawn from (the
tables, the time breakdown, the load tables: not timed), then draws and encodes every standard
plot ``N`` times (default 3; each round as ``mailsim run`` draws them, inside
:func:`simulator.mailpairs.shared_pairs`) and prints the least CPU time of each and their sum. CPU time, not
wall time, so other jobs on the machine disturb it less; the least of several, for the same
reason. To compare two checkouts, run it with each one's ``simulator`` first on ``PYTHONPATH``.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from collections.abc import Sequence

from simulator.resultdir import ResultFolderError
from simulator.runner import Result


def plot_cpu_s(folder: str, repeat: int) -> dict[str, float]:
    """The least CPU seconds of drawing and encoding each standard plot of ``folder``, by name."""
    from simulator import mailpairs, plots

    # an older checkout has no shared_pairs: each figure reads the table for itself there
    shared_pairs = getattr(mailpairs, "shared_pairs", contextlib.nullcontext)
    result = Result.load(folder)
    _ = result.tables, result.breakdown_rows, result.link_rows, result.server_rows  # derived, not timed
    best: dict[str, float] = {}
    for _round in range(repeat):
        with shared_pairs():  # as Result.render_plots draws them: the deliveries read once a round
            for name, draw in result.figures().items():
                start_s = time.process_time()
                plots.png_bytes(draw())
                best[name] = min(best.get(name, float("inf")), time.process_time() - start_s)
    return best


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
    for name, cpu_s in best.items():
        print(f"{name:<{width}}  {cpu_s:6.3f} s")
    print(f"{'total':<{width}}  {sum(best.values()):6.3f} s CPU (least of {max(args.repeat, 1)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
