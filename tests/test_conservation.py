"""Conservation of messages under random failures (DESIGN.md, "Nothing is lost").

Three domains, a backup MX, slow links (so sessions are long enough to be cut after the server
accepted: duplicates happen), unknown users and oversized messages, and random outages (mtbf /
mttr) of every server and two links. Whatever the seed, every (message, recipient) of kind mail
ends delivered, bounced or pending, the counts add up, nothing is pending without ``until``, and
duplicates only come with a cut session (``conftest.assert_conserved``).
"""

from __future__ import annotations

import functools
from typing import Any

import pytest
from conftest import assert_conserved, events, rows, run_yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from simulator import Result


def failing_world(mtbf: str = "2h", mttr: str = "40m") -> dict[str, Any]:
    links = [
        {"between": ["office.alpha", "mx.alpha"], "latency": "5ms", "bandwidth": "2Mbps"},
        {"between": ["mx.alpha", "core"], "latency": "10s", "bandwidth": "1Mbps"},  # a wide cut window
        {"between": ["core", "mx.beta"], "latency": "200ms", "bandwidth": "1Mbps"},
        {"between": ["core", "backup.beta"], "latency": "250ms"},
        {"between": ["backup.beta", "mx.beta"], "latency": "50ms", "bandwidth": "5Mbps"},
        {"between": ["core", "mx.gamma"], "latency": "400ms", "bandwidth": "512kbps"},
    ]
    return {
        "name": "failing",
        "duration": "6h",
        "network": {"links": links},
        "servers": {
            "mx.alpha": {"domains": ["alpha.example"]},
            "mx.beta": {"domains": ["beta.example"], "max_message_size": "200KB"},
            "backup.beta": {"relay_for": ["beta.example"], "retry": {"policy": "backoff", "initial": "2m"}},
            "mx.gamma": {"domains": ["gamma.example"], "pipelining": False},
        },
        "dns": {"beta.example": [{"host": "mx.beta", "preference": 10}, {"host": "backup.beta", "preference": 20}]},
        "defaults": {"retry": {"policy": "fixed", "interval": "20m", "give_up": "8h", "warn_after": "1h"},
                     "connect_timeout": "20s"},
        "users": [
            {"group": {"prefix": "a", "count": 5, "domain": "alpha.example"}, "at": "office.alpha"},
            {"group": {"prefix": "b", "count": 5, "domain": "beta.example"}, "at": "mx.beta"},
            {"group": {"prefix": "g", "count": 5, "domain": "gamma.example"}, "at": "mx.gamma"},
        ],
        "traffic": [
            {"from": "alpha.example", "to": "beta.example", "rate": "2/h", "recipients": {"choice": [[1, 3], [2, 1]]},
             "size": {"lognormal": {"median": "20KB", "sigma": 1.5}}},
            {"from": "gamma.example", "to": "alpha.example", "rate": "1/h", "size": "30KB"},
            {"from": "beta.example", "to": "gamma.example", "rate": "1/h", "size": {"exponential": {"mean": "15KB"}}},
        ],
        "messages": [
            {"at": "1h", "from": "a001@alpha.example", "to": ["nobody@beta.example", "b001@beta.example"],
             "size": "5KB"},
            {"at": "2h", "from": "a002@alpha.example", "to": ["b002@beta.example"], "size": "1MB"},
        ],
        "outages": [
            {"target": "mx.beta", "mtbf": mtbf, "mttr": mttr},
            {"target": "backup.beta", "mtbf": mtbf, "mttr": mttr},
            {"target": "mx.gamma", "mtbf": mtbf, "mttr": mttr},
            {"target": "mx.alpha", "mtbf": "4h", "mttr": "10m"},
            {"target": "core--mx.gamma", "mtbf": mtbf, "mttr": mttr},
            {"target": "office.alpha--mx.alpha", "mtbf": "3h", "mttr": "5m"},
            {"target": "mx.alpha--core", "mtbf": "20m", "mttr": "1m"},  # cuts many of its long sessions
        ],
    }


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(min_value=0, max_value=2**32 - 1))
@example(seed=68)
def test_random_outages_conserve_messages(seed: int) -> None:
    result = run_yaml(failing_world(), seed=seed)
    assert_conserved(result)
    assert result.summary["counts"]["submitted"] > 0


@pytest.mark.slow
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(min_value=0, max_value=2**32 - 1),
       mtbf_h=st.floats(min_value=0.2, max_value=10.0), mttr_m=st.floats(min_value=1.0, max_value=180.0))
@example(seed=3942, mtbf_h=2.5, mttr_m=23.0)
def test_random_outages_conserve_messages_many(seed: int, mtbf_h: float, mttr_m: float) -> None:
    result = run_yaml(failing_world(f"{mtbf_h:.4f}h", f"{mttr_m:.4f}m"), seed=seed)
    assert_conserved(result)


KNOWN_SEEDS = range(1, 9)


@functools.cache
def known_run(seed: int) -> Result:
    return run_yaml(failing_world(), seed=seed)


@pytest.mark.parametrize("seed", KNOWN_SEEDS)
def test_known_seeds_conserve_and_exercise_failures(seed: int) -> None:
    result = known_run(seed)
    assert_conserved(result)
    assert events(result, "server_down")


def test_failures_happen_across_seeds() -> None:
    """The conservation checks above are not vacuous: over a few seeds the world cuts sessions,
    retries, bounces, warns and delivers duplicates."""
    seen: dict[str, int] = {}
    for seed in KNOWN_SEEDS:
        result = known_run(seed)
        for name in ("session_cut", "deferred", "bounced", "warning_sent", "duplicate", "delivered"):
            seen[name] = seen.get(name, 0) + len(events(result, name))
    assert all(seen[name] > 0 for name in seen), seen


def test_until_stops_early_and_counts_pending() -> None:
    sc = failing_world()
    sc["outages"] = [{"target": "mx.gamma", "start": 0, "duration": "1d"}]
    sc["until"] = "3h"
    sc["messages"].append({"at": "10m", "from": "a001@alpha.example", "to": ["g001@gamma.example"], "size": "1KB"})
    result = run_yaml(sc, seed=3)
    assert_conserved(result, allow_pending=True)
    assert result.end_time_s == 3 * 3600.0
    pending = rows(result, kind="mail", status="pending")
    assert pending
    assert result.summary["counts"]["pending"] == len(pending)
    assert all(r["delivered_at"] is None and r["latency_s"] is None for r in pending)
    assert any(r["recipient"] == "g001@gamma.example" for r in pending)
    assert all(e.time <= 3 * 3600.0 for e in events(result))


def test_without_until_nothing_pending_even_after_long_outage() -> None:
    sc = failing_world()
    sc["outages"] = [{"target": "mx.gamma", "start": 0, "duration": "3d"}]
    result = run_yaml(sc, seed=3)
    assert_conserved(result)
    gamma = rows(result, kind="mail")
    gamma = [r for r in gamma if r["recipient"].endswith("@gamma.example")]
    assert gamma and all(r["status"] == "bounced" for r in gamma)
