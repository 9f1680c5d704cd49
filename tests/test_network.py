"""The network on its own: lowest-latency routing, link/host state, processor-sharing transfers.

Expectations are worked by hand from the contract: a link's bandwidth is shared equally by the
transfers crossing it at the same moment; a transfer moves at the smallest of its links' shares;
an unlimited link takes no time; routes take the lowest total latency over links and hosts that
are up.
"""

from __future__ import annotations

from collections.abc import Generator
from types import SimpleNamespace
from typing import Any

import pytest
import simpy
from conftest import exact

from simulator.network import Network

MBIT = 1e6


def spec(a: str, b: str, latency_s: float, bandwidth_bps: float | None = None) -> SimpleNamespace:
    return SimpleNamespace(a=a, b=b, latency_s=latency_s, bandwidth_bps=bandwidth_bps)


def finish_times(env: simpy.Environment, flows: dict[str, Any]) -> dict[str, float]:
    """Run ``env`` to the end and return when each flow was done (as a waiting process sees it)."""
    times: dict[str, float] = {}

    def waiter(name: str, flow: Any) -> Generator[Any, Any, None]:
        if not flow.finished:
            yield flow.done
        times[name] = env.now

    for name, flow in flows.items():
        env.process(waiter(name, flow))
    env.run()
    return times


def line(bandwidth_bps: float | None = 8 * MBIT) -> tuple[simpy.Environment, Network]:
    env = simpy.Environment()
    return env, Network(env, [spec("a", "b", 0.010, bandwidth_bps)])


# ---- processor sharing --------------------------------------------------------------------------


def test_single_transfer_takes_bits_over_bandwidth() -> None:
    env, net = line()
    flow = net.transfer(net.path("a", "b"), 1_000_000)  # 8e6 bits at 8 Mbps
    assert finish_times(env, {"f": flow}) == {"f": exact(1.0)}


def test_two_equal_transfers_together_each_take_2t() -> None:
    env, net = line()
    path = net.path("a", "b")
    flows = {"x": net.transfer(path, 1_000_000), "y": net.transfer(path, 1_000_000)}
    assert finish_times(env, flows) == {"x": exact(2.0), "y": exact(2.0)}


def test_second_transfer_starting_halfway() -> None:
    """T = 1 s alone. y starts at 0.5: x has half left at rate C/2 -> ends at 1.5; y then has
    half left at full rate -> ends at 2.0."""
    env, net = line()
    path = net.path("a", "b")
    flows: dict[str, Any] = {"x": net.transfer(path, 1_000_000)}
    times: dict[str, float] = {}

    def late() -> Generator[Any, Any, None]:
        yield env.timeout(0.5)
        y = net.transfer(path, 1_000_000)
        yield y.done
        times["y"] = env.now

    env.process(late())
    times.update(finish_times(env, flows))
    assert times == {"x": exact(1.5), "y": exact(2.0)}


def test_three_staggered_transfers() -> None:
    """Sizes in seconds of full bandwidth: x=3 at 0, y=1 at 1, z=1 at 1.
    0..1 x alone (x left 2); from 1 three share: y, z need 1 at 1/3 -> done at 4, x left 1 then
    alone -> done at 5."""
    env, net = line()
    path = net.path("a", "b")
    flows: dict[str, Any] = {"x": net.transfer(path, 3_000_000)}
    times: dict[str, float] = {}

    def late(name: str) -> Generator[Any, Any, None]:
        yield env.timeout(1.0)
        flow = net.transfer(path, 1_000_000)
        yield flow.done
        times[name] = env.now

    env.process(late("y"))
    env.process(late("z"))
    times.update(finish_times(env, flows))
    assert times == {"x": exact(5.0), "y": exact(4.0), "z": exact(4.0)}


def test_cancelled_transfer_frees_its_share() -> None:
    """Two transfers of T = 1 s; one is cancelled at 0.5 (each has 1/4 done): the other has
    3/4 left at full rate and ends at 1.25."""
    env, net = line()
    path = net.path("a", "b")
    x, y = net.transfer(path, 1_000_000), net.transfer(path, 1_000_000)

    def cancel() -> Generator[Any, Any, None]:
        yield env.timeout(0.5)
        net.cancel(y)

    env.process(cancel())
    assert finish_times(env, {"x": x})["x"] == exact(1.25)
    assert not any(link.flows for link in net.links.values())


def test_transfer_goes_at_its_smallest_share() -> None:
    """p crosses a-b (10 Mbps) and b-c (4 Mbps); q crosses a-b only. p gets min(10/2, 4) = 4 Mbps,
    q gets its equal share 5 Mbps. p: 4e6 bits -> 1 s. q: 10e6 bits, 5e6 by 1 s, then alone at
    10 Mbps -> 1.5 s."""
    env = simpy.Environment()
    net = Network(env, [spec("a", "b", 0.001, 10 * MBIT), spec("b", "c", 0.001, 4 * MBIT)])
    p = net.transfer(net.path("a", "c"), 500_000)
    q = net.transfer(net.path("a", "b"), 1_250_000)
    assert p.rate_bps == pytest.approx(4 * MBIT)
    assert q.rate_bps == pytest.approx(5 * MBIT)
    assert finish_times(env, {"p": p, "q": q}) == {"p": exact(1.0), "q": exact(1.5)}


def test_two_limited_links_alone_bottleneck_is_the_smaller() -> None:
    env = simpy.Environment()
    net = Network(env, [spec("a", "b", 0.001, 10 * MBIT), spec("b", "c", 0.001, 4 * MBIT),
                        spec("c", "d", 0.001)])
    flow = net.transfer(net.path("a", "d"), 1_000_000)
    assert finish_times(env, {"f": flow}) == {"f": exact(2.0)}


def test_unlimited_link_takes_no_time() -> None:
    env, net = line(bandwidth_bps=None)
    env.run(until=3.0)
    flow = net.transfer(net.path("a", "b"), 10**9)
    assert flow.finished
    assert finish_times(env, {"f": flow}) == {"f": 3.0}


def test_lead_in_and_tail_delay_the_transfer() -> None:
    """Lead-in 0.5 s, 1 s of bits, tail 0.25 s: done at 1.75. A second transfer without lead-in
    started at 0 has the link alone for 0.5 s, then shares it: (1 - 0.5) left at half rate takes
    1 s -> it ends at 1.5, and the first, which moved 0.5 by then, ends its bits at 2.0 (+0.25)."""
    env, net = line()
    path = net.path("a", "b")
    alone = finish_times(env, {"x": net.transfer(path, 1_000_000, start_in_s=0.5, tail_s=0.25)})
    assert alone == {"x": exact(1.75)}
    env, net = line()
    path = net.path("a", "b")
    flows = {"x": net.transfer(path, 1_000_000, start_in_s=0.5, tail_s=0.25), "y": net.transfer(path, 1_000_000)}
    assert finish_times(env, flows) == {"x": exact(2.25), "y": exact(1.5)}


def test_overlapping_lead_ins_with_disjoint_bits_stay_single_timers() -> None:
    """x: lead-in 0.5, bits 0.5..1.5. y: lead-in 2, bits 2..3. Their lead-ins overlap but their
    bits never do, so each runs at the full rate as one timer (one SimPy event each)."""
    env, net = line()
    path = net.path("a", "b")
    x = net.transfer(path, 1_000_000, start_in_s=0.5, tail_s=0.1)
    y = net.transfer(path, 1_000_000, start_in_s=2.0, tail_s=0.1)
    # the solo form: each flow is its own end's event in the schedule (no timer, no done event)
    assert x.done is x and y.done is y and x.timer is None and y.timer is None
    assert sorted(entry[3].seq for entry in env._queue) == [x.seq, y.seq]
    assert finish_times(env, {"x": x, "y": y}) == {"x": exact(1.6), "y": exact(3.1)}


def test_newcomer_whose_bits_overlap_a_solo_flow_shares_with_it() -> None:
    """x: lead-in 0.5, bits from 0.5. y, made at 0 with lead-in 1, starts its bits at 1.0 while x
    is still moving: x alone 0.5..1.0 (half done), then both at half rate: x's last half takes
    1 s -> 2.0; y has 1/2 left at 2.0 alone -> 2.5. Then a third, z, whose bits start at 3.0
    after both have drained, runs alone again."""
    env, net = line()
    path = net.path("a", "b")
    x = net.transfer(path, 1_000_000, start_in_s=0.5)
    y = net.transfer(path, 1_000_000, start_in_s=1.0)
    z = net.transfer(path, 1_000_000, start_in_s=3.0)
    assert finish_times(env, {"x": x, "y": y, "z": z}) == {"x": exact(2.0), "y": exact(2.5), "z": exact(4.0)}


def test_equal_transfers_starting_together_are_twins() -> None:
    """Three equal transfers (T = 1 s alone) starting together share the link equally from start
    to end: each is one timer, done at 3 s, with nothing staged on the network's clock."""
    env, net = line()
    path = net.path("a", "b")
    flows = {name: net.transfer(path, 1_000_000, start_in_s=0.5, tail_s=0.1) for name in "xyz"}
    # one event each: the first two were retimed as the others joined (a timer each, their done
    # event), the last is still its own end's event
    assert [flow.done is flow.timer for flow in flows.values()] == [True, True, False]
    assert flows["z"].done is flows["z"]
    assert net._finishes == []
    assert finish_times(env, flows) == {"x": exact(3.6), "y": exact(3.6), "z": exact(3.6)}


def test_twin_made_while_a_process_waits_moves_the_waiter() -> None:
    """A process waits on x (lead-in 0.5, T = 1); at 0.1 an equal transfer with the same start
    joins it: the process wakes when the pair is done, at 0.5 + 2 T, not at 1.5."""
    env, net = line()
    path = net.path("a", "b")
    x = net.transfer(path, 1_000_000, start_in_s=0.5)
    woke: list[float] = []

    def waiter() -> Generator[Any, Any, None]:
        yield x.done
        woke.append(env.now)

    env.process(waiter())
    env.run(until=0.1)
    y = net.transfer(path, 1_000_000, start_in_s=0.4)
    assert finish_times(env, {"y": y}) == {"y": exact(2.5)}
    assert woke == [exact(2.5)]


def test_newcomer_meeting_twins_makes_all_three_share() -> None:
    """x, y: equal, together from 0 (T = 1 alone, 2 as a pair). z (T = 1) starts at 0.5: x and y
    have 0.75 left each; at 1/3 each they need 2.25 s more -> 2.75; z has moved 0.75 by then
    and its last 0.25 goes at the full rate -> 3.0."""
    env, net = line()
    path = net.path("a", "b")
    flows = {"x": net.transfer(path, 1_000_000), "y": net.transfer(path, 1_000_000),
             "z": net.transfer(path, 1_000_000, start_in_s=0.5)}
    assert finish_times(env, flows) == {"x": exact(2.75), "y": exact(2.75), "z": exact(3.0)}


def test_cancelled_twin_speeds_up_the_other_and_leaves_a_tail_alone() -> None:
    """w: T = 0.1 from 0, then a 1 s tail (done at 1.1). x, y: twins (T = 1) from 0.2. y is cut
    at 0.5: x has moved 0.15 at half rate and its last 0.85 go at the full rate -> 1.35. w,
    drained long before, still ends its tail at 1.1."""
    env, net = line()
    path = net.path("a", "b")
    w = net.transfer(path, 100_000, tail_s=1.0)
    x = net.transfer(path, 1_000_000, start_in_s=0.2)
    y = net.transfer(path, 1_000_000, start_in_s=0.2)
    assert y.done is y and x.done is x.timer  # twins: y its own end's event, x retimed

    def cut() -> Generator[Any, Any, None]:
        yield env.timeout(0.5)
        net.cancel(y)

    env.process(cut())
    assert finish_times(env, {"w": w, "x": x}) == {"w": exact(1.1), "x": exact(1.35)}


def chain(xy_bps: float, yz_bps: float) -> tuple[simpy.Environment, Network]:
    """x - y - z with no latency: F goes x to z, N x to y, G y to z."""
    env = simpy.Environment()
    return env, Network(env, [spec("x", "y", 0.0, xy_bps), spec("y", "z", 0.0, yz_bps)])


def test_a_solo_flow_in_its_lead_in_takes_no_share_from_one_that_starts_sharing() -> None:
    """x-y 16 Mbps, y-z 8 Mbps. F (x to z, 1 MB) moves from 0 at 8 Mbps. G (y to z, 1 MB) starts
    its bits at 2, after F's: a solo flow beside F on y-z. N (x to y, 1 MB) starts at 0.5 and
    shares x-y with F: 8 Mbps each, which leaves F at 8 (y-z is still its own), done at 1.0. N
    has 4 Mbit left then, alone at 16 Mbps -> 1.25. G runs alone from 2 -> 3.0."""
    env, net = chain(16 * MBIT, 8 * MBIT)
    flows = {"F": net.transfer(net.path("x", "z"), 1_000_000),
             "G": net.transfer(net.path("y", "z"), 1_000_000, start_in_s=2.0),
             "N": net.transfer(net.path("x", "y"), 1_000_000, start_in_s=0.5)}
    assert finish_times(env, flows) == {"F": exact(1.0), "G": exact(3.0), "N": exact(1.25)}


def test_a_slowed_flow_reaching_a_solo_flow_shares_with_it() -> None:
    """x-y 8 Mbps, y-z 8 Mbps. F (x to z, 1 MB) from 0, alone until N (x to y, 1 MB) starts at
    0.5 and halves it on x-y. G (y to z, 0.5 MB) was made solo for bits from 1.0 to 1.5, after
    F's full-rate end; but at half rate F still has 2 Mbit left at 1.0. Exact sharing: 0.5..1.0
    F and N at 4 (F 2 Mbit left, N 6). At 1.0 G joins y-z: F gets min(8/2, 8/2) = 4, G 4, N 4.
    F's 2 Mbit take 0.5 s -> 1.5; G has moved 2 of its 4 Mbit by then, the rest at 8 -> 1.75;
    N has 4 Mbit left at 1.5, alone on x-y at 8 -> 2.0."""
    env, net = chain(8 * MBIT, 8 * MBIT)
    flows = {"F": net.transfer(net.path("x", "z"), 1_000_000),
             "G": net.transfer(net.path("y", "z"), 500_000, start_in_s=1.0),
             "N": net.transfer(net.path("x", "y"), 1_000_000, start_in_s=0.5)}
    assert finish_times(env, flows) == {"F": exact(1.5), "G": exact(1.75), "N": exact(2.0)}


def test_unequal_transfers_starting_together_are_not_twins() -> None:
    """x (T = 1) and y (T = 2) from 0: both at half rate until x ends at 2, then y's last half
    (T = 1) at the full rate -> 3.0."""
    env, net = line()
    path = net.path("a", "b")
    flows = {"x": net.transfer(path, 1_000_000), "y": net.transfer(path, 2_000_000)}
    assert finish_times(env, flows) == {"x": exact(2.0), "y": exact(3.0)}


def test_transfers_on_disjoint_links_do_not_interact() -> None:
    env = simpy.Environment()
    net = Network(env, [spec("a", "b", 0.0, 8 * MBIT), spec("c", "d", 0.0, 8 * MBIT)])
    flows = {"ab": net.transfer(net.path("a", "b"), 1_000_000), "cd": net.transfer(net.path("c", "d"), 1_000_000)}
    assert finish_times(env, flows) == {"ab": exact(1.0), "cd": exact(1.0)}


# ---- routing ------------------------------------------------------------------------------------


def triangle() -> Network:
    """a-b 10 ms, b-c 10 ms, a-c 30 ms: a to c goes through b (20 ms)."""
    env = simpy.Environment()
    return Network(env, [spec("a", "b", 0.010), spec("b", "c", 0.010), spec("a", "c", 0.030)])


def test_path_takes_lowest_total_latency() -> None:
    net = triangle()
    path = net.path("a", "c")
    assert path is not None
    assert path.nodes == ("a", "b", "c")
    assert path.delay_s == exact(0.020)
    assert path.rtt_s == exact(0.040)
    assert [link.name for link in path.links] == ["a--b", "b--c"]


def test_path_is_symmetric_in_delay() -> None:
    net = triangle()
    assert net.path("c", "a").delay_s == exact(net.path("a", "c").delay_s)


def test_route_recomputed_after_link_down_and_up() -> None:
    net = triangle()
    ab = net.link("b", "a")  # either order names the link
    net.set_link_up(ab, False)
    assert net.path("a", "c").nodes == ("a", "c")
    assert net.path("a", "c").delay_s == exact(0.030)
    assert net.path("a", "b").nodes == ("a", "c", "b")
    assert net.path("a", "b").delay_s == exact(0.040)
    net.set_link_up(ab, True)
    assert net.path("a", "c").nodes == ("a", "b", "c")


def test_no_path_when_every_route_is_down() -> None:
    net = triangle()
    net.set_link_up(net.link("a", "b"), False)
    net.set_link_up(net.link("a", "c"), False)
    assert net.path("a", "c") is None
    assert net.path("b", "c") is not None


def test_down_host_is_not_routed_through_and_not_reachable() -> None:
    net = triangle()
    net.set_node_up("b", False)
    assert net.path("a", "c").nodes == ("a", "c")
    assert net.path("a", "b") is None
    assert net.path("b", "c") is None
    net.set_node_up("b", True)
    assert net.path("a", "c").nodes == ("a", "b", "c")
    assert net.path("a", "b").nodes == ("a", "b")


def test_path_to_itself_is_empty() -> None:
    net = triangle()
    path = net.path("a", "a")
    assert (path.nodes, path.links, path.delay_s) == (("a",), (), 0.0)


def test_unknown_node_has_no_path() -> None:
    assert triangle().path("a", "nowhere") is None


def test_a_process_waits_on_a_solo_flow_as_on_an_event_and_can_be_interrupted() -> None:
    """A solo flow is its own end's event: a process yielding ``done`` (the flow) is resumed at its
    end (T = 1 after a 0.5 lead-in); one interrupted before then is unhooked from it, and a process
    asking after the end gets a processed event."""
    env, net = line()
    path = net.path("a", "b")
    x = net.transfer(path, 1_000_000, start_in_s=0.5)
    woke: list[tuple[str, float]] = []

    def waiter(name: str) -> Generator[Any, Any, None]:
        try:
            yield x.done
            woke.append((name, env.now))
        except simpy.Interrupt:
            woke.append((f"{name} interrupted", env.now))

    env.process(waiter("a"))
    b = env.process(waiter("b"))
    env.run(until=1.0)
    b.interrupt()
    env.run()
    assert woke == [("b interrupted", 1.0), ("a", exact(1.5))]
    assert x.finished and x.done is not x and x.done.processed


def test_a_transfer_on_unlimited_links_is_its_own_event_for_lead_in_and_tail() -> None:
    """No limited link: the bits take no time; the lead-in and tail are one event, the flow."""
    env = simpy.Environment()
    net = Network(env, [spec("a", "b", 0.25, None)])
    path = net.path("a", "b")
    flow = net.transfer(path, 1_000, start_in_s=0.5, tail_s=0.25)
    assert flow.done is flow and [entry[3] for entry in env._queue] == [flow]
    assert finish_times(env, {"f": flow}) == {"f": exact(0.75)}
