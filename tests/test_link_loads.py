"""links.csv: the bits each link carries per time bin and direction, counted by the network.

Exact arithmetic on small networks (one transfer across a bin edge, two sharing a link in opposite
directions, an unlimited path, a cancel), the bins' growth rule, and the network's count against a
plain processor-sharing reference on randomized transfers, bin by bin.
"""

from __future__ import annotations

import itertools
import math
import random
from types import SimpleNamespace
from typing import Any

import pytest
import simpy
from test_network_reference import NODES, Transfer, random_case, reference_done_times

from simulator import loads
from simulator.binning import LADDER_S, MAX_BINS, Bins, bin_count, default_width_s
from simulator.network import Network


def spec(a: str, b: str, bandwidth_bps: float | None, latency_s: float = 0.0) -> SimpleNamespace:
    return SimpleNamespace(a=a, b=b, latency_s=latency_s, bandwidth_bps=bandwidth_bps)


def link_table(net: Network, end_s: float) -> dict[tuple[str, float], dict[str, Any]]:
    """links.csv's rows by (direction, bin start)."""
    rows = loads.from_run(net, {}, end_s).links
    return {(r["direction"], r["time"]): r for r in rows}


def test_one_transfer_split_across_a_bin_edge() -> None:
    """1000 bytes over 8000 bit/s from 0.5 s: 0.5 s in bin 0 and 0.5 s in bin 1, 500 bytes each."""
    env = simpy.Environment()
    net = Network(env, [spec("a", "b", 8000.0)], Bins(1.0))
    env.run(until=0.25)
    net.transfer(net.path("a", "b"), 1000, start_in_s=0.25)
    env.run(until=3.0)
    table = link_table(net, 3.0)
    assert len(table) == 6  # 3 bins, 2 directions
    assert table[("a->b", 0.0)] | {} == {"time": 0.0, "duration_s": 1.0, "link": "a--b", "direction": "a->b",
                                         "bytes": 500.0, "throughput_bps": 4000.0, "utilisation": 0.5}
    assert table[("a->b", 1.0)]["bytes"] == 500.0
    assert table[("a->b", 2.0)]["bytes"] == 0.0
    assert all(table[("b->a", t)]["bytes"] == 0.0 for t in (0.0, 1.0, 2.0))


def test_two_transfers_share_the_link_in_opposite_directions() -> None:
    """x (1000 bytes a->b) alone from 0 to 0.5 s at 8000 bit/s, then x and y (500 bytes b->a) at
    4000 bit/s each until both end at 1.5 s. The run ends at 1.5 s: its last bin is 0.5 s long."""
    env = simpy.Environment()
    net = Network(env, [spec("a", "b", 8000.0)], Bins(1.0))
    x = net.transfer(net.path("a", "b"), 1000)
    env.run(until=0.5)
    y = net.transfer(net.path("b", "a"), 500)
    env.run()
    assert env.now == 1.5 and x.finished and y.finished
    table = link_table(net, env.now)
    assert len(table) == 4
    # bin 0: x 4000 + 2000 bits, y 2000 bits; bin 1 (0.5 s): 2000 bits each
    assert table[("a->b", 0.0)]["bytes"] == 750.0 and table[("b->a", 0.0)]["bytes"] == 250.0
    assert table[("a->b", 0.0)]["utilisation"] + table[("b->a", 0.0)]["utilisation"] == 1.0
    last = table[("a->b", 1.0)]
    assert (last["duration_s"], last["bytes"], last["throughput_bps"], last["utilisation"]) == (0.5, 250.0, 4000.0, 0.5)
    assert table[("b->a", 1.0)]["bytes"] == 250.0


def test_every_link_of_the_path_carries_the_bits_at_the_bottleneck_rate() -> None:
    """a -unlimited- b -8000 bit/s- c: the bits cross both links over the same 2 s; the unlimited
    link has throughput but no utilisation."""
    env = simpy.Environment()
    net = Network(env, [spec("a", "b", None), spec("b", "c", 8000.0)], Bins(1.0))
    net.transfer(net.path("c", "a"), 2000)
    env.run()
    rows = loads.from_run(net, {}, env.now).links
    carried = {(r["link"], r["direction"], r["time"]): (r["bytes"], r["utilisation"]) for r in rows}
    assert carried[("a--b", "b->a", 0.0)] == (1000.0, None)
    assert carried[("b--c", "c->b", 1.0)] == (1000.0, 1.0)
    assert carried[("a--b", "a->b", 1.0)] == (0.0, None)


def test_a_path_without_limits_carries_its_bits_at_their_start() -> None:
    env = simpy.Environment()
    net = Network(env, [spec("a", "b", None)], Bins(10.0))
    net.transfer(net.path("a", "b"), 300, start_in_s=12.0, tail_s=1.0)
    net.transfer(net.path("b", "a"), 100)  # no wait at all: counted now
    env.run()
    table = link_table(net, 20.0)
    assert table[("a->b", 0.0)]["bytes"] == 0.0 and table[("a->b", 10.0)]["bytes"] == 300.0
    assert table[("b->a", 0.0)]["bytes"] == 100.0


def test_a_cancelled_transfer_counts_the_bits_it_moved() -> None:
    """Alone at 8000 bit/s and cancelled at 1.25 s, a transfer has moved 10,000 bits."""
    env = simpy.Environment()
    net = Network(env, [spec("a", "b", 8000.0)], Bins(1.0))
    x = net.transfer(net.path("a", "b"), 10_000)
    env.timeout(1.25).callbacks.append(lambda _e: net.cancel(x))
    env.run()
    table = link_table(net, 2.0)
    assert table[("a->b", 0.0)]["bytes"] == 1000.0 and table[("a->b", 1.0)]["bytes"] == 250.0


def test_a_transfer_cancelled_while_sharing_counts_its_share() -> None:
    """x (8000 bits) alone from 0 (4000 bits by 0.5 s), then x and y (8000 bits) at 4000 bit/s each;
    x cancelled at 1.25 s (7000 bits moved), y alone again with 5000 bits left, until 1.875 s."""
    env = simpy.Environment()
    net = Network(env, [spec("a", "b", 8000.0)], Bins(1.0))
    x = net.transfer(net.path("a", "b"), 1000)
    env.timeout(0.5).callbacks.append(lambda _e: net.transfer(net.path("a", "b"), 1000))
    env.timeout(1.25).callbacks.append(lambda _e: net.cancel(x))
    env.run()
    assert env.now == 1.875
    rows = [r for r in loads.from_run(net, {}, env.now).links if r["direction"] == "a->b"]
    assert [(r["duration_s"], r["bytes"], r["utilisation"]) for r in rows] == [(1.0, 1000.0, 1.0),
                                                                               (0.875, 875.0, 1.0)]


def test_the_default_width_is_the_smallest_rung_that_fits_the_run() -> None:
    assert default_width_s(0.0) == 1.0
    assert default_width_s(299.0) == 1.0
    assert default_width_s(300.0) == 2.0
    assert default_width_s(86_400.0) == 300.0  # a day in 288 bins of 5 min
    assert default_width_s(7 * 86_400.0) == 3600.0  # a week in 168 hours
    assert default_width_s(1000 * 86_400.0) == 4 * 86_400.0  # beyond the ladder, doubling days
    assert all(b % a == 0 for a, b in itertools.pairwise(LADDER_S))  # each rung merges the one below exactly
    for end_s in (5.0, 3599.0, 86_400.0, 5e6):
        assert bin_count(end_s, default_width_s(end_s)) <= MAX_BINS


def test_growing_bins_merge_exactly() -> None:
    """A series filled while the width grows equals the same amounts binned at the final width."""
    rng = random.Random(7)
    growing = Bins()
    grown = growing.sums()
    level = growing.levels()
    spans = sorted((rng.uniform(0, 90_000), rng.uniform(0, 500), rng.uniform(1, 1e6)) for _ in range(400))
    open_at: list[float] = []
    for start, length, bits in spans:
        grown.spread(start, start + length, bits)
        level.change(start, 1)
        open_at.append(start + length)
    assert growing.width_s == default_width_s(max(s + n for s, n, _ in spans))
    fixed = Bins(growing.width_s)
    direct = fixed.sums()
    for start, length, bits in spans:
        direct.spread(start, start + length, bits)
    count = bin_count(90_500.0, growing.width_s)
    assert grown.finish(count) == pytest.approx(direct.finish(count), rel=1e-12, abs=1e-6)
    assert sum(grown.finish(count)) == pytest.approx(sum(b for _, _, b in spans), rel=1e-12)
    maxima = level.finish(count)
    assert maxima == sorted(maxima) and maxima[-1] == len(spans)  # only openings: the level only rises


def test_a_bin_width_must_be_positive() -> None:
    for bad in (0.0, -1.0, float("inf"), float("nan")):
        with pytest.raises(ValueError, match="positive"):
            Bins(bad)


# ---- against the reference ---------------------------------------------------------------------


def reference_bits(transfers: list[Transfer], bandwidth_bps: dict[str, float], bin_s: float,
                   end_s: float) -> dict[tuple[str, int], float]:
    """Bits per (link, bin) by the plain processor-sharing reference, every link of each
    transfer's path counted (all transfers go from a lower to a higher node: one direction)."""
    carried: dict[tuple[str, int], float] = {}
    last = bin_count(end_s, bin_s) - 1

    def path(t: Transfer) -> list[str]:
        i_a, i_b = NODES.index(t.ends[0]), NODES.index(t.ends[1])
        return [f"{a}--{b}" for a, b in itertools.pairwise(NODES[i_a:i_b + 1])]

    def add(t: Transfer, start: float, stop: float, bits: float) -> None:
        shares = {min(int(start // bin_s), last): bits} if stop <= start else {}
        k = int(start // bin_s)
        while stop > start and k * bin_s < stop:
            part = bits * (min(stop, (k + 1) * bin_s) - max(start, k * bin_s)) / (stop - start)
            shares[min(k, last)] = shares.get(min(k, last), 0.0) + part
            k += 1
        for link in path(t):
            for k, part in shares.items():
                carried[(link, k)] = carried.get((link, k), 0.0) + part

    reference_done_times(transfers, bandwidth_bps, add)
    return carried


def network_bits(specs: list[Any], transfers: list[Transfer], bin_s: float) -> tuple[Network, float]:
    env = simpy.Environment()
    net = Network(env, specs, Bins(bin_s))
    done: set[str] = set()

    def start(t: Transfer) -> None:
        flow = net.transfer(net.path(*t.ends), int(t.bits / 8), t.lead_in_s, t.tail_s)
        flow.then(lambda _e: done.add(t.name))
        if t.cancel_s is not None:
            env.timeout(t.cancel_s - env.now).callbacks.append(
                lambda _e: None if t.name in done else net.cancel(flow))

    for t in transfers:
        env.timeout(t.created_s).callbacks.append(lambda _e, t=t: start(t))
    env.run()
    return net, env.now


@pytest.mark.parametrize("seed", range(120))
def test_the_network_counts_the_bits_the_reference_moves(seed: int) -> None:
    rng = random.Random(seed)
    specs, transfers, bandwidth = random_case(rng)
    bin_s = rng.choice([0.1, 0.25, 1.0])
    net, end_s = network_bits(specs, transfers, bin_s)
    end_s = max(end_s, max(t.created_s for t in transfers) + 3.0)  # past every cancel
    expected = reference_bits(transfers, bandwidth, bin_s, end_s)
    rows = loads.from_run(net, {}, end_s).links
    assert len(rows) == 2 * len(specs) * bin_count(end_s, bin_s)
    for r in rows:
        k = round(r["time"] / bin_s)
        want = expected.get((r["link"], k), 0.0) / 8 if r["direction"] == r["link"].replace("--", "->") else 0.0
        assert r["bytes"] == pytest.approx(want, rel=1e-9, abs=1e-6), (r["link"], r["direction"], k)


def test_a_backward_transfer_counts_from_the_last_node_to_the_first() -> None:
    """A fetch runs over the device's path to the server, but the body comes back: b->a."""
    env = simpy.Environment()
    net = Network(env, [spec("a", "b", 8000.0)], Bins(1.0))
    net.transfer(net.path("a", "b"), 1000, backward=True)
    env.run()
    table = link_table(net, 1.0)
    assert (table[("b->a", 0.0)]["bytes"], table[("a->b", 0.0)]["bytes"]) == (1000.0, 0.0)


def test_a_run_quiet_at_its_end_still_gets_the_default_width() -> None:
    """The last transfer ends at 1 s but the run at 10,000 s: bins of 60 s (30 s would need 334)."""
    env = simpy.Environment()
    net = Network(env, [spec("a", "b", 8000.0)])
    net.transfer(net.path("a", "b"), 1000)
    env.run()
    run = loads.from_run(net, {}, 10_000.0)
    assert run.bin_s == default_width_s(10_000.0) == 60.0
    assert len(run.links) == 2 * bin_count(10_000.0, 60.0) == 2 * 167
    assert run.links[0]["bytes"] == 1000.0


def test_a_level_series_keeps_each_bins_maximum() -> None:
    """Opened at 0.5 and 1.2, one closed at 1.5 and the other at 4.5: maxima 1, 2, 1, 1, 1."""
    bins = Bins(1.0)
    level = bins.levels()
    level.change(0.5, 1)
    level.change(1.2, 1)
    level.close(1.5)
    level.close(4.5)
    assert level.finish(6) == [1, 2, 1, 1, 1, 0]
    assert level.level == 0


def test_the_bin_a_time_falls_in_is_its_floor_division_whatever_was_asked_before() -> None:
    """Bins remembers the last bin looked up; every answer is still ``int(time // width)``, for
    whole and fractional widths, times on and next to bin edges, in any order."""
    rng = random.Random(11)
    for width_s in (1.0, 30.0, 300.0, 0.1, 0.3, 2.5e-3):
        bins = Bins(width_s)
        edges = [k * width_s for k in range(1, 40)]
        times = [t for e in edges for t in (e, math.nextafter(e, 0.0), math.nextafter(e, math.inf))]
        times += [rng.uniform(0.0, 40 * width_s) for _ in range(300)]
        rng.shuffle(times)
        for t in times + sorted(times):
            assert bins.index(t) == int(t // width_s), (width_s, t)


def test_a_spread_within_the_remembered_bin_lands_where_floor_division_puts_it() -> None:
    """Spreads of short intervals (most of them within the bin last looked up) sum per bin as
    amounts placed by ``//`` do, also in a series that had no bin that far yet."""
    rng = random.Random(3)
    bins = Bins(10.0)
    busy, quiet = bins.sums(), bins.sums()
    expected: dict[int, float] = {}
    t = 0.0
    for i in range(2000):
        t += rng.expovariate(2.0)
        length = rng.choice((0.0, 1e-3, 0.5))
        k = int(t // 10.0)
        if i % 50 == 0 and k == int((t + length) // 10.0):  # one bin, in a series seldom used
            quiet.spread(t, t + length, 8.0)
            expected[k] = expected.get(k, 0.0) + 8.0
        else:
            busy.spread(t, t + length, 8.0)
    assert len(expected) > 10
    assert quiet.values == [expected.get(k, 0.0) for k in range(len(quiet.values))]
    assert sum(busy.values) + sum(quiet.values) == pytest.approx(2000 * 8.0)
