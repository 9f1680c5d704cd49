"""Parquet through pyarrow or through polars: which writes mailsim's tables faster, at what cost.

``mailsim run --format parquet`` writes its tables with pyarrow (:mod:`simulator.parquet_io`). This
script measures the choice against polars on the benchmark's scenario (``bench.py``): it runs the
scenario once, then writes ``deliveries`` and the wide event log (``events``) as Parquet with each
library from the same columns, the result's own (lists of Python objects, a ``FloatColumn`` per
time column), and reads each file back into Python lists, as ``Result.load`` needs them. Every step
is timed in CPU seconds (best of ``--repeat``, after a first call not timed), with Snappy
compression for both (pyarrow's default; polars defaults to zstd). Loading each library is measured
apart, in a fresh interpreter: its import time and the resident memory it adds.

polars is not a dependency of mailsim; install it to compare (``pip install polars``), or the
script measures pyarrow alone.

    python benchmarks/parquet_writers.py --messages 100000 --repeat 3
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from bench import scenario_text

from simulator import eventkinds, parquet_io
from simulator.float_column import FloatColumn
from simulator.runner import Result, run
from simulator.scenario import load_scenario
from simulator.table_schema import FLOAT64, INT64, STRING, TABLES
from simulator.wide_events import wide_columns

LOAD_COST = """
import time
def peak_kib():
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
before = peak_kib()
start = time.perf_counter()
import {modules}
print(time.perf_counter() - start, peak_kib() - before)
"""
"""A fresh interpreter's cost of importing a library: seconds, then KiB of peak resident memory added
(Linux ``VmHWM``, which a new process image starts afresh; ``ru_maxrss`` would carry the parent's)."""


def load_cost(modules: str) -> tuple[float, int]:
    """Import time (s) and peak RSS added (KiB) of ``modules``, in a fresh interpreter (best of 3 times)."""
    runs = [subprocess.run([sys.executable, "-c", LOAD_COST.format(modules=modules)], capture_output=True,
                           text=True, check=True).stdout.split() for _ in range(3)]
    return min(float(r[0]) for r in runs), min(int(r[1]) for r in runs)


def best_cpu_s(step: Callable[[], Any], repeat: int) -> float:
    """The least CPU time of ``repeat`` calls of ``step``, after one call not timed (the library's
    lazy imports: pyarrow loads pandas when it first converts a Python list)."""
    step()
    times = []
    for _ in range(repeat):
        start = time.process_time()
        step()
        times.append(time.process_time() - start)
    return min(times)


# ---- polars, from the same columns -------------------------------------------------------------


def _polars_series(pl: Any, name: str, values: Any, dtype: Any) -> Any:
    """A polars Series of ``values`` (a list, a FloatColumn, or a count of nulls) as ``dtype``."""
    if isinstance(values, int):
        return pl.Series(name, [None] * values, dtype=dtype)
    if isinstance(values, FloatColumn):
        series = pl.Series(name, values.values, dtype=pl.Float64)
        return series if values.known is None else series.scatter((~values.known).nonzero()[0], None)
    if dtype == pl.List(pl.Utf8):
        values = [None if v is None else list(v) for v in values]
    return pl.Series(name, values, dtype=dtype)


def polars_deliveries(pl: Any, data: Mapping[str, Sequence[Any]], path: Path) -> None:
    types = {STRING: pl.Utf8, INT64: pl.Int64, FLOAT64: pl.Float64}
    frame = pl.DataFrame([_polars_series(pl, c.name, data[c.name], types[c.type])
                          for c in TABLES["deliveries"]])
    frame.write_parquet(path, compression="snappy")


def polars_events(pl: Any, result: Result, path: Path) -> None:
    types = {eventkinds.TEXT: pl.Utf8, eventkinds.INT: pl.Int64, eventkinds.FLOAT: pl.Float64,
             eventkinds.LIST: pl.List(pl.Utf8), eventkinds.FLAG: pl.Boolean}
    schema = {"time": pl.Float64, "event": pl.Utf8, "message_id": pl.Utf8, "node": pl.Utf8,
              **{name: types[t] for name, t in eventkinds.FIELD_TYPES.items()}}
    log = result.log
    frames = []
    for start in range(0, len(log), parquet_io.BATCH_ROWS):  # the batches pyarrow's writer takes
        stop = min(start + parquet_io.BATCH_ROWS, len(log))
        wide = wide_columns(log, start, stop)
        frames.append(pl.DataFrame([_polars_series(pl, name, wide.get(name, stop - start), dtype)
                                    for name, dtype in schema.items()]))
    pl.concat(frames).write_parquet(path, compression="snappy")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)

    result = run(load_scenario(scenario_text(args.messages)))
    deliveries = result.tables.columns("deliveries")
    print(f"{args.messages:,} messages: {len(deliveries['message_id']):,} deliveries rows, "
          f"{len(result.log):,} events")
    try:
        import polars as pl
    except ImportError:
        pl = None
        print("polars is not installed (pip install polars): pyarrow alone")
    import pyarrow.parquet as pq

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        rows = [("library", "load (s)", "load (MiB)", "deliveries write", "events write", "deliveries read",
                 "events read", "deliveries file (MB)")]
        arrow_d, arrow_e = folder / "d-arrow.parquet", folder / "e-arrow.parquet"
        timings = [
            best_cpu_s(lambda: parquet_io.write_columns(arrow_d, "deliveries", deliveries), args.repeat),
            best_cpu_s(lambda: parquet_io.write_records(arrow_e, result.log), args.repeat),
            best_cpu_s(lambda: pq.read_table(arrow_d).to_pydict(), args.repeat),
            best_cpu_s(lambda: pq.read_table(arrow_e).to_pydict(), args.repeat),
        ]
        seconds, kib = load_cost("pyarrow, pyarrow.parquet")
        rows.append(("pyarrow", f"{seconds:.2f}", f"{kib / 1024:.0f}", *(f"{t:.2f} s" for t in timings),
                     f"{arrow_d.stat().st_size / 1e6:.1f}"))
        if pl is not None:
            polars_d, polars_e = folder / "d-polars.parquet", folder / "e-polars.parquet"
            timings = [
                best_cpu_s(lambda: polars_deliveries(pl, deliveries, polars_d), args.repeat),
                best_cpu_s(lambda: polars_events(pl, result, polars_e), args.repeat),
                best_cpu_s(lambda: pl.read_parquet(polars_d).to_dict(as_series=False), args.repeat),
                best_cpu_s(lambda: pl.read_parquet(polars_e).to_dict(as_series=False), args.repeat),
            ]
            same = pq.read_table(polars_d).to_pydict() == pq.read_table(arrow_d).to_pydict()
            seconds, kib = load_cost("polars")
            rows.append(("polars", f"{seconds:.2f}", f"{kib / 1024:.0f}", *(f"{t:.2f} s" for t in timings),
                         f"{polars_d.stat().st_size / 1e6:.1f}"))
            print(f"deliveries written by polars read back equal to pyarrow's: {same}")
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        print("  ".join(cell.rjust(width) for cell, width in zip(r, widths, strict=True)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
