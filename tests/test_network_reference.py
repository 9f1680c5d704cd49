"""The network's processor sharing against a plain reference scheduler, on randomized transfers.

The reference is written for clarity, not speed: it steps from event to event (a transfer's bits
start moving, a transfer's bits are all through, a transfer is cancelled), and between events
every moving transfer goes at the smallest, over the limited links it crosses, of the link's
bandwidth divided by the number of transfers moving on it. A transfer is done its tail after
its last bit. The network (single timers for solo transfers, twins, a heap-driven clock for
shared ones) must give the same done times for every transfer that is not cancelled.
"""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import pytest
import simpy

from simulator.network import Network

NODES = ["n0", "n1", "n2", "n3", "n4"]


@dataclass
class Transfer:
    """One transfer as the reference sees it."""

    name: str
    links: tuple[str, ...]  # the limited links it crosses
    created_s: float
    lead_in_s: float
    bits: float
    tail_s: float
    cancel_s: float | None  # absolute time it is cancelled, if it is
    ends: tuple[str, str] = ("", "")  # the nodes it goes between (for the network)


Moved = Callable[[Transfer, float, float, float], None]


def reference_done_times(transfers: list[Transfer], bandwidth_bps: dict[str, float],
                         moved: Moved | None = None) -> dict[str, float]:
    """Done time of every transfer that is not cancelled first, by plain processor sharing;
    ``moved(transfer, start_s, stop_s, bits)`` is told of the bits each transfer moves between
    two events (a transfer over no limited link moves all its bits at its start)."""
    remaining = {t.name: t.bits for t in transfers}
    moving: set[str] = set()
    done: dict[str, float] = {}
    by_name = {t.name: t for t in transfers}
    waiting = {t.name for t in transfers}  # bits not yet moving
    now = 0.0

    def rates() -> dict[str, float]:
        count: dict[str, int] = {}
        for name in moving:
            for link in by_name[name].links:
                count[link] = count.get(link, 0) + 1
        return {name: min(bandwidth_bps[link] / count[link] for link in by_name[name].links) for name in moving}

    while waiting or moving:
        rate = rates()
        candidates: list[tuple[float, int, str]] = []
        for name in waiting:
            t = by_name[name]
            candidates.append((t.created_s + t.lead_in_s, 1, name))
        for name in moving:
            candidates.append((now + remaining[name] / rate[name], 2, name))
        for name in waiting | moving:
            cancel = by_name[name].cancel_s
            if cancel is not None:
                candidates.append((cancel, 0, name))
        when, kind, name = min(candidates)
        for other in moving:
            bits = min(rate[other] * (when - now), remaining[other])
            if moved is not None:
                moved(by_name[other], now, when, bits)
            remaining[other] -= bits
        now = when
        if kind == 0:  # cancelled
            waiting.discard(name)
            moving.discard(name)
        elif kind == 1:  # its bits start moving
            waiting.discard(name)
            if by_name[name].links and by_name[name].bits > 0:
                moving.add(name)
            else:
                done[name] = now + by_name[name].tail_s
                if moved is not None and by_name[name].bits > 0:
                    moved(by_name[name], now, now, by_name[name].bits)  # no limited link: no time
        else:  # its last bit is through
            moving.discard(name)
            done[name] = now + by_name[name].tail_s
    # A cancel during the tail still abandons the transfer: it is never done.
    return {name: when for name, when in done.items()
            if by_name[name].cancel_s is None or by_name[name].cancel_s >= when}


def random_case(rng: random.Random) -> tuple[list[Any], list[Transfer], dict[str, float]]:
    """A line of five nodes, some links limited, and transfers between random pairs of nodes."""
    specs, bandwidth = [], {}
    for a, b in itertools.pairwise(NODES):
        bps = rng.choice([None, 1e6, 2e6, 8e6])
        specs.append(SimpleNamespace(a=a, b=b, latency_s=0.001, bandwidth_bps=bps))
        if bps is not None:
            bandwidth[f"{a}--{b}"] = bps
    transfers = []
    created = 0.0
    for i in range(rng.randint(1, 9)):
        i_a, i_b = sorted(rng.sample(range(len(NODES)), 2))
        links = tuple(f"{a}--{b}" for a, b in zip(NODES[i_a:i_b], NODES[i_a + 1:i_b + 1], strict=True)
                      if f"{a}--{b}" in bandwidth)
        created += rng.choice([0.0, 0.0, rng.uniform(0, 2)])  # some start together
        size_bytes = rng.choice([125_000, 125_000, rng.randint(1, 400_000)])  # some equal: twins
        lead_in = rng.choice([0.0, 0.0, rng.uniform(0, 1)])
        tail = rng.choice([0.0, rng.uniform(0, 0.5)])
        cancel = created + rng.uniform(0, 3) if rng.random() < 0.2 else None
        transfers.append(Transfer(f"t{i}", links, created, lead_in, 8.0 * size_bytes, tail, cancel,
                                  (NODES[i_a], NODES[i_b])))
    return specs, transfers, bandwidth


def network_done_times(specs: list[Any], transfers: list[Transfer]) -> dict[str, float]:
    env = simpy.Environment()
    net = Network(env, specs)
    done: dict[str, float] = {}
    cancelled: set[str] = set()  # the client ignores what a cancelled transfer's timers still fire

    def start(t: Transfer) -> None:
        flow = net.transfer(net.path(*t.ends), int(t.bits / 8), t.lead_in_s, t.tail_s)
        flow.then(lambda _e: None if t.name in cancelled else done.setdefault(t.name, env.now))
        if t.cancel_s is not None:
            def cut(_e: Any) -> None:
                if t.name not in done:
                    cancelled.add(t.name)
                    net.cancel(flow)
            env.timeout(t.cancel_s - env.now).callbacks.append(cut)

    for t in transfers:
        env.timeout(t.created_s).callbacks.append(lambda _e, t=t: start(t))
    env.run()
    return done


@pytest.mark.parametrize("seed", range(300))
def test_the_network_shares_bandwidth_as_the_reference_does(seed: int) -> None:
    rng = random.Random(seed)
    specs, transfers, bandwidth = random_case(rng)
    expected = reference_done_times(transfers, bandwidth)
    got = network_done_times(specs, transfers)
    # A transfer cancelled at the very moment it ends may count as done in one and not the other.
    ties = {t.name for t in transfers if t.cancel_s is not None
            and any(math.isclose(t.cancel_s, v, abs_tol=1e-9) for v in (expected.get(t.name, -1), got.get(t.name, -1)))}
    assert set(got) - ties == set(expected) - ties
    for name in set(expected) - ties:
        assert got[name] == pytest.approx(expected[name], rel=1e-9, abs=1e-9), name


def test_the_reference_is_processor_sharing() -> None:
    """Two equal transfers together on a 1 Mbit/s link each take twice as long; a third joining
    halfway slows both (worked by hand)."""
    bw = {"a--b": 1e6}
    pair = [Transfer("x", ("a--b",), 0.0, 0.0, 1e6, 0.0, None), Transfer("y", ("a--b",), 0.0, 0.0, 1e6, 0.0, None)]
    assert reference_done_times(pair, bw) == {"x": 2.0, "y": 2.0}
    # x alone for 0.5 s (0.5 Mbit done), then x and z share: x's last 0.5 Mbit takes 1 s.
    joined = [Transfer("x", ("a--b",), 0.0, 0.0, 1e6, 0.1, None), Transfer("z", ("a--b",), 0.5, 0.0, 1e6, 0.0, None)]
    assert reference_done_times(joined, bw) == pytest.approx({"x": 1.6, "z": 2.0})
