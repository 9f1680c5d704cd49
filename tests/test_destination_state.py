"""Destination state of the ``postfix`` and ``exim`` presets, run end to end.

Two messages for one destination that is down: the first attempt's connection failure closes the
destination (Postfix: the next-hop domain is dead for ``min_backoff``; Exim: the host waits until
its retry time), so the second message is deferred without a connection (a ``held`` record) and
tried at the next queue scan or run. ``fixed`` keeps no such state. Times by hand arithmetic.

The world: lan.alpha -1 ms- mx.alpha -10 ms- mx.beta, unlimited bandwidth, so a submission at t0
is accepted at t0 + 4.5 * 0.002 s and a relay session that starts at t is accepted at
t + 4.5 * 0.02 s; a host that is down costs the 30 s connect timeout.
"""

from __future__ import annotations

from typing import Any

import pytest
from conftest import assert_conserved, events, exact, mail_id, row, run_yaml
from test_conservation import failing_world

from simulator import journey

ALICE, BOB, CAROL = "alice@alpha.example", "bob@beta.example", "carol@beta.example"
SUBMIT_S = 4.5 * 0.002
RELAY_S = 4.5 * 0.020
CONNECT_TIMEOUT_S = 30.0


def world(retry: dict[str, Any], beta_down_until: float) -> dict[str, Any]:
    return {
        "name": "destination-state",
        "duration": "1h",
        "network": {"links": [
            {"between": ["lan.alpha", "mx.alpha"], "latency": "1ms"},
            {"between": ["mx.alpha", "mx.beta"], "latency": "10ms"},
        ]},
        "servers": {
            "mx.alpha": {"domains": ["alpha.example"], "retry": retry, "connect_timeout": "30s"},
            "mx.beta": {"domains": ["beta.example"]},
        },
        "users": [{"address": ALICE, "at": "lan.alpha"},
                  {"address": BOB, "at": "mx.beta"}, {"address": CAROL, "at": "mx.beta"}],
        "messages": [{"at": 10, "from": ALICE, "to": [BOB], "size": "2KB"},
                     {"at": 100, "from": ALICE, "to": [CAROL], "size": "2KB"}],
        "outages": [{"target": "mx.beta", "start": 0, "end": beta_down_until}],
    }


def test_postfix_dead_destination_defers_the_second_message_without_a_connection() -> None:
    result = run_yaml(world({"policy": "postfix"}, beta_down_until=500))
    a, b = mail_id(result, BOB), mail_id(result, CAROL)
    q_a, q_b = 10 + SUBMIT_S, 100 + SUBMIT_S
    # A: tried at once, no answer after 30 s: beta.example is dead until 40.009 + 300.
    assert [e.time for e in events(result, "attempt", a)] == [exact(q_a), 600.0]
    dead_until = q_a + CONNECT_TIMEOUT_S + 300
    # A's backoff: age 30 -> 300 s, due 340.009, the first scan at or after 339.009 is 600.
    assert [e.f["next"] for e in events(result, "deferred", a)] == ["600.0"]
    # B arrives while the destination is dead: held at once, no attempt, no connection.
    held = events(result, "held", b)
    assert [(e.time, e.f["why"], e.f["rcpts"], e.f["hosts"]) for e in held] == [(exact(q_b), "dead", CAROL, "mx.beta")]
    assert float(held[0].f["until"]) == exact(dead_until)
    assert not [e for e in events(result, "connect_failed", b)]
    # Its deferral is an ordinary Postfix one: age 0 -> 300 s, due 400.009, scan 600.
    assert [(e.time, e.f["next"], e.f["code"]) for e in events(result, "deferred", b)] == [(exact(q_b), "600.0", "421")]
    assert [e.time for e in events(result, "attempt", b)] == [600.0]
    # The message's journey says why it was not tried.
    steps = journey.build(result.records, b, set(result.scenario.servers), None, result.end_time_s).steps
    assert [s.label for s in steps if s.time_s == exact(q_b) and s.label.startswith("not tried")] == [
        "not tried: destination dead for 4 min more"]
    for rcpt, attempts in ((BOB, 2), (CAROL, 1)):
        r = row(result, recipient=rcpt)
        assert (r["status"], float(r["delivered_at"]), r["attempts"]) == ("delivered", exact(600 + RELAY_S), attempts)


def test_postfix_dead_state_ends_after_min_backoff() -> None:
    # A second message after the dead state ended (40.009 + 60 s) is tried, and fails on its own.
    sc = world({"policy": "postfix", "min_backoff": "1m", "max_backoff": "10m", "queue_run_delay": "1m"},
               beta_down_until=500)
    result = run_yaml(sc)
    b = mail_id(result, CAROL)
    assert events(result, "held", b) == []
    assert events(result, "connect_failed", b)[0].time == exact(100 + SUBMIT_S + CONNECT_TIMEOUT_S)


def test_exim_host_retry_time_holds_the_second_message_until_the_next_run() -> None:
    result = run_yaml(world({"policy": "exim"}, beta_down_until=1000))
    a, b = mail_id(result, BOB), mail_id(result, CAROL)
    q_b = 100 + SUBMIT_S
    # A fails at 40.009: mx.beta's retry time is 40 + 15 min = 940; A's own next-try too, so
    # the first queue run (every 30 min from 0) whose whole second reaches 940 is at 1800.
    assert [e.time for e in events(result, "attempt", a)] == [exact(10 + SUBMIT_S), 1800.0]
    held = events(result, "held", b)
    assert [(e.time, e.f["why"], e.f["until"]) for e in held] == [(exact(q_b), "retry_time", "940.0")]
    assert [(e.time, e.f["next"]) for e in events(result, "deferred", b)] == [(exact(q_b), "1800.0")]
    assert [e.time for e in events(result, "attempt", b)] == [1800.0]
    for rcpt in (BOB, CAROL):
        assert float(row(result, recipient=rcpt)["delivered_at"]) == exact(1800 + RELAY_S)


def test_exim_skips_a_waiting_host_and_tries_the_next_mx() -> None:
    sc = world({"policy": "exim"}, beta_down_until=1000)
    sc["network"]["links"].append({"between": ["mx.alpha", "backup.beta"], "latency": "10ms"})
    sc["servers"]["backup.beta"] = {"relay_for": ["beta.example"], "retry": {"policy": "fixed", "interval": "1h"}}
    sc["dns"] = {"beta.example": [{"host": "mx.beta", "preference": 10}, {"host": "backup.beta", "preference": 20}]}
    result = run_yaml(sc)
    a, b = mail_id(result, BOB), mail_id(result, CAROL)
    # A: mx.beta does not answer (30 s), backup.beta takes it.
    assert [e.f["host"] for e in events(result, "connect_failed", a, node="mx.alpha")] == ["mx.beta"]
    # B: mx.beta waits for its retry time, so B goes straight to backup.beta: no timeout.
    assert [e.f["hosts"] for e in events(result, "attempt", b, node="mx.alpha")] == ["backup.beta"]
    assert events(result, "connect_failed", b, node="mx.alpha") == []
    assert events(result, "held", b) == []


def test_fixed_keeps_no_destination_state() -> None:
    result = run_yaml(world({"policy": "fixed", "interval": "30m"}, beta_down_until=500))
    b = mail_id(result, CAROL)
    q_b = 100 + SUBMIT_S
    assert events(result, "held") == []
    assert [e.time for e in events(result, "connect_failed", b)] == [exact(q_b + CONNECT_TIMEOUT_S)]
    assert [e.time for e in events(result, "attempt", b)] == [exact(q_b), exact(q_b + CONNECT_TIMEOUT_S + 1800)]


@pytest.mark.parametrize("policy", ["postfix", "exim"])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_outages_conserve_messages_with_destination_state(policy: str, seed: int) -> None:
    """Held jobs are never lost: the conservation world of test_conservation with a preset that
    keeps destination state on every server (give-up shortened so bounces happen too)."""
    sc = failing_world()
    sc["defaults"]["retry"] = {"policy": policy, "give_up": "8h", "warn_after": "1h"}
    sc["servers"]["backup.beta"]["retry"] = {"policy": policy}
    result = run_yaml(sc, seed=seed)
    assert_conserved(result)
    assert events(result, "held"), "the outages should close some destination"
    for held in events(result, "held"):
        # A held job is deferred (or, past give-up, bounced) at the same moment.
        same = [e.name for e in events(result, message_id=held.message_id, node=held.node) if e.time == held.time]
        assert "deferred" in same or "bounced" in same
