"""Instructions executed by ``World.run`` in the benchmark's delivery phase, counted by valgrind.

Wall and CPU times on a shared or virtual machine vary by 20 % or more from run to run; the
number of machine instructions a run executes does not (with ``PYTHONHASHSEED`` fixed and
OpenBLAS kept to one thread). This script counts them with valgrind's cachegrind for a benchmark
scenario, as the difference between a child that builds the world and runs it to the end of the
delivery phase (the POP3 batch's start; with ``--retrieval``, the whole run) and one that only
builds it. It needs valgrind; it is about 40 times slower than a plain run, so use a few
thousand messages.

    python benchmarks/instructions.py --messages 10000 [--retrieval] [--outages] [--capacity]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench

CHILD = """
import sys
from simpy.core import StopSimulation
from simulator.scenario import load_scenario
from simulator.world import World
world = World(load_scenario(open(sys.argv[1]).read(), max_messages=10**12))
if sys.argv[2] == "run":
    if sys.argv[3] != "none":
        world.env.timeout(float(sys.argv[3])).callbacks.append(StopSimulation.callback)
    world.run()
    print(world.ctx.messages_created)
"""


def instructions(scenario: Path, mode: str, split_at_s: float | None) -> tuple[int, str]:
    """Instructions executed by a child building (and with ``mode`` "run", running) ``scenario``."""
    done = subprocess.run(
        ["valgrind", "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null",
         sys.executable, "-c", CHILD, str(scenario), mode, "none" if split_at_s is None else repr(split_at_s)],
        capture_output=True, text=True, check=True,
        # OpenBLAS's idle threads (numpy starts them on import) spin for a varying while: with
        # them, the same run counted 3,000 instructions a message more or less at 30,000 messages.
        env={**os.environ, "PYTHONHASHSEED": "0", "OPENBLAS_NUM_THREADS": "1"},
    )
    found = re.search(r"I\s+refs:\s+([\d,]+)", done.stderr)
    if found is None:
        raise RuntimeError(f"valgrind printed no instruction count:\n{done.stderr}")
    return int(found.group(1).replace(",", "")), done.stdout.strip()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--retrieval", action="store_true")
    parser.add_argument("--outages", action="store_true")
    parser.add_argument("--capacity", action="store_true")
    args = parser.parse_args()
    if shutil.which("valgrind") is None:
        print("valgrind is not installed", file=sys.stderr)
        return 2
    text = bench.scenario_text(args.messages, args.retrieval, args.outages, capacity=args.capacity)
    split_at_s = None if args.retrieval else bench.BATCH_POLL_AT_S
    with tempfile.TemporaryDirectory(prefix="mailsim-instructions-") as folder:
        scenario = Path(folder) / "scenario.yaml"
        scenario.write_text(text)
        total, created = instructions(scenario, "run", split_at_s)
        setup, _ = instructions(scenario, "build", split_at_s)
    run = total - setup
    messages = int(created)
    print(f"World.run, delivery phase: {run / 1e6:,.0f} M instructions for {messages:,} messages "
          f"({run / messages:,.0f} a message)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
