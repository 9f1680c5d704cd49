"""Tests for simulator.retry: the retry policies, their decisions and schedules.

The exact numbers come from SCENARIO.md ("Defaults", retry policies, "Timing
contract") and research/email-domain.md §3 (Postfix, Exim, Exchange defaults).
"""

from __future__ import annotations

import itertools
import math
from types import SimpleNamespace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.retry import (
    POLICY_NAMES,
    BackoffPolicy,
    ExchangePolicy,
    EximPolicy,
    EximRule,
    FixedPolicy,
    PostfixPolicy,
    RetryDecision,
    RetryPolicy,
    TryRecord,
    exim_give_up_s,
    make_policy,
    parse_exim_rule,
    schedule,
)

MIN_S = 60.0
HOUR_S = 3600.0
DAY_S = 86400.0
CONNECT_TIMEOUT_S = 30.0


def spec(**kwargs: object) -> SimpleNamespace:
    """A retry spec with every attribute make_policy reads, unset ones None."""
    base: dict[str, object] = dict.fromkeys(
        ("policy", "interval_s", "give_up_s", "warn_after_s", "initial_s", "factor", "max_s", "rule")
    )
    base.update(kwargs)
    return SimpleNamespace(**base)


def failures_of(attempts: list[float], duration_s: float) -> list[float]:
    """Failure times of a schedule's attempts (the schedule's last item is the bounce)."""
    return [a + duration_s for a in attempts[:-1]]


def run_warnings(policy: RetryPolicy, queued_at_s: float, duration_s: float) -> list[float]:
    """Replay an all-fail schedule through decide() and return the failure times that warned."""
    attempts = schedule(policy, queued_at_s, queued_at_s, duration_s)
    fails = failures_of(attempts, duration_s)
    warned = False
    warn_times = []
    for n, t in enumerate(fails, start=1):
        d = policy.decide(t, queued_at_s, fails[0], n, warned)
        if d.warn:
            warn_times.append(t)
            warned = True
    return warn_times


# --------------------------------------------------------------------------- #
# The fixed policy and the contract arithmetic
# --------------------------------------------------------------------------- #


def test_fixed_defaults_match_scenario_defaults() -> None:
    p = FixedPolicy()
    assert (p.name, p.interval_s, p.give_up_s, p.warn_after_s) == ("fixed", 1800, 432000, None)


def test_contract_fixed_30m_give_up_2h_connect_timeout_30s() -> None:
    p = FixedPolicy(interval_s=30 * MIN_S, give_up_s=2 * HOUR_S)
    times = schedule(p, queued_at_s=1.0, first_attempt_s=1.0, attempt_duration_s=CONNECT_TIMEOUT_S)
    assert times == [1, 1831, 3661, 5491, 7321, 7351]
    # The same, decision by decision.
    fails = [31.0, 1861.0, 3691.0, 5521.0]
    for n, t in enumerate(fails, start=1):
        assert p.decide(t, 1.0, 31.0, n, False) == RetryDecision("retry", t + 1800, False)
    assert p.decide(7351.0, 1.0, 31.0, 5, False) == RetryDecision("bounce", None, False)
    assert 7351 - 1 >= 7200
    assert len(times) - 1 == 5  # attempts before the bounce


def test_give_up_boundary_is_inclusive() -> None:
    p = FixedPolicy(give_up_s=7200)
    assert p.decide(7200.0, 0.0, 0.0, 1, False).action == "bounce"
    assert p.decide(7199.999, 0.0, 0.0, 1, False).action == "retry"


def test_fixed_give_up_5d_spacing_is_30m_from_each_failure() -> None:
    p = FixedPolicy(interval_s=1800, give_up_s=5 * DAY_S)
    times = schedule(p, 1.0, 1.0, CONNECT_TIMEOUT_S)
    attempts, bounce = times[:-1], times[-1]
    fails = [a + CONNECT_TIMEOUT_S for a in attempts]
    assert all(nxt - f == 1800 for f, nxt in zip(fails, attempts[1:], strict=False))
    assert bounce == fails[-1]
    assert bounce - 1 >= 5 * DAY_S
    assert fails[-2] - 1 < 5 * DAY_S
    assert len(attempts) == math.ceil(5 * DAY_S / 1830) + 1


def test_schedule_with_zero_duration_ends_with_last_attempt_repeated() -> None:
    times = schedule(FixedPolicy(give_up_s=7200), 0.0, 0.0)
    assert times == [0, 1800, 3600, 5400, 7200, 7200]


def test_schedule_first_attempt_after_give_up_bounces_at_once() -> None:
    assert schedule(FixedPolicy(give_up_s=60), 0.0, 100.0, 30.0) == [100.0, 130.0]


def test_schedule_horizon_truncates_without_bounce() -> None:
    times = schedule(FixedPolicy(), 0.0, 0.0, 0.0, horizon_s=4000.0)
    assert times == [0, 1800, 3600]


def test_schedule_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="first_attempt_s"):
        schedule(FixedPolicy(), 10.0, 5.0)
    with pytest.raises(ValueError, match="attempt_duration_s"):
        schedule(FixedPolicy(), 0.0, 0.0, -1.0)
    with pytest.raises(ValueError, match="more than 3 attempts"):
        schedule(FixedPolicy(), 0.0, 0.0, max_attempts=3)


# --------------------------------------------------------------------------- #
# Delay warnings
# --------------------------------------------------------------------------- #


def test_warning_fires_once_at_first_failure_at_or_after_q_plus_4h() -> None:
    q = 1.0
    p = FixedPolicy(warn_after_s=4 * HOUR_S)
    warn_times = run_warnings(p, q, CONNECT_TIMEOUT_S)
    fails = failures_of(schedule(p, q, q, CONNECT_TIMEOUT_S), CONNECT_TIMEOUT_S)
    expected = next(t for t in fails if t >= q + 4 * HOUR_S)
    assert warn_times == [expected]
    assert expected == 31 + 8 * 1830  # 14671: the 9th failure; the 8th was at 12841


def test_warning_at_exact_boundary_and_not_twice() -> None:
    p = FixedPolicy(warn_after_s=100.0)
    assert p.decide(110.0, 10.0, 10.0, 3, False).warn is True
    assert p.decide(109.999, 10.0, 10.0, 3, False).warn is False
    assert p.decide(500.0, 10.0, 10.0, 4, True).warn is False


def test_no_warning_without_warn_after() -> None:
    assert run_warnings(FixedPolicy(), 0.0, CONNECT_TIMEOUT_S) == []


def test_bounce_carries_no_warning() -> None:
    p = FixedPolicy(interval_s=1800, give_up_s=3600, warn_after_s=3600)
    d = p.decide(3600.0, 0.0, 0.0, 3, False)
    assert d == RetryDecision("bounce", None, False)
    assert run_warnings(p, 0.0, 0.0) == []


# --------------------------------------------------------------------------- #
# Exchange
# --------------------------------------------------------------------------- #


def test_exchange_defaults_and_schedule() -> None:
    p = ExchangePolicy()
    assert (p.name, p.interval_s, p.give_up_s, p.warn_after_s) == ("exchange", 900, 172800, 14400)
    times = schedule(p, 0.0, 0.0, CONNECT_TIMEOUT_S)
    attempts = times[:-1]
    assert all(b - a == 930 for a, b in itertools.pairwise(attempts))
    assert times[-1] >= 2 * DAY_S
    assert times[-1] - 930 < 2 * DAY_S
    warn_times = run_warnings(p, 0.0, CONNECT_TIMEOUT_S)
    assert len(warn_times) == 1
    assert warn_times[0] >= 4 * HOUR_S
    assert warn_times[0] - 930 < 4 * HOUR_S


# --------------------------------------------------------------------------- #
# Postfix
# --------------------------------------------------------------------------- #


@pytest.mark.parametrize(
    ("age_s", "wait_s"),
    [(0, 300), (100, 300), (300, 300), (1000, 1000), (3999, 3999), (4000, 4000), (5000, 4000)],
)
def test_postfix_unquantized_wait_is_clamped_age(age_s: float, wait_s: float) -> None:
    q = 50.0
    assert PostfixPolicy(queue_run_delay_s=0).next_attempt_s(q + age_s, q, q, 1) == q + age_s + wait_s
    assert PostfixPolicy().wait_s(q + age_s, q) == wait_s


def test_postfix_age_is_from_queueing_not_first_failure() -> None:
    # Queued at 0, first failure at 2000: the age is 2000, not 0; 4000 is a scan (phase 0).
    assert PostfixPolicy().next_attempt_s(2000.0, 0.0, 2000.0, 1) == 4200.0
    assert PostfixPolicy(queue_run_delay_s=0).next_attempt_s(2000.0, 0.0, 2000.0, 1) == 4000.0


@pytest.mark.parametrize(
    ("failed_at_s", "expected_s"),
    [
        (0.5, 300.0),  # due 300.5: the scan at 300 takes it (within 1 s)
        (1.0, 300.0),  # due 301: exactly 1 s ahead of the scan, still taken
        (1.5, 600.0),  # due 301.5: 1.5 s ahead, left for the next scan
        (299.0, 600.0),  # due 599 (age 299 -> 300)
        (1000.25, 2100.0),  # age 1000.25: due 2000.5
        (8800.0, 12900.0),  # age 8800 -> 4000: due 12800, next scan 12900
    ],
)
def test_postfix_attempt_is_the_first_scan_at_most_1s_before_due(failed_at_s: float, expected_s: float) -> None:
    assert PostfixPolicy().next_attempt_s(failed_at_s, 0.0, 0.0, 1) == expected_s


def test_postfix_scan_grid_has_a_phase_and_starts_at_it() -> None:
    p = PostfixPolicy(queue_phase_s=120.5)
    # Scans at 120.5, 420.5, 720.5, ...; the first scan of the grid is at the phase itself.
    assert p.next_attempt_s(0.25, 0.0, 0.0, 1) == 420.5
    p = PostfixPolicy(queue_phase_s=1000.0)
    assert p.next_attempt_s(0.25, 0.0, 0.0, 1) == 1000.0  # no scan before the queue manager's first


def test_postfix_quantized_schedule_compounds_lateness() -> None:
    """The measured Postfix case, scaled /20: 15 s scans on a grid at 8.3 + 15k, backoff 15..200 s.

    Each attempt comes late to its scan and the next wait is the (larger) age: the lateness adds
    up. Without scans (delay 0) the same message is tried at 0.3, 15.3, 30.6, 61.2, ...
    """
    p = PostfixPolicy(min_backoff_s=15, max_backoff_s=200, queue_run_delay_s=15, queue_phase_s=8.3)
    times = schedule(p, 0.0, 0.3, horizon_s=900)
    # 0.3 fails: due 15.3, scan >= 14.3 -> 23.3; age 23.3: due 46.6 -> scan >= 45.6 -> 53.3;
    # age 53.3: due 106.6 -> 113.3; due 226.6 -> 233.3; age > 200: due 433.3 -> 443.3; then + 210.
    expected = [0.3, 23.3, 53.3, 113.3, 233.3, 443.3, 653.3, 863.3]
    assert times == pytest.approx(expected, abs=1e-6)
    unquantized = schedule(PostfixPolicy(min_backoff_s=15, max_backoff_s=200, queue_run_delay_s=0), 0.0, 0.3,
                           horizon_s=900)
    assert unquantized == pytest.approx([0.3, 15.3, 30.6, 61.2, 122.4, 244.8, 444.8, 644.8, 844.8], abs=1e-6)


def test_postfix_default_schedule_steady_wait_is_4200s() -> None:
    p = PostfixPolicy()
    assert (p.name, p.give_up_s, p.min_backoff_s, p.max_backoff_s) == ("postfix", 432000, 300, 4000)
    assert (p.queue_run_delay_s, p.queue_phase_s) == (300, 0)
    times = schedule(p, 0.0, 0.0)
    # 4800 + 4000 = 8800 is not a scan: 9000; from then on 4000 s rounded up to whole scans.
    assert times[:9] == [0, 300, 600, 1200, 2400, 4800, 9000, 13200, 17400]
    attempts = times[:-1]
    assert all(b - a == 4200 for a, b in itertools.pairwise(attempts[5:]))
    assert len(attempts) == 6 + math.ceil((432000 - 9000) / 4200) + 1 == 108  # 113 without scans
    assert len(schedule(PostfixPolicy(queue_run_delay_s=0), 0.0, 0.0)) - 1 == 113
    assert times[-1] == times[-2] == 9000 + 101 * 4200 >= 5 * DAY_S  # zero-length attempts: the last bounces


def test_postfix_zero_delay_is_todays_schedule() -> None:
    times = schedule(PostfixPolicy(queue_run_delay_s=0), 0.0, 0.0)
    assert times[:9] == [0, 300, 600, 1200, 2400, 4800, 8800, 12800, 16800]


def test_postfix_rejects_inverted_clamp_and_negative_scans() -> None:
    with pytest.raises(ValueError, match="max_backoff_s"):
        PostfixPolicy(min_backoff_s=500, max_backoff_s=400)
    with pytest.raises(ValueError, match="queue_run_delay_s"):
        PostfixPolicy(queue_run_delay_s=-1)
    with pytest.raises(ValueError, match="queue_phase_s"):
        PostfixPolicy(queue_phase_s=math.nan)


def test_postfix_dead_destination_for_min_backoff() -> None:
    p = PostfixPolicy()
    record = p.destination_failed(None, 100.25)
    assert record == TryRecord(100.25, 100.25, 400.25)
    assert not p.destination_open(record, 400.0, 0.0)
    assert p.destination_open(record, 400.25, 0.0)
    # A message held by the dead destination is deferred like any failure: backoff by its age.
    held = p.decide_held(200.0, 50.0, 200.0, 1, False, None, record.next_try_s)
    assert held == RetryDecision("retry", 600.0, False)  # age 150 -> 300: due 500, scan 600
    assert p.decide_held(50.0 + 5 * DAY_S, 50.0, 60.0, 3, False, None, 1e9).action == "bounce"


def test_policies_without_destination_state() -> None:
    for p in (FixedPolicy(), ExchangePolicy(), BackoffPolicy()):
        assert p.destination is None
        assert p.destination_failed(None, 10.0) is None
    assert (PostfixPolicy.destination, EximPolicy.destination) == ("domain", "host")


# --------------------------------------------------------------------------- #
# Backoff
# --------------------------------------------------------------------------- #


def test_backoff_waits_double_and_cap() -> None:
    p = BackoffPolicy()
    assert (p.name, p.initial_s, p.factor, p.max_s, p.give_up_s) == ("backoff", 300, 2.0, 14400, 432000)
    waits = [p.next_attempt_s(1000.0, 0.0, 0.0, n) - 1000.0 for n in range(1, 10)]
    assert waits == [300, 600, 1200, 2400, 4800, 9600, 14400, 14400, 14400]


def test_backoff_huge_failure_count_does_not_overflow() -> None:
    p = BackoffPolicy(factor=10.0)
    assert p.wait_s(10_000) == p.max_s


def test_backoff_schedule() -> None:
    times = schedule(BackoffPolicy(give_up_s=DAY_S), 0.0, 0.0)
    assert times[:8] == [0, 300, 900, 2100, 4500, 9300, 18900, 33300]
    assert times[-1] == times[-2] >= DAY_S
    assert times[-3] < DAY_S


def test_backoff_validation() -> None:
    with pytest.raises(ValueError, match="factor"):
        BackoffPolicy(factor=0.5)
    with pytest.raises(ValueError, match="max_s"):
        BackoffPolicy(initial_s=600, max_s=300)
    with pytest.raises(ValueError, match="initial_s"):
        BackoffPolicy(initial_s=0)
    with pytest.raises(ValueError, match="interval_s"):
        FixedPolicy(interval_s=True)
    with pytest.raises(ValueError, match="interval_s"):
        FixedPolicy(interval_s=math.inf)


# --------------------------------------------------------------------------- #
# Exim
# --------------------------------------------------------------------------- #

def test_exim_default_rule_parses() -> None:
    p = EximPolicy()
    assert (p.name, p.give_up_s, p.warn_after_s, p.queue_interval_s, p.queue_phase_s) == (
        "exim", 345600, None, 1800, 0)
    assert p.rules == (
        EximRule("F", 2 * HOUR_S, 15 * MIN_S),
        EximRule("G", 16 * HOUR_S, HOUR_S, 1.5),
        EximRule("F", 4 * DAY_S, 6 * HOUR_S),
    )


def test_exim_give_up_defaults_to_the_last_cutoff() -> None:
    assert EximPolicy(rule="F,2h,15m; F,1d,1h").give_up_s == DAY_S
    assert EximPolicy(rule="F,2h,15m", give_up_s=HOUR_S).give_up_s == HOUR_S
    assert exim_give_up_s("F,2h,15m; G,16h,1h,1.5; F,4d,6h") == 4 * DAY_S


def test_exim_default_schedule_at_30_minute_queue_runs() -> None:
    """Zero-length attempts from time 0 at Debian's -q30m: the 15 min retries wait for the runs.

    F,2h,15m: next-try 15 min after each failure, taken by the next run (every 30 min) up to the
    failure at 2 h (2 h is not past the cutoff); G: waits 1 h, 1.5 h, 2.25 h, 3.375 h, 5.06 h
    (the planned gap grows by 1.5, the lateness does not), each to the next run; F,4d,6h every
    6 h; the give-up run is the first run after 4 d (96.5 h), and it bounces.
    """
    times = schedule(EximPolicy(), 0.0, 0.0)
    hours = [t / HOUR_S for t in times]
    expected = [0, 0.5, 1, 1.5, 2, 2.5, 3.5, 5, 7.5, 11, 16.5] + [22.5 + 6 * k for k in range(13)] + [96.5, 96.5]
    assert hours == expected
    assert len(times) - 1 == 25  # attempts until the bounce


def test_exim_default_with_connect_timeouts_whole_seconds_and_actual_gaps() -> None:
    """Queued at 100.4 s, each attempt fails 30 s in (a host that is down).

    Next-try is the failure's whole second plus the wait; the G wait is factor times the smaller
    of the planned and the actual gap, so an attempt that came late does not stretch the next
    wait. Hand arithmetic (failure -> next-try -> the run):
    130.4 -> 130+900 -> 1800; 1830 -> 2730 -> 3600; ... 7230 (age 7130 <= 2 h: F) -> 8130 -> 9000;
    9030 (G, first: max(1 h, 1.5 * min(900, 1800))) -> 12630 -> 14400;
    14430 (1.5 * min(3600, 5400)) -> 19830 -> 21600; 21630 (1.5 * 5400) -> 29730 -> 30600;
    30630 (1.5 * 8100) -> 42780 -> 43200; 43230 (1.5 * min(12150, 12600)) -> 61455 -> 63000;
    63030 (age > 16 h: F 6 h) -> 84630 -> 86400; then 6 h + 30 s late each time: +23400.
    """
    times = schedule(EximPolicy(), 100.4, 100.4, CONNECT_TIMEOUT_S)
    head = [100.4, 1800, 3600, 5400, 7200, 9000, 14400, 21600, 30600, 43200, 63000, 86400]
    assert times[: len(head)] == head
    tail = times[len(head) - 1 : -2]
    assert all(b - a == 23400 for a, b in itertools.pairwise(tail))
    # 86400 + 11 * 23400 = 343800; next-try 343830 + 21600 is later than the give-up run, the
    # first run at which the age exceeds 4 d: 347400 (at 345600 the age is 345499.6 s).
    assert times[-3:] == [86400 + 11 * 23400, 347400.0, 347430.0]


def test_exim_give_up_run_tries_once_more_then_bounces() -> None:
    p = EximPolicy(rule="F,200s,150s", queue_interval_s=60)
    # 0.35 fails: next-try 150 -> run 180; 180.1 fails: next-try 330, but the run at 240 is the
    # first with age > 200: tried regardless, fails at 240.1 and bounces.
    assert schedule(p, 0.25, 0.25, 0.1) == [0.25, 180.0, 240.0, 240.1]
    d = p.decide(180.1, 0.25, 0.35, 2, False, p.record_after(None, 0.35, 0.25))
    assert (d.action, d.next_attempt_s) == ("retry", 240.0)
    assert d.record == TryRecord(0.0, 180.0, 330.0)


def test_exim_give_up_beyond_the_last_cutoff_keeps_the_last_rule() -> None:
    p = EximPolicy(rule="F,1h,30m", give_up_s=2 * HOUR_S, queue_interval_s=600)
    times = schedule(p, 0.0, 0.0)
    assert times == [0, 1800, 3600, 5400, 7200, 7200]


def test_exim_rule_in_force_cutoff_is_inclusive() -> None:
    p = EximPolicy()
    assert p.rule_for(7200).kind == "F"
    assert p.rule_for(7201).kind == "G"
    assert p.rule_for(10 * DAY_S) == p.rules[-1]  # past the last cutoff the last rule stays


def test_exim_geometric_wait_uses_the_smaller_gap() -> None:
    p = EximPolicy(rule="G,1d,10m,2", queue_interval_s=0)
    first = p.record_after(None, 5.9, 0.0)
    assert first == TryRecord(5.0, 5.0, 605.0)  # gaps 0 at the first failure: the initial wait
    on_time = p.record_after(first, 605.5, 0.0)
    assert on_time == TryRecord(5.0, 605.0, 1805.0)
    late = p.record_after(first, 2000.0, 0.0)  # actual gap 1995 > planned 600: 2 * 600
    assert late == TryRecord(5.0, 2000.0, 3200.0)
    early = p.record_after(first, 300.0, 0.0)  # actual gap 295 < planned: max(600, 590)
    assert early == TryRecord(5.0, 300.0, 900.0)
    # Without queue runs the attempt is at the failure plus the wait.
    assert schedule(EximPolicy(rule="G,1d,10m,2", give_up_s=3 * HOUR_S, queue_interval_s=0), 0.0, 0.0) == [
        0, 600, 1800, 4200, 9000, 18600, 18600]


def test_exim_factor_one_is_fixed() -> None:
    assert [r.kind for r in parse_exim_rule("G,1d,10m,1; F,2d,1h")] == ["F", "F"]


def test_exim_host_record_and_held_message() -> None:
    p = EximPolicy()
    host = p.destination_failed(None, 100.7)
    assert host == TryRecord(100.0, 100.0, 1000.0)
    assert not p.destination_open(host, 999.99, 0.0)
    assert p.destination_open(host, 1000.0, 0.0)
    assert p.destination_open(host, 4 * DAY_S + 1.5, 1.0)  # past give-up: the give-up run tries the host
    again = p.destination_failed(host, 1830.2)  # 1730 s into the host's failures: still F
    assert again == TryRecord(100.0, 1830.0, 2730.0)
    # A message due at 1800.5 while the host waits until 2730: the first run at or after it.
    held = p.decide_held(1800.5, 0.0, 30.0, 2, False, None, 2730.0)
    assert held == RetryDecision("retry", 3600.0, False, None)
    # Past give-up a held message bounces (Exim: retry time not reached after a long failure period).
    assert p.decide_held(4 * DAY_S + 10, 0.0, 30.0, 9, False, None, 4 * DAY_S + 999).action == "bounce"
    # Near give-up the give-up run comes first.
    assert p.decide_held(4 * DAY_S - 100, 0.0, 30.0, 9, False, None, 5 * DAY_S).next_attempt_s == 4 * DAY_S + 1800


def test_exim_rejects_negative_queue_settings() -> None:
    with pytest.raises(ValueError, match="queue_interval_s"):
        EximPolicy(queue_interval_s=-1)
    with pytest.raises(ValueError, match="queue_phase_s"):
        EximPolicy(queue_phase_s=-5)


@pytest.mark.parametrize(
    ("text", "rules"),
    [
        ("F,2h,15m", (EximRule("F", 7200, 900),)),
        ("  f , 1d2h , 90s ;", (EximRule("F", 93600, 90),)),
        ("F,7200,900;G,57600,3600,1.5", (EximRule("F", 7200, 900), EximRule("G", 57600, 3600, 1.5))),
        ("F,7d,1.5h", (EximRule("F", 604800, 5400),)),
    ],
)
def test_exim_rule_forms(text: str, rules: tuple[EximRule, ...]) -> None:
    assert parse_exim_rule(text) == rules


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty"),
        (" ; ", "empty"),
        ("X,2h,15m", "unknown rule type"),
        ("H,2h,15m,2", "not supported"),
        ("F,2h", "expected F,<cutoff>,<interval>"),
        ("G,2h,15m", "expected G,<cutoff>,<initial>,<factor>"),
        ("F,2h,15m,3", "expected F"),
        ("F,2x,15m", "not a duration"),
        ("F,2h,", "not a duration"),
        ("F,1w,6h", "not a duration"),
        ("F,2h,0m", "interval must be positive"),
        ("F,0,15m", "cutoff must be positive"),
        ("F,2h,15m; F,1h,5m", "cutoffs must increase"),
        ("G,16h,1h,fast", "not a number"),
        ("G,16h,1h,0.5", "factor must be"),
        ("F,-2h,15m", "not a duration"),
        ("* * F,2h,15m", "unknown rule type"),
    ],
)
def test_exim_rule_errors(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message) as info:
        EximPolicy(rule=text)
    assert "Exim retry rule" in str(info.value)


def test_exim_error_names_the_offending_rule() -> None:
    with pytest.raises(ValueError, match=r"rule 2 'G,16h,1h'"):
        parse_exim_rule("F,2h,15m; G,16h,1h")


# --------------------------------------------------------------------------- #
# make_policy
# --------------------------------------------------------------------------- #


def test_make_policy_defaults() -> None:
    assert make_policy(spec(policy="fixed")) == FixedPolicy()
    assert make_policy(spec(policy="postfix")) == PostfixPolicy()
    assert make_policy(spec(policy="exim")) == EximPolicy()
    exchange = SimpleNamespace(**{k: v for k, v in vars(spec(policy="exchange")).items() if k != "warn_after_s"})
    assert make_policy(exchange) == ExchangePolicy()  # no warn_after attribute: the policy's 4 h
    assert make_policy(spec(policy="exchange")).warn_after_s is None  # present and None: warnings off
    assert make_policy(spec(policy="backoff")) == BackoffPolicy()
    assert make_policy(spec()) == FixedPolicy()  # no policy named: the scenario default
    assert set(POLICY_NAMES) == {"fixed", "postfix", "exim", "exchange", "backoff"}


def test_make_policy_settings() -> None:
    p = make_policy(spec(policy="fixed", interval_s=600, give_up_s=7200, warn_after_s=3600))
    assert p == FixedPolicy(interval_s=600, give_up_s=7200, warn_after_s=3600)
    p = make_policy(spec(policy="backoff", initial_s=60, factor=3, max_s=3600, give_up_s=DAY_S))
    assert p == BackoffPolicy(initial_s=60, factor=3, max_s=3600, give_up_s=DAY_S)
    p = make_policy(spec(policy="exim", rule="F,1h,5m", give_up_s=HOUR_S))
    assert isinstance(p, EximPolicy)
    assert p.rules == (EximRule("F", 3600, 300),)
    p = make_policy(spec(policy="exchange", warn_after_s=600))
    assert p == ExchangePolicy(warn_after_s=600)
    # Attributes may be missing altogether.
    assert make_policy(SimpleNamespace(policy="postfix", min_backoff_s=60)) == PostfixPolicy(min_backoff_s=60)


def test_make_policy_errors() -> None:
    with pytest.raises(ValueError, match="unknown retry policy 'sendmail'"):
        make_policy(spec(policy="sendmail"))
    with pytest.raises(ValueError, match="'interval_s' does not apply to policy 'postfix'"):
        make_policy(spec(policy="postfix", interval_s=600))
    with pytest.raises(ValueError, match="'rule' does not apply to policy 'fixed'"):
        make_policy(spec(policy="fixed", rule="F,1h,5m"))
    with pytest.raises(ValueError, match="interval_s"):
        make_policy(spec(policy="fixed", interval_s=0))
    with pytest.raises(ValueError, match="give_up_s"):
        make_policy(spec(policy="fixed", give_up_s=-1))
    with pytest.raises(ValueError, match="warn_after_s"):
        make_policy(spec(policy="exchange", warn_after_s=math.nan))


def test_policies_are_frozen_and_hashable() -> None:
    p = FixedPolicy()
    with pytest.raises(AttributeError):
        p.interval_s = 5  # type: ignore[misc]
    assert len({FixedPolicy(), FixedPolicy(), EximPolicy(), EximPolicy()}) == 2


def test_decide_rejects_inconsistent_times() -> None:
    p = FixedPolicy()
    with pytest.raises(ValueError, match="failures"):
        p.decide(10.0, 0.0, 10.0, 0, False)
    with pytest.raises(ValueError, match="queued_at_s <= first_failure_s <= failed_at_s"):
        p.decide(10.0, 0.0, 20.0, 1, False)
    with pytest.raises(ValueError, match="queued_at_s <= first_failure_s <= failed_at_s"):
        p.next_attempt_s(10.0, 11.0, 10.0, 1)


# --------------------------------------------------------------------------- #
# Properties
# --------------------------------------------------------------------------- #

secs = st.floats(min_value=60.0, max_value=DAY_S, allow_nan=False)
give_ups = st.floats(min_value=0.0, max_value=6 * DAY_S, allow_nan=False)
warns = st.none() | st.floats(min_value=0.0, max_value=6 * DAY_S, allow_nan=False)


@st.composite
def exim_rules(draw: st.DrawFn) -> str:
    n = draw(st.integers(min_value=1, max_value=4))
    cutoffs = sorted(draw(st.sets(st.integers(min_value=60, max_value=5 * 86400), min_size=n, max_size=n)))
    parts = []
    for cutoff in cutoffs:
        interval = draw(st.integers(min_value=60, max_value=86400))
        if draw(st.booleans()):
            factor = draw(st.floats(min_value=1.0, max_value=3.0, allow_nan=False))
            parts.append(f"G,{cutoff},{interval},{factor!r}")
        else:
            parts.append(f"F,{cutoff}s,{interval}s")
    return "; ".join(parts)


@st.composite
def postfix_policies(draw: st.DrawFn) -> PostfixPolicy:
    lo = draw(secs)
    hi = draw(st.floats(min_value=lo, max_value=2 * DAY_S, allow_nan=False))
    return PostfixPolicy(
        give_up_s=draw(give_ups), warn_after_s=draw(warns), min_backoff_s=lo, max_backoff_s=hi,
        queue_run_delay_s=draw(st.sampled_from([0.0, 15.0, 300.0, 1000.5])),
        queue_phase_s=draw(st.floats(min_value=0.0, max_value=2000.0, allow_nan=False)),
    )


@st.composite
def backoff_policies(draw: st.DrawFn) -> BackoffPolicy:
    initial = draw(secs)
    return BackoffPolicy(
        initial_s=initial,
        factor=draw(st.floats(min_value=1.0, max_value=10.0, allow_nan=False)),
        max_s=draw(st.floats(min_value=initial, max_value=2 * DAY_S, allow_nan=False)),
        give_up_s=draw(give_ups),
        warn_after_s=draw(warns),
    )


policies = st.one_of(
    st.builds(FixedPolicy, interval_s=secs, give_up_s=give_ups, warn_after_s=warns),
    st.builds(ExchangePolicy, interval_s=secs, give_up_s=give_ups, warn_after_s=warns),
    postfix_policies(),
    backoff_policies(),
    st.builds(EximPolicy, rule=exim_rules(), give_up_s=give_ups, warn_after_s=warns,
              queue_interval_s=st.sampled_from([0.0, 60.0, 1800.0, 1000.5]),
              queue_phase_s=st.floats(min_value=0.0, max_value=2000.0, allow_nan=False)),
    st.sampled_from([FixedPolicy(), PostfixPolicy(), EximPolicy(), ExchangePolicy(), BackoffPolicy()]),
)


def max_wait_s(policy: RetryPolicy) -> float | None:
    """The longest single wait a policy can impose, where it has a simple bound."""
    if isinstance(policy, FixedPolicy | ExchangePolicy):
        return policy.interval_s
    if isinstance(policy, PostfixPolicy):  # rounded up to a scan; the first scan may be at the phase
        return max(policy.max_backoff_s + policy.queue_run_delay_s, policy.queue_phase_s)
    if isinstance(policy, BackoffPolicy):
        return policy.max_s
    if isinstance(policy, EximPolicy) and policy.rule == EximPolicy().rule:
        # The wait in force when the 4 d give-up is reached (plus the whole second), to the next run.
        return 6 * HOUR_S + 1 + max(policy.queue_interval_s, policy.queue_phase_s)
    return None


@settings(max_examples=200, deadline=None)
@given(
    policy=policies,
    queued_at_s=st.floats(min_value=0.0, max_value=1e7, allow_nan=False),
    first_delay_s=st.floats(min_value=0.0, max_value=10 * DAY_S, allow_nan=False),
    more_s=st.floats(min_value=0.0, max_value=10 * DAY_S, allow_nan=False),
    failures=st.integers(min_value=1, max_value=10_000),
    warned=st.booleans(),
)
def test_next_attempt_is_strictly_after_the_failure(
    policy: RetryPolicy,
    queued_at_s: float,
    first_delay_s: float,
    more_s: float,
    failures: int,
    warned: bool,
) -> None:
    first = queued_at_s + first_delay_s
    failed_at = first + more_s
    assert policy.next_attempt_s(failed_at, queued_at_s, first, failures) > failed_at
    d = policy.decide(failed_at, queued_at_s, first, failures, warned)
    if failed_at - queued_at_s >= policy.give_up_s:
        assert d == RetryDecision("bounce", None, False)
    else:
        assert d.action == "retry"
        assert d.next_attempt_s is not None and d.next_attempt_s > failed_at
        assert d.warn == (
            policy.warn_after_s is not None and not warned and failed_at >= queued_at_s + policy.warn_after_s
        )


@settings(max_examples=100, deadline=None)
@given(
    policy=policies,
    queued_at_s=st.floats(min_value=0.0, max_value=1e6, allow_nan=False),
    first_delay_s=st.floats(min_value=0.0, max_value=HOUR_S, allow_nan=False),
    duration_s=st.sampled_from([0.0, 0.5, 30.0, 90.0]),
)
def test_schedule_increases_and_ends_in_a_bounce(
    policy: RetryPolicy, queued_at_s: float, first_delay_s: float, duration_s: float
) -> None:
    first_attempt = queued_at_s + first_delay_s
    times = schedule(policy, queued_at_s, first_attempt, duration_s)
    attempts, bounce = times[:-1], times[-1]
    assert attempts[0] == first_attempt
    assert all(b > a for a, b in itertools.pairwise(attempts))
    assert bounce == attempts[-1] + duration_s
    fails = [a + duration_s for a in attempts]
    # The bounce is the first failure at or past give_up; every earlier one retried.
    assert bounce - queued_at_s >= policy.give_up_s
    assert all(f - queued_at_s < policy.give_up_s for f in fails[:-1])
    if len(fails) >= 2:
        last_wait = attempts[-1] - fails[-2]
        if not isinstance(policy, EximPolicy):  # exim's wait depends on its retry record too
            assert (
                last_wait == policy.next_attempt_s(fails[-2], queued_at_s, fails[0], len(fails) - 1) - fails[-2]
            )
        # So the bounce comes no later than give_up plus one wait (and the attempt).
        assert bounce <= queued_at_s + policy.give_up_s + last_wait + duration_s
        bound = max_wait_s(policy)
        if bound is not None:
            assert last_wait <= bound + 1e-6  # float rounding of (f + wait) - f
            assert bounce <= queued_at_s + policy.give_up_s + bound + duration_s + 1e-6
    else:
        assert fails[0] - queued_at_s >= policy.give_up_s


@settings(max_examples=100, deadline=None)
@given(policy=policies, duration_s=st.sampled_from([0.0, 30.0]))
def test_at_most_one_warning_and_never_with_the_bounce(policy: RetryPolicy, duration_s: float) -> None:
    q = 5.0
    times = schedule(policy, q, q, duration_s)
    fails = failures_of(times, duration_s)
    warned = False
    warns_seen = 0
    record = None
    for n, t in enumerate(fails, start=1):
        d = policy.decide(t, q, fails[0], n, warned, record)
        record = d.record
        if d.warn:
            warns_seen += 1
            warned = True
            assert d.action == "retry"
            assert policy.warn_after_s is not None and t >= q + policy.warn_after_s
    assert warns_seen <= 1
    if policy.warn_after_s is None:
        assert warns_seen == 0
    elif any(q + policy.warn_after_s <= t for t in fails[:-1]):
        assert warns_seen == 1
