"""The fast path (simulator.fast) must change nothing: with it on and off, the same scenario
and seed give the same event log, record for record, and the same end time."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simulator import load_scenario
from simulator.world import World

SCENARIOS = sorted((Path(__file__).parent.parent / "scenarios").glob("*.yaml"))


def both_ways(scenario, seed: int | None = None) -> tuple[tuple, tuple, bool]:
    runs = []
    for fast in (False, True):
        world = World(scenario, seed, fast=fast)
        end = world.run()
        runs.append((end, list(world.log.records)))
    return runs[0], runs[1], World(scenario, seed).ctx.fast


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_scenarios_give_the_same_log_either_way(path: Path) -> None:
    scenario = load_scenario(path)
    scenario = scenario.override({"outages": []}) if scenario.outages else scenario
    slow, fast, used = both_ways(scenario)
    assert used  # without outages or tracing the fast path is on
    assert fast == slow


def world_text(pipelining: bool, latency_ms: int, bandwidth_mbps: int, rate_per_h: int, max_size: str) -> str:
    return f"""
name: fast-path
seed: 3
duration: 2h
network:
  links:
    - {{between: [lan.a, mx.a], latency: 1ms, bandwidth: 100Mbps}}
    - {{between: [mx.a, core], latency: {latency_ms}ms, bandwidth: {bandwidth_mbps}Mbps}}
    - {{between: [core, mx.b], latency: {latency_ms}ms, bandwidth: {bandwidth_mbps}Mbps}}
    - {{between: [core, backup.b], latency: 3ms}}
servers:
  mx.a: {{domains: [a.test], concurrency: 3}}
  mx.b: {{domains: [b.test], pipelining: {str(pipelining).lower()}, max_message_size: {max_size}}}
  backup.b: {{relay_for: [b.test]}}
dns:
  b.test: [{{host: mx.b, preference: 10}}, {{host: backup.b, preference: 20}}]
users:
  - {{group: {{prefix: a, count: 8, domain: a.test}}, at: lan.a}}
  - {{group: {{prefix: b, count: 8, domain: b.test}}, at: core, access: {{protocol: pop3, poll: 5m}}}}
  - {{group: {{prefix: c, count: 4, domain: b.test}}, at: core, access: {{protocol: imap, devices: 2}}}}
  - {{group: {{prefix: d, count: 4, domain: b.test}}, at: mx.b, access: {{protocol: imap, devices: 2, offset: 30s}}}}
traffic:
  - {{from: a.test, to: b.test, rate: {rate_per_h}/h, recipients: {{choice: [[1, 3], [2, 1]]}},
     size: {{lognormal: {{median: 200KB, sigma: 1.5}}}}}}
  - {{from: b.test, to: a.test, rate: {rate_per_h}/h, size: 20KB}}
messages:
  - {{at: 10m, from: a001@a.test, to: [nobody@b.test, b001@b.test], size: 5KB}}
"""


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pipelining=st.booleans(), latency_ms=st.integers(0, 40), bandwidth_mbps=st.integers(1, 50),
       rate_per_h=st.integers(5, 60), max_size=st.sampled_from(["1MB", "10MB"]), seed=st.integers(0, 10**6))
def test_contended_worlds_give_the_same_log_either_way(
    pipelining: bool, latency_ms: int, bandwidth_mbps: int, rate_per_h: int, max_size: str, seed: int
) -> None:
    """Shared bottlenecks, a full set of slots, refusals and oversized mail, IMAP IDLE devices on
    slow and on zero-latency paths: the fast path starts some hops and fetches and hands the
    others over, and the log must not notice."""
    scenario = load_scenario(world_text(pipelining, latency_ms, bandwidth_mbps, rate_per_h, max_size))
    slow, fast, used = both_ways(scenario, seed)
    assert used
    assert fast == slow
