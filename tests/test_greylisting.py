"""Greylisting (a server's ``greylisting: {delay, retry_window, max_age}``, postgrey's semantics).

The first attempt of an unknown (client, sender, recipient) triplet gets 450 4.7.1 at its RCPT
and counts as a failed attempt; an attempt at least ``delay`` after the triplet was first seen
passes, and the triplet is then known for ``max_age``; a triplet not retried within
``retry_window`` starts over. Expectations are the contract's arithmetic: pipelined sessions
learn the RCPT replies at ``t0 + 4 RTT`` and deliver at ``t0 + 4.5 RTT + T``; the retry policy
puts the next attempt at ``fail + interval`` (fixed) or at the first 300 s queue scan at most
1 s before ``fail + clamp(fail - queued, 300 s, 4000 s)`` (postfix).
"""

from __future__ import annotations

import math
import textwrap
from typing import Any

import pytest

from simulator import load_scenario, run
from simulator.eventkinds import text_fields
from simulator.runner import Result
from simulator.transcript.build import build_conversations

D = 0.020  # mx.a -- mx.b
RTT = 2 * D
BPS = 10e6
EXACT = {"abs": 1e-9}


def scenario_yaml(retry: str, greylisting: str, messages: str, duration: str = "1h") -> str:
    return textwrap.dedent(f"""
        name: grey
        duration: {duration}
        network:
          links:
            - {{between: [lan.a, mx.a], latency: 1ms}}
            - {{between: [mx.a, mx.b], latency: 20ms, bandwidth: 10Mbps}}
            - {{between: [lan.b, mx.b], latency: 1ms}}
        servers:
          mx.a: {{domains: [a.example], retry: {retry}, greylisting: {{delay: 5m}}}}
          mx.b: {{domains: [b.example], greylisting: {greylisting}}}
        users:
          - {{address: x@a.example, at: lan.a}}
          - {{address: w@a.example, at: lan.a}}
          - {{address: z@b.example, at: lan.b}}
        messages:
        """) + textwrap.indent(textwrap.dedent(messages).strip(), "  ") + "\n"


def simulate(text: str, trace: bool = False) -> Result:
    return run(load_scenario(text), trace=trace)


def events(result: Result, name: str, mid: str) -> list[tuple[float, dict[str, str]]]:
    return [(t, text_fields(e, d)) for t, e, m, _, d in result.records if e == name and m == mid]


def relay_attempts(result: Result, mid: str) -> list[float]:
    return [t for t, f in events(result, "attempt", mid)]


def expected_attempts(queued: float, delay: float, next_after: Any) -> list[float]:
    """Attempt start times until one comes ``delay`` after the first: each failure is known
    4 RTT after its start, and ``next_after(fail, queued)`` gives the next attempt."""
    attempts = [queued]
    while attempts[-1] - attempts[0] < delay:
        attempts.append(next_after(attempts[-1] + 4 * RTT, queued))
    return attempts


def fixed(interval: float) -> Any:
    return lambda fail, queued: fail + interval


def postfix(fail: float, queued: float) -> float:
    due = fail + min(max(fail - queued, 300.0), 4000.0)
    return 300.0 * math.ceil((due - 1.0) / 300.0)  # the deferred-queue scans, every 300 s from 0


ONE = "- {at: 1m, from: x@a.example, to: [z@b.example], size: 10KB}"


@pytest.mark.parametrize(("retry", "next_after", "added_s"), [
    ("{policy: fixed, interval: 30m}", fixed(1800.0), lambda queued: 4 * RTT + 1800.0),
    ("{policy: postfix}", postfix, lambda queued: 600.0 - queued),  # queued about 60 s: the scan at 600
])
def test_first_attempt_is_deferred_and_the_retry_passes(retry: str, next_after: Any, added_s: Any) -> None:
    result = simulate(scenario_yaml(retry, "{delay: 5m}", ONE))
    (accepted_at_home, _), (accepted_at_mx, _) = events(result, "accepted", "m1")
    queued = accepted_at_home
    attempts = relay_attempts(result, "m1")
    assert attempts == pytest.approx(expected_attempts(queued, 300.0, next_after), **EXACT)
    assert len(attempts) == 2
    (deferred,) = events(result, "rcpt_deferred", "m1")
    assert deferred[0] == pytest.approx(queued + 4 * RTT, **EXACT)
    assert (deferred[1]["code"], deferred[1]["rcpts"]) == ("450", "z@b.example")
    wire = int(events(result, "created", "m1")[0][1]["wire"])
    delivered = attempts[-1] + 4.5 * RTT + 8 * wire / BPS
    assert accepted_at_mx == pytest.approx(delivered, **EXACT)
    assert attempts[-1] - attempts[0] == pytest.approx(added_s(queued), **EXACT)  # what greylisting added
    (row,) = [r for r in result.tables.deliveries if r["message_id"] == "m1"]
    assert row["attempts"] == 2 and row["status"] == "delivered"


def test_postfix_retries_until_a_longer_delay_has_passed() -> None:
    result = simulate(scenario_yaml("{policy: postfix}", "{delay: 10m}", ONE))
    queued = events(result, "accepted", "m1")[0][0]
    attempts = relay_attempts(result, "m1")
    expected = expected_attempts(queued, 600.0, postfix)
    assert len(expected) == 3  # the scan at 600 s is too early (540 s in); the backoff doubles
    assert attempts == pytest.approx(expected, **EXACT)
    assert len(events(result, "rcpt_deferred", "m1")) == 2


def test_a_known_triplet_passes_at_once_and_a_new_sender_is_greylisted() -> None:
    messages = """
        - {at: 1m, from: x@a.example, to: [z@b.example], size: 10KB}
        - {at: 50m, from: x@a.example, to: [z@b.example], size: 10KB}
        - {at: 51m, from: w@a.example, to: [z@b.example], size: 10KB}
        """
    result = simulate(scenario_yaml("{policy: fixed, interval: 30m}", "{delay: 5m}", messages))
    assert len(relay_attempts(result, "m1")) == 2  # passed at its retry, 31 minutes in
    assert len(relay_attempts(result, "m2")) == 1 and not events(result, "rcpt_deferred", "m2")
    assert len(relay_attempts(result, "m3")) == 2 and events(result, "rcpt_deferred", "m3")


def test_submission_and_local_delivery_are_never_greylisted() -> None:
    result = simulate(scenario_yaml("{policy: fixed, interval: 30m}", "{delay: 5m}",
                                    "- {at: 1m, from: x@a.example, to: [w@a.example], size: 1KB}"))
    assert not events(result, "rcpt_deferred", "m1") and not relay_attempts(result, "m1")
    assert [f["rcpt"] for _, f in events(result, "delivered", "m1")] == ["w@a.example"]


@pytest.mark.parametrize(("window", "passes"), [("2h", False), ("4h", True)])
def test_a_triplet_not_retried_within_the_window_starts_over(window: str, passes: bool) -> None:
    retry = "{policy: fixed, interval: 3h, give_up: 7h}"
    result = simulate(scenario_yaml(retry, f"{{delay: 5m, retry_window: {window}}}", ONE, duration="2h"))
    attempts = relay_attempts(result, "m1")
    deferred = events(result, "rcpt_deferred", "m1")
    if passes:  # the retry 3 h later is inside the window: it passes
        assert len(attempts) == 2 and len(deferred) == 1
        assert events(result, "delivered", "m1")
        return
    # every retry comes after the window: first seen again, 450 again, until give_up bounces it
    queued = events(result, "accepted", "m1")[0][0]
    expected = [queued]
    while expected[-1] + 4 * RTT - queued < 7 * 3600:
        expected.append(expected[-1] + 4 * RTT + 3 * 3600)
    assert attempts == pytest.approx(expected, **EXACT) and len(deferred) == len(attempts) == 4
    (bounced,) = events(result, "bounced", "m1")
    assert (bounced[1]["code"], bounced[1]["reason"]) == ("450", "expired")


def test_a_triplet_older_than_max_age_is_greylisted_again() -> None:
    messages = """
        - {at: 1m, from: x@a.example, to: [z@b.example], size: 1KB}
        - {at: 3h, from: x@a.example, to: [z@b.example], size: 1KB}
        """
    retry = "{policy: fixed, interval: 30m}"
    known = simulate(scenario_yaml(retry, "{delay: 5m}", messages, duration="4h"))
    assert len(relay_attempts(known, "m2")) == 1  # postgrey keeps a passed triplet 35 days
    forgotten = simulate(scenario_yaml(retry, "{delay: 5m, max_age: 1h}", messages, duration="4h"))
    assert len(relay_attempts(forgotten, "m2")) == 2


def test_the_transcript_shows_the_450_reply() -> None:
    result = simulate(scenario_yaml("{policy: postfix}", "{delay: 5m}", ONE), trace=True)
    convs = build_conversations(result.traces or [], result.records, result.scenario, result.end_time_s)
    first, second = [c for c in convs if c.protocol == "smtp"]
    replies = [text for _, side, text, _ in first.lines() if side == "S"]
    assert "450 4.7.1 <z@b.example>: Recipient address rejected: Greylisted, please try again later" in replies
    assert "554 5.5.1 Error: no valid recipients" in replies  # the pipelined DATA finds no recipient
    assert any(text.startswith("250 2.0.0 Ok: queued as") for _, side, text, _ in second.lines() if side == "S")
