"""The performance benchmark: mailsim's delivery rate against a bare SimPy M/M/1 model.

It owns the benchmark scenario (10 domains on 10 servers, 1,000 users, a three-router core,
about 100,000 messages a day of Poisson traffic with lognormal sizes and attachments), the
bare M/M/1 reference model, and the report. The figure of merit is

    ratio = (mail messages delivered per wall second of simulation)
            / (M/M/1 customers served per wall second of ``env.run``)

measured in this process, one model after the other, so the machine's speed cancels out.
The simulation's wall time is its delivery phase (before the POP3 retrieval batch), or all
of ``World.run`` with ``--retrieval``. Peak memory is measured apart, each model once in a
fresh subprocess. The whole ``mailsim run`` command, as a user waits for it (imports, plots and
teardown included), is timed apart too (``whole_run.py``), and ``--scale`` tabulates both ratios
and the command's peak memory for several message counts. ``--capacity`` turns on a daily curve,
server workers and mailing lists (``capacity_variant.py``) and times the default scenario beside
it in the same run, so the two ratios can be compared.

Run ``python benchmarks/bench.py --help`` for the options; benchmarks/README.md explains
what each number means.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import gc
import io
import json
import math
import pstats
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TextIO

import capacity_variant
import simpy
from whole_run import PHASE_LABELS, WholeRun, measure

from simulator import buildinfo
from simulator.runner import Result
from simulator.scenario import load_scenario
from simulator.world import World

DAY_S = 86_400.0
DEFAULT_MESSAGES = 100_000
USERS_PER_DOMAIN = 100
MM1_ARRIVAL_RATE_PER_S = 0.9  # utilisation 0.9: long queues, so Resource.request waits often
MM1_SERVICE_RATE_PER_S = 1.0
KIB_BYTES = 1024
# Without --retrieval each user polls once with POP3, the 1,000 polls spread evenly over the
# day from BATCH_POLL_AT_S (polls at one instant would all share the links at once). That is
# after every delivery, retry and bounce (traffic stops at 1 d, queues give up at 5 d), so the
# run splits cleanly into a delivery phase and a retrieval batch, timed apart. The contract
# has no way to switch retrieval off: a user without ``access`` reads with IMAP IDLE.
BATCH_POLL_AT_S = 7 * DAY_S
BATCH_POLL_SPREAD_S = DAY_S
BATCH_POLL_EVERY_S = DAY_S  # only a poll that failed (server down) is repeated
IDLE_ACCESS = "{protocol: imap, idle: true}"

# (name, core router, access-link one-way latency, access-link bandwidth): 4 domains in
# Europe, 3 in North America, 3 in Asia-Pacific, on links from a fat pipe to a small office.
DOMAINS: tuple[tuple[str, str, str, str], ...] = (
    ("alpha", "core.eu", "5ms", "1Gbps"),
    ("beta", "core.eu", "12ms", "100Mbps"),
    ("gamma", "core.eu", "20ms", "50Mbps"),
    ("delta", "core.eu", "8ms", "200Mbps"),
    ("epsilon", "core.us", "6ms", "1Gbps"),
    ("zeta", "core.us", "15ms", "100Mbps"),
    ("eta", "core.us", "25ms", "20Mbps"),
    ("theta", "core.ap", "10ms", "500Mbps"),
    ("iota", "core.ap", "18ms", "100Mbps"),
    ("kappa", "core.ap", "30ms", "20Mbps"),
)
# Backbone between the core routers: one-way latencies of real transoceanic routes.
CORE_LINKS: tuple[tuple[str, str, str, str], ...] = (
    ("core.eu", "core.us", "40ms", "10Gbps"),
    ("core.us", "core.ap", "60ms", "10Gbps"),
    ("core.eu", "core.ap", "95ms", "10Gbps"),
)
# Where each domain's users write: (offset to the destination domain, share of its mail);
# offset 0 is mail inside the domain, delivered by its own server.
FLOWS: tuple[tuple[int, float], ...] = ((0, 0.30), (1, 0.35), (3, 0.20), (6, 0.15))
SIZE = "{lognormal: {median: 10KB, sigma: 1.5}}"
ATTACHMENTS = "{probability: 0.1, size: {lognormal: {median: 300KB, sigma: 1.0}}}"
RECIPIENTS = "{choice: [[1, 85], [2, 10], [3, 5]]}"


# ---- the scenario -------------------------------------------------------------------------------


def scenario_text(messages: int, retrieval: bool = False, outages: bool = False, seed: int = 1,
                  capacity: bool = False) -> str:
    """YAML of the benchmark scenario, with traffic rates scaled to create about ``messages`` in a day.

    ``retrieval`` gives every user IMAP with IDLE (the contract's default access), which fetches
    each message as it arrives; otherwise each user reads with one POP3 poll in the day from
    ``BATCH_POLL_AT_S``. ``outages`` adds random server and backbone outages. ``capacity`` adds a
    daily curve, server workers and team lists with a share of the messages posted to them
    (``capacity_variant``), the same number of messages in all.
    """
    users = USERS_PER_DOMAIN * len(DOMAINS)
    names = [name for name, *_ in DOMAINS]
    variant = f"{'-retrieval' if retrieval else ''}{'-outages' if outages else ''}{'-capacity' if capacity else ''}"
    traffic_share = 1.0 - capacity_variant.LIST_SHARE if capacity else 1.0
    lines = [
        f"name: bench-{messages}{variant}",
        f"seed: {seed}",
        "duration: 1d",
        "network:",
        "  links:",
    ]
    for a, b, latency, bandwidth in CORE_LINKS:
        lines.append(f"    - {{between: [{a}, {b}], latency: {latency}, bandwidth: {bandwidth}}}")
    for name, core, latency, bandwidth in DOMAINS:
        lines.append(f"    - {{between: [lan.{name}, mx.{name}], latency: 1ms, bandwidth: 1Gbps}}")
        lines.append(f"    - {{between: [mx.{name}, {core}], latency: {latency}, bandwidth: {bandwidth}}}")
    lines.append("servers:")
    extra = f", {capacity_variant.server_keys()}" if capacity else ""
    lines += [f"  mx.{name}: {{domains: [{name}.example]{extra}}}" for name in names]
    lines.append("users:")
    lines += idle_users() if retrieval else batch_users()
    lines.append("traffic:")
    for i, (name, *_) in enumerate(DOMAINS):
        for offset, share in FLOWS:
            to = DOMAINS[(i + offset) % len(DOMAINS)][0]
            rate_per_day = traffic_share * share * messages / users
            lines += [
                f"  - from: {name}.example",
                f"    to: {to}.example",
                f"    rate: {rate_per_day!r}/d",
                f"    recipients: {RECIPIENTS}",
                f"    size: {SIZE}",
                f"    attachments: {ATTACHMENTS}",
            ]
            if capacity:
                lines.append(capacity_variant.daily_line())
    if capacity:
        lines += capacity_variant.list_lines(names)
        lines += capacity_variant.message_lines(messages, names, FLOWS, USERS_PER_DOMAIN, seed)
    if outages:
        lines.append("outages:")
        lines += [f"  - {{target: mx.{name}, mtbf: 12h, mttr: 30m}}" for name in ("beta", "eta", "kappa")]
        lines.append("  - {target: core.eu--core.us, mtbf: 1d, mttr: 1h}")
    return "\n".join(lines) + "\n"


def idle_users() -> list[str]:
    """One group per domain, every user on IMAP with IDLE."""
    lines = []
    for name, *_ in DOMAINS:
        group = f"{{prefix: {name}, count: {USERS_PER_DOMAIN}, domain: {name}.example}}"
        lines.append(f"  - {{group: {group}, at: lan.{name}, access: {IDLE_ACCESS}}}")
    return lines


def batch_users() -> list[str]:
    """The same users listed one by one, each with its own POP3 poll time in the batch."""
    users = USERS_PER_DOMAIN * len(DOMAINS)
    lines = []
    for i, (name, *_) in enumerate(DOMAINS):
        for k in range(USERS_PER_DOMAIN):
            offset_s = BATCH_POLL_AT_S + BATCH_POLL_SPREAD_S * (i * USERS_PER_DOMAIN + k) / users
            access = f"{{protocol: pop3, offset: {offset_s!r}, poll: {BATCH_POLL_EVERY_S!r}}}"
            lines.append(f"  - {{address: {name}{k + 1:03d}@{name}.example, at: lan.{name}, access: {access}}}")
    return lines


# ---- the two models, timed ----------------------------------------------------------------------


@dataclass
class MailsimRun:
    """Wall times (s) of one mailsim run and what it produced."""

    build_s: float
    run_s: float  # World.run in all (delivery phase and retrieval batch)
    delivery_s: float  # the part of run_s before the retrieval batch (all of it with --retrieval)
    delivery_cpu_s: float  # the same in CPU time of this process (steadier on a busy machine)
    tables_s: float
    summary_s: float
    save_s: float
    gc_s: float  # time in the cyclic garbage collector during build and run
    messages: int  # mail messages created
    delivered_messages: int  # mail messages with at least one recipient delivered
    delivered_pairs: int
    bounced_pairs: int
    pending_pairs: int
    retrievals: int
    events: int
    end_time_s: float
    rss_kib: dict[str, int] = field(default_factory=dict)  # RSS marks in KiB (subprocess only)

    @property
    def batch_s(self) -> float:
        return self.run_s - self.delivery_s


@dataclass
class Mm1Run:
    """Wall time (s) of one M/M/1 run and its sanity check against theory."""

    run_s: float
    run_cpu_s: float
    customers: int
    mean_sojourn_s: float
    rss_kib: dict[str, int] = field(default_factory=dict)

    @property
    def customers_per_s(self) -> float:
        return self.customers / self.run_s


class GcTimer:
    """Adds up the wall time spent in the cyclic garbage collector while installed."""

    def __init__(self) -> None:
        self.total_s = 0.0
        self._started = 0.0

    def __enter__(self) -> GcTimer:
        gc.callbacks.append(self._callback)
        return self

    def __exit__(self, *exc: object) -> None:
        gc.callbacks.remove(self._callback)

    def _callback(self, phase: str, _info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.total_s += time.perf_counter() - self._started


def max_rss_kib() -> int:
    """Peak resident set size of this process so far (``ru_maxrss``; Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _proc_status_kib(key: str) -> int | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except (OSError, IndexError, ValueError):
        pass
    return None


def current_rss_kib() -> int:
    """Resident set size now (Linux ``/proc``; the peak so far elsewhere)."""
    now = _proc_status_kib("VmRSS")
    return max_rss_kib() if now is None else now


def reset_peak_rss() -> None:
    """Start a new high-water mark (Linux: ``clear_refs`` 5), so imports do not mask the run's peak."""
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")


def peak_rss_kib() -> int:
    """The high-water mark since :func:`reset_peak_rss` (``VmHWM``), else ``ru_maxrss``."""
    peak = _proc_status_kib("VmHWM")
    return max_rss_kib() if peak is None else peak


def rss_baseline() -> dict[str, int]:
    reset_peak_rss()
    return {"baseline": current_rss_kib()}


class PhaseClock:
    """The wall and CPU time when the simulated clock reaches ``split_at_s``, which ends the
    delivery phase: a timer in the world's event queue that nothing waits for, so it changes no
    result."""

    def __init__(self, world: World, split_at_s: float) -> None:
        self.wall_s = self.cpu_s = math.nan
        world.env.timeout(split_at_s).callbacks.append(self._mark)

    def _mark(self, _event: simpy.Event) -> None:
        self.wall_s, self.cpu_s = time.perf_counter(), time.process_time()


def run_mailsim(text: str, split_at_s: float | None = None, rss: bool = False) -> MailsimRun:
    """Build, run and derive/write (no plots) the scenario in ``text``, timing each phase.

    With ``split_at_s``, the delivery phase ends when the simulated clock reaches that time
    (see :class:`PhaseClock`); nothing happens in the quiet days before the retrieval batch.
    """
    scenario = load_scenario(text, max_messages=10**12)  # --messages sizes the traffic; no default limit
    gc.collect()
    marks = rss_baseline() if rss else {}
    with GcTimer() as gc_timer:
        t0 = time.perf_counter()
        world = World(scenario)
        t1, c1 = time.perf_counter(), time.process_time()
        clock = PhaseClock(world, split_at_s) if split_at_s is not None else None
        end_s = world.run()
        t2, c2 = time.perf_counter(), time.process_time()
    t_split, c_split = (clock.wall_s, clock.cpu_s) if clock is not None and not math.isnan(clock.wall_s) else (t2, c2)
    if rss:
        marks["after_run"] = peak_rss_kib()
    result = Result.of_world(world, end_s)
    tables = result.tables
    t3 = time.perf_counter()
    summary = result.summary
    t4 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="mailsim-bench-") as folder:
        result.save(folder, with_plots=False)
    t5 = time.perf_counter()
    if rss:
        marks["after_results"] = peak_rss_kib()
        marks["ru_maxrss"] = max_rss_kib()
    mail = [row for row in tables.deliveries if row["kind"] == "mail"]
    delivered = {row["message_id"] for row in mail if row["status"] == "delivered"}
    counts = summary["counts"]
    return MailsimRun(
        build_s=t1 - t0, run_s=t2 - t1, delivery_s=t_split - t1, delivery_cpu_s=c_split - c1,
        tables_s=t3 - t2, summary_s=t4 - t3, save_s=t5 - t4,
        gc_s=gc_timer.total_s, messages=counts["messages"], delivered_messages=len(delivered),
        delivered_pairs=counts["delivered"], bounced_pairs=counts["bounced"], pending_pairs=counts["pending"],
        retrievals=len(tables.retrievals), events=len(result.records), end_time_s=end_s, rss_kib=marks,
    )


def mm1(customers: int, seed: int = 1) -> list[float]:
    """A bare SimPy M/M/1 queue; the sojourn time of each customer, in departure order."""
    rng = random.Random(seed)
    env = simpy.Environment()
    server = simpy.Resource(env, capacity=1)
    sojourns_s: list[float] = []

    def customer() -> Any:
        arrived_s = env.now
        with server.request() as request:
            yield request
            yield env.timeout(rng.expovariate(MM1_SERVICE_RATE_PER_S))
        sojourns_s.append(env.now - arrived_s)

    def source() -> Any:
        for _ in range(customers):
            yield env.timeout(rng.expovariate(MM1_ARRIVAL_RATE_PER_S))
            env.process(customer())

    env.process(source())
    env.run()
    return sojourns_s


def run_mm1(customers: int, rss: bool = False) -> Mm1Run:
    gc.collect()
    marks = rss_baseline() if rss else {}
    t0, c0 = time.perf_counter(), time.process_time()
    sojourns_s = mm1(customers)
    t1, c1 = time.perf_counter(), time.process_time()
    if rss:
        marks["after_run"] = peak_rss_kib()
        marks["ru_maxrss"] = max_rss_kib()
    return Mm1Run(run_s=t1 - t0, run_cpu_s=c1 - c0, customers=len(sojourns_s),
                  mean_sojourn_s=statistics.fmean(sojourns_s), rss_kib=marks)


# ---- memory: each model once in a fresh interpreter ---------------------------------------------


def split_at_s(args: argparse.Namespace) -> float | None:
    """Where the delivery phase ends: before the POP3 batch, or nowhere with IMAP IDLE."""
    return None if args.retrieval else BATCH_POLL_AT_S


def measure_in_subprocess(model: str, args: argparse.Namespace) -> dict[str, Any]:
    """Run one model in a fresh interpreter (``--worker``) and return what it reported."""
    argv = [sys.executable, str(Path(__file__).resolve()), "--worker", model, "--messages", str(args.messages)]
    if args.retrieval:
        argv.append("--retrieval")
    if args.outages:
        argv.append("--outages")
    if args.capacity:
        argv.append("--capacity")
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"the {model} worker failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def worker(model: str, args: argparse.Namespace, out: TextIO) -> None:
    """The subprocess side: one run with RSS marks, reported as one JSON line."""
    if model == "mailsim":
        text = scenario_text(args.messages, args.retrieval, args.outages, capacity=args.capacity)
        report: dict[str, Any] = asdict(run_mailsim(text, split_at_s(args), rss=True))
    else:
        report = asdict(run_mm1(args.messages, rss=True))
    out.write(json.dumps(report) + "\n")


# ---- the whole command -------------------------------------------------------------------------


def measure_whole_run(messages: int, args: argparse.Namespace) -> WholeRun:
    """The whole ``mailsim run`` of the benchmark scenario for ``messages``, default outputs."""
    with tempfile.TemporaryDirectory(prefix="mailsim-bench-") as folder:
        path = Path(folder) / "bench.yaml"
        path.write_text(scenario_text(messages, args.retrieval, args.outages, capacity=args.capacity))
        return measure(path, ["--max-messages", str(10**12)])


def whole_run_report(whole: WholeRun, mm1: Mm1Run, loop_ratio: float, out: TextIO) -> float:
    """Print the whole command's time split, ratio and peak memory; return its ratio. ``mm1`` is
    an M/M/1 run timed right after the command."""
    ratio = whole.pairs_per_s() / mm1.customers_per_s
    cpu_ratio = whole.pairs_per_cpu_s() / (mm1.customers / mm1.run_cpu_s)
    out.write(f"\nwhole `mailsim run` (default outputs: CSVs, summary, {len(whole.plots_s)} plots; a fresh process)\n")
    rows = [(PHASE_LABELS[name], seconds(whole.phases_s[name], whole.wall_s)) for name in PHASE_LABELS]
    rows += [(f"  plot {name}", seconds(s, whole.wall_s)) for name, s in whole.plots_s.items()]
    rows += [("total (start to exit)", f"{whole.wall_s:8.2f} s   (CPU {whole.cpu_s:.2f} s)")]
    table(rows, out)
    table([
        ("delivered (message, rcpt) pairs / s of the whole command", f"{whole.pairs_per_s():10,.0f}"),
        ("peak RSS of the whole command (VmHWM; ru_maxrss)",
         f"{mib(whole.peak_rss_kib)}   ({whole.ru_maxrss_kib / KIB_BYTES:.1f} MiB)"),
        ("event-loop ratio (above)", f"{loop_ratio:10.3f}"),
        ("whole-run ratio (pairs / s of the command over M/M/1 customers / s)", f"{ratio:10.3f}"),
        ("whole-run ratio by CPU time instead of wall", f"{cpu_ratio:10.3f}"),
    ], out)
    return ratio


def scale_counts(text: str) -> list[int]:
    try:
        counts = [int(part.replace("_", "")) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a list of whole numbers like 10000,100000") from None
    if not counts or min(counts) < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: message counts must be at least 1")
    return counts


def scale_report(args: argparse.Namespace, out: TextIO) -> None:
    """For each message count: event-loop ratio, whole-run wall time, ratio and peak RSS, and where the
    whole command's time went. The whole runs go first, while this process is small (a child started
    later would inherit this process's high-water mark in ``ru_maxrss``)."""
    wholes: dict[int, tuple[WholeRun, Mm1Run]] = {}
    for n in args.scale:  # each command, then M/M/1 at once, so both see the same load of the machine
        wholes[n] = (measure_whole_run(n, args), run_mm1(n))
    rows = []
    for n, (whole, after) in wholes.items():
        loop = run_mailsim(scenario_text(n, args.retrieval, args.outages, capacity=args.capacity), split_at_s(args))
        mm1_run = run_mm1(n)
        loop_ratios = ((loop.delivered_messages / loop.delivery_s) / mm1_run.customers_per_s,
                       (loop.delivered_messages / loop.delivery_cpu_s) / (mm1_run.customers / mm1_run.run_cpu_s))
        whole_ratios = (whole.pairs_per_s() / after.customers_per_s,
                        whole.pairs_per_cpu_s() / (after.customers / after.run_cpu_s))
        rows.append((n, loop.messages, whole, loop_ratios, whole_ratios))
    out.write(f"scale: retrieval {'IMAP IDLE' if args.retrieval else 'POP3 batch'}; "
              f"outages: {'random' if args.outages else 'none'}; "
              f"capacity features: {'on' if args.capacity else 'off'}; mailsim: {buildinfo.describe()}; "
              "one run of each; ratios by wall (CPU) time\n\n")
    out.write("| messages asked | created | event-loop ratio | whole-run wall (CPU) | whole-run ratio | peak RSS |\n")
    out.write("|---:|---:|---:|---:|---:|---:|\n")
    for n, created, whole, (loop_wall, loop_cpu), (whole_wall, whole_cpu) in rows:
        out.write(f"| {n:,} | {created:,} | {loop_wall:.3f} ({loop_cpu:.3f}) | {whole.wall_s:.1f} s "
                  f"({whole.cpu_s:.1f} s) | {whole_wall:.3f} ({whole_cpu:.3f}) | "
                  f"{whole.peak_rss_kib / KIB_BYTES:,.0f} MiB |\n")
    out.write("\nwhere the whole command's time went (share of its wall time)\n\n")
    out.write("| phase | " + " | ".join(f"{n:,}" for n in wholes) + " |\n")
    out.write("|---|" + "---:|" * len(wholes) + "\n")
    for name, label in PHASE_LABELS.items():
        out.write(f"| {label} | " + " | ".join(f"{100 * w.phases_s[name] / w.wall_s:.1f} %"
                                               for w, _ in wholes.values()) + " |\n")
    for plot in next(iter(wholes.values()))[0].plots_s:
        out.write(f"| plot {plot} | " + " | ".join(f"{100 * w.plots_s.get(plot, 0.0) / w.wall_s:.1f} %"
                                                  for w, _ in wholes.values()) + " |\n")


# ---- profiling ----------------------------------------------------------------------------------


def profile_mailsim(text: str, path: Path) -> None:
    """cProfile one mailsim run (build, run, results without plots).

    Writes the top 25 functions by cumulative and by own time to ``path``, and the raw
    statistics next to it (``.prof``, for pstats or snakeviz).
    """
    profiler = cProfile.Profile()
    profiler.enable()
    run_mailsim(text)
    profiler.disable()
    buffer = io.StringIO()
    for order in ("cumulative", "tottime"):
        buffer.write(f"==== top 25 by {order} ====\n")
        pstats.Stats(profiler, stream=buffer).sort_stats(order).print_stats(25)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(buffer.getvalue())
    profiler.dump_stats(path.with_suffix(".prof"))


# ---- report -------------------------------------------------------------------------------------


def pick(values: Sequence[float], stat: str) -> float:
    return min(values) if stat == "best" else statistics.median(values)


def table(rows: Sequence[tuple[str, str]], out: TextIO) -> None:
    width = max(len(label) for label, _ in rows)
    for label, value in rows:
        out.write(f"  {label:<{width}}  {value}\n")


def seconds(part_s: float, total_s: float) -> str:
    return f"{part_s:8.2f} s  {100 * part_s / total_s:5.1f} %"


def mib(kib: int) -> str:
    return f"{kib / KIB_BYTES:8.1f} MiB"


def growth(peak_kib: int, baseline_kib: int, items: int) -> str:
    """A peak, and how much it rose over the baseline in total and per message/customer."""
    rise_kib = peak_kib - baseline_kib
    return f"{mib(peak_kib)}   (+{rise_kib / KIB_BYTES:.1f} MiB, {KIB_BYTES * rise_kib / max(items, 1):,.0f} B each)"


def ratios(runs: list[MailsimRun], mm1_runs: list[Mm1Run], stat: str) -> tuple[float, float]:
    """The event-loop ratio of these runs against these M/M/1 runs: by wall time, and by CPU time."""
    delivered, customers = runs[0].delivered_messages, mm1_runs[0].customers
    wall = (delivered / pick([r.delivery_s for r in runs], stat)) / (
        customers / pick([r.run_s for r in mm1_runs], stat))
    cpu = (delivered / pick([r.delivery_cpu_s for r in runs], stat)) / (
        customers / pick([r.run_cpu_s for r in mm1_runs], stat))
    return wall, cpu


def comparison_report(runs: list[MailsimRun], default_runs: list[MailsimRun], mm1_runs: list[Mm1Run],
                      args: argparse.Namespace, out: TextIO) -> None:
    """The ``--capacity`` variant beside the default scenario, both against the same M/M/1 runs."""
    out.write(f"\n--capacity beside the default scenario (same run, {args.stat} of {args.repeat} each, "
              "against the same M/M/1 runs)\n")
    out.write(f"  {'scenario':<11} {'created':>9} {'delivered':>10} {'pairs':>9} {'events':>10} "
              f"{'phase wall s':>13} {'ratio (wall)':>13} {'ratio (CPU)':>12}\n")
    measured = []
    for label, variant in (("default", default_runs), ("--capacity", runs)):
        wall, cpu = ratios(variant, mm1_runs, args.stat)
        measured.append((wall, cpu))
        v, phase_s = variant[0], pick([r.delivery_s for r in variant], args.stat)
        out.write(f"  {label:<11} {v.messages:>9,} {v.delivered_messages:>10,} {v.delivered_pairs:>9,} "
                  f"{v.events:>10,} {phase_s:>13.2f} {wall:>13.3f} {cpu:>12.3f}\n")
    if len(runs) > 1:  # each repeat against the M/M/1 run timed right after it
        for label, variant in (("default", default_runs), ("--capacity", runs)):
            each = [ratios([r], [q], args.stat) for r, q in zip(variant, mm1_runs, strict=True)]
            out.write(f"  {label} run by run, wall (CPU): " + ", ".join(f"{w:.3f} ({c:.3f})" for w, c in each) + "\n")
    (default_wall, default_cpu), (wall, cpu) = measured
    out.write(f"  --capacity / default: {wall / default_wall:.2f} by wall time, {cpu / default_cpu:.2f} by CPU time "
              "(issue 14 asks for at least 0.80: within 20 %)\n")


def report(runs: list[MailsimRun], mm1_runs: list[Mm1Run], args: argparse.Namespace,
           memory: dict[str, dict[str, Any]] | None, out: TextIO,
           whole: tuple[WholeRun, Mm1Run] | None = None, default_runs: list[MailsimRun] | None = None) -> float:
    """Print the tables (the whole command's too, if measured, and ``--capacity`` beside the default
    scenario when ``default_runs`` are given); return the event-loop ratio."""
    m, q = runs[0], mm1_runs[0]
    t = {name: pick([getattr(r, name) for r in runs], args.stat)
         for name in ("build_s", "run_s", "delivery_s", "batch_s", "tables_s", "summary_s", "save_s", "gc_s")}
    mm1_s = pick([r.run_s for r in mm1_runs], args.stat)
    ratio, cpu_ratio = ratios(runs, mm1_runs, args.stat)
    results_s = t["tables_s"] + t["summary_s"] + t["save_s"]
    total_s = t["build_s"] + t["run_s"] + results_s
    mail_rate = m.delivered_messages / t["delivery_s"]
    mm1_rate = q.customers / mm1_s
    theory_s = 1.0 / (MM1_SERVICE_RATE_PER_S - MM1_ARRIVAL_RATE_PER_S)
    reading = ("IMAP IDLE, each message fetched on arrival" if args.retrieval
               else "one POP3 poll per user, spread over day 8")

    features = ("daily curve, server workers, team lists" if args.capacity else "none")
    out.write(f"scenario: about {args.messages:,} messages, 10 domains, 1,000 users; retrieval: {reading}; "
              f"outages: {'random' if args.outages else 'none'}; capacity features: {features}\n")
    out.write(f"timings: {args.stat} of {args.repeat} run(s) of each model; mailsim: {buildinfo.describe()}\n")
    out.write("\nmailsim run\n")
    table([
        ("mail messages created", f"{m.messages:>10,}"),
        ("messages delivered (>=1 rcpt)", f"{m.delivered_messages:>10,}"),
        ("(message, rcpt) delivered", f"{m.delivered_pairs:>10,}"),
        ("(message, rcpt) bounced / pending", f"{m.bounced_pairs:>10,} / {m.pending_pairs:,}"),
        ("retrievals", f"{m.retrievals:>10,}"),
        ("events logged", f"{m.events:>10,}  ({m.events / max(m.messages, 1):.1f} per message)"),
        ("simulated end", f"{m.end_time_s / DAY_S:>10.2f} d"),
    ], out)
    out.write("\ntime split (wall)\n")
    rows = [("build World", seconds(t["build_s"], total_s)),
            ("simulate: World.run", seconds(t["run_s"], total_s) + f"  (of which gc {t['gc_s']:.2f} s)")]
    if not args.retrieval:
        rows += [("  delivery phase (to 7 d)", seconds(t["delivery_s"], total_s)),
                 ("  POP3 retrieval batch", seconds(t["batch_s"], total_s))]
    rows += [
        ("results: tables (derive)", seconds(t["tables_s"], total_s)),
        ("results: summary", seconds(t["summary_s"], total_s)),
        ("results: save (no plots)", seconds(t["save_s"], total_s)),
        ("total", f"{total_s:8.2f} s"),
    ]
    table(rows, out)
    if len(runs) > 1:
        out.write("  World.run of each run: " + ", ".join(f"{r.run_s:.2f}" for r in runs) + " s; "
                  "M/M/1: " + ", ".join(f"{r.run_s:.2f}" for r in mm1_runs) + " s\n")
    out.write("\nthroughput\n")
    phase = "World.run" if args.retrieval else "delivery phase"
    table([
        (f"mailsim delivered messages / s ({phase})", f"{mail_rate:10,.0f}"),
        ("M/M/1 customers / s", f"{mm1_rate:10,.0f}   ({q.customers:,} customers in {mm1_s:.2f} s)"),
        ("M/M/1 mean sojourn (theory)", f"{q.mean_sojourn_s:10.2f}   ({theory_s:.2f}) s"),
        ("ratio by CPU time instead of wall", f"{cpu_ratio:10.2f}   (steadier when other processes load the machine)"),
        ("mailsim events logged / s of World.run", f"{m.events / t['run_s']:10,.0f}"),
        ("mailsim messages / s, build to saved", f"{m.delivered_messages / total_s:10,.0f}"),
    ], out)
    if memory is not None:
        ms, mm = memory["mailsim"]["rss_kib"], memory["mm1"]["rss_kib"]
        out.write("\npeak memory (each model once in a fresh subprocess; + is the rise over RSS before the run)\n")
        table([
            ("mailsim: RSS after imports + scenario", mib(ms["baseline"])),
            ("mailsim: peak in build + World.run", growth(ms["after_run"], ms["baseline"], m.messages)),
            ("mailsim: peak incl. results", growth(ms["after_results"], ms["baseline"], m.messages)),
            ("mailsim: process ru_maxrss", mib(ms["ru_maxrss"])),
            ("M/M/1: RSS after imports", mib(mm["baseline"])),
            ("M/M/1: peak in run", growth(mm["after_run"], mm["baseline"], q.customers)),
            ("M/M/1: process ru_maxrss", mib(mm["ru_maxrss"])),
        ], out)
    if whole is not None:
        whole_run_report(*whole, ratio, out)
    if default_runs:
        comparison_report(runs, default_runs, mm1_runs, args, out)
    verdict = "meets the 0.3 floor" if ratio >= 0.3 else "BELOW the 0.3 floor"
    out.write(f"\nratio = mailsim delivered messages per wall second / M/M/1 customers per wall second "
              f"({verdict}; aim 1.0)\n")
    out.write(f"ratio: {ratio:.2f}\n")
    return ratio


# ---- command line -------------------------------------------------------------------------------


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--messages", type=int, default=DEFAULT_MESSAGES,
                        help="scale the traffic rates to create about N messages (default %(default)s)")
    parser.add_argument("--repeat", type=int, default=1, help="timed runs of each model (default 1)")
    parser.add_argument("--stat", choices=("best", "median"), default="best",
                        help="which of the repeated timings to report (default best)")
    parser.add_argument("--retrieval", action="store_true",
                        help="every user reads with IMAP IDLE, fetching each message as it arrives "
                             "(default: one POP3 poll per user, spread over day 8, timed apart)")
    parser.add_argument("--outages", action="store_true", help="add random server and backbone outages")
    parser.add_argument("--capacity", action="store_true",
                        help="a daily curve on every traffic entry, workers on every server and team lists with "
                             "a share of the messages posted to them; the default scenario is timed beside it")
    parser.add_argument("--no-memory", action="store_true", help="skip the peak-memory subprocesses")
    parser.add_argument("--profile", nargs="?", const="benchmarks/profile.txt", metavar="FILE",
                        help="also cProfile one mailsim run; top 25 by cumulative and by own time to FILE "
                             "(default %(const)s), raw stats to FILE with suffix .prof")
    parser.add_argument("--no-whole-run", action="store_true",
                        help="skip the whole `mailsim run` command (a subprocess with default outputs)")
    parser.add_argument("--scale", nargs="?", const=[10_000, 100_000], type=scale_counts, metavar="N,N,...",
                        help="only the scale table: for each message count (default 10000,100000) the event-loop "
                             "ratio and the whole command's wall time, ratio, peak RSS and time split")
    parser.add_argument("--emit-scenario", action="store_true", help="print the scenario YAML and exit")
    parser.add_argument("--worker", choices=("mailsim", "mm1"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.messages < 1 or args.repeat < 1:
        parser.error("--messages and --repeat must be at least 1")
    return args


def main(argv: Sequence[str] | None = None, out: TextIO = sys.stdout) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    text = scenario_text(args.messages, args.retrieval, args.outages, capacity=args.capacity)
    if args.emit_scenario:
        out.write(text)
        return 0
    if args.worker:
        worker(args.worker, args, out)
        return 0
    if args.scale:
        scale_report(args, out)
        return 0
    # Memory first: a child forked from a parent that has grown inherits its high-water mark.
    memory = None if args.no_memory else {model: measure_in_subprocess(model, args) for model in ("mailsim", "mm1")}
    whole = None if args.no_whole_run else (measure_whole_run(args.messages, args), run_mm1(args.messages))
    runs: list[MailsimRun] = []
    mm1_runs: list[Mm1Run] = []
    default_runs: list[MailsimRun] = []  # --capacity: the default scenario, timed beside it
    default_text = scenario_text(args.messages, args.retrieval, args.outages) if args.capacity else None
    for _ in range(args.repeat):  # interleaved, so a slow spell of the machine hits every model
        runs.append(run_mailsim(text, split_at_s(args)))
        if default_text is not None:
            default_runs.append(run_mailsim(default_text, split_at_s(args)))
        mm1_runs.append(run_mm1(args.messages))
    if args.profile:
        profile_mailsim(text, Path(args.profile))
        out.write(f"profile written to {args.profile}\n\n")
    ratio = report(runs, mm1_runs, args, memory, out, whole, default_runs)
    return 0 if math.isfinite(ratio) else 1


if __name__ == "__main__":
    sys.exit(main())
