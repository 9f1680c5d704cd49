"""What the simulated world still holds after ``World.run``, the event log apart.

The event log's writes are turned off (each log's ``extend`` does nothing), so what remains is the
world's own: servers, mailboxes, devices, sessions and whatever they keep of finished messages.
It prints the RSS before the world is built and after the run or, with ``--traced``, what was
allocated during the run and is still held, by ``tracemalloc`` (about three times slower; its own
tables would swell the RSS), with the largest holders by the line that allocated them.

    python benchmarks/world_memory.py --messages 100000 [--retrieval] [--outages] [--capacity] [--traced]
"""

from __future__ import annotations

import argparse
import gc
import sys
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench

from simulator import eventlog
from simulator.scenario import load_scenario
from simulator.world import World

MIB = 1024 * 1024
TOP_HOLDERS = 8


def rss_bytes() -> int:
    """The process's resident memory (Linux ``VmRSS``)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def without_log_writes() -> None:
    """Make every event log made from now on drop what is appended to it."""
    make = eventlog.EventLog.__init__

    def make_silent(log: eventlog.EventLog) -> None:
        make(log)
        log.extend = lambda _record: None

    setattr(eventlog.EventLog, "__init__", make_silent)  # noqa: B010 (a method replaced: mypy refuses the assignment)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--messages", type=int, default=bench.DEFAULT_MESSAGES)
    parser.add_argument("--retrieval", action="store_true", help="every user reads by IMAP IDLE")
    parser.add_argument("--outages", action="store_true", help="random server and backbone outages")
    parser.add_argument("--capacity", action="store_true", help="daily curve, server workers and lists")
    parser.add_argument("--traced", action="store_true", help="also count what the run left allocated")
    args = parser.parse_args()
    text = bench.scenario_text(args.messages, retrieval=args.retrieval, outages=args.outages, capacity=args.capacity)
    without_log_writes()
    scenario = load_scenario(text, max_messages=10**12)
    gc.collect()
    before = rss_bytes()
    world = World(scenario)
    if args.traced:
        tracemalloc.start()
    world.run()
    gc.collect()
    after = rss_bytes()
    messages = world.ctx.messages_created
    if not args.traced:
        print(f"{messages:,} messages: RSS {before / MIB:.1f} MiB before the world, {after / MIB:.1f} MiB after the "
              f"run ({(after - before) / MIB:.1f} MiB, {(after - before) / messages:.0f} bytes a message)")
    else:
        snapshot = tracemalloc.take_snapshot()
        tracemalloc.stop()
        stats = snapshot.statistics("lineno")
        held = sum(stat.size for stat in stats)
        print(f"{messages:,} messages: held, allocated during the run: {held / MIB:.2f} MiB "
              f"({held / messages:.1f} bytes a message)")
        for stat in stats[:TOP_HOLDERS]:
            frame = stat.traceback[0]
            print(f"  {stat.size / MIB:7.2f} MiB {stat.count:9,} blocks  {Path(frame.filename).name}:{frame.lineno}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
