"""The ``postfix`` and ``exim`` presets against schedules measured on the real MTAs.

``validation/mta_retry.py measure`` ran Postfix 3.7.11 and Exim 4.96 (Debian 12 packages) on
127.0.0.1, each relaying one message to a stub server that answered 451 to RCPT TO, with every
time scaled down 20 times (Postfix: ``queue_run_delay``, ``minimal_backoff_time`` 15 s,
``maximal_backoff_time`` 200 s; Exim: the default rule divided by 20 and ``-q90s``), plus an Exim
run with a one-step rule ``F,200s,150s`` and ``-q60s`` to see its give-up run. The attempt
times below are what the stub saw, in seconds after the message was submitted
(``validation/measured-2026-11-30.json``).

The presets get the same parameters; the only value taken from the measurement is the phase of
the scan grid, from the first retry (the queue manager or queue-runner daemon fixes it when it
starts). Every later attempt is a prediction, and must fall within ``TOLERANCE_S`` of the real
one: the MTAs' own processing (a forked queue runner reading its spool, a scan timer re-armed
after the scan) is a few tenths of a second per attempt, unscaled.
"""

from __future__ import annotations

import itertools

import pytest

from simulator.retry import EximPolicy, PostfixPolicy, schedule

TOLERANCE_S = 2.0

POSTFIX_ATTEMPTS_S = [0.072, 28.134, 58.17, 118.223, 238.41, 448.753, 658.026, 868.31, 1078.598, 1288.934, 1499.182]
EXIM_ATTEMPTS_S = [0.073, 88.721, 178.781, 268.849, 358.833, 448.761, 628.86, 898.889, 1348.809]
EXIM_SUBMITTED_FRACTION_S = 0.30948448181152344  # Exim reads whole seconds of the wall clock
EXIM_GIVE_UP_ATTEMPTS_S = [0.069, 178.621, 238.675]
EXIM_GIVE_UP_SUBMITTED_FRACTION_S = 0.44147205352783203
EXIM_GIVE_UP_BOUNCED_S = 238.559  # "retry timeout exceeded", the log line's whole second
WATCHED_S = 1500.0


def test_postfix_preset_matches_real_postfix_scaled() -> None:
    real = POSTFIX_ATTEMPTS_S
    policy = PostfixPolicy(min_backoff_s=15, max_backoff_s=200, queue_run_delay_s=15, queue_phase_s=real[1] % 15)
    model = schedule(policy, 0.0, real[0], horizon_s=WATCHED_S)
    assert len(model) == len(real)
    assert model == pytest.approx(real, abs=TOLERANCE_S)
    # The compounding is real: unquantized backoff would put the sixth attempt near 240 s, not 449 s,
    # and the steady wait is 200 s rounded up to whole 15 s scans: 210 s.
    unquantized = schedule(PostfixPolicy(min_backoff_s=15, max_backoff_s=200, queue_run_delay_s=0), 0.0, real[0],
                           horizon_s=WATCHED_S)
    assert abs(unquantized[5] - real[5]) > 100
    assert [b - a for a, b in itertools.pairwise(model[6:])] == pytest.approx([210.0] * 4, abs=1e-9)


def test_exim_preset_matches_real_exim_scaled() -> None:
    q = EXIM_SUBMITTED_FRACTION_S
    real = [q + t for t in EXIM_ATTEMPTS_S]
    rule = "F,360s,45s; G,2880s,180s,1.5; F,17280s,1080s"
    policy = EximPolicy(rule=rule, queue_interval_s=90, queue_phase_s=real[1] % 90)
    model = schedule(policy, q, real[0], horizon_s=q + WATCHED_S)
    assert len(model) == len(real)
    assert model == pytest.approx(real, abs=TOLERANCE_S)
    # The 45 s retries of the first step wait for the 90 s queue runs; the G waits (180, 270,
    # 405 s) are each rounded up to a run, without compounding.
    gaps = [b - a for a, b in itertools.pairwise(model)]
    assert gaps[1:] == pytest.approx([90, 90, 90, 90, 180, 270, 450], abs=1e-9)


def test_exim_give_up_run_matches_real_exim() -> None:
    q = EXIM_GIVE_UP_SUBMITTED_FRACTION_S
    real = [q + t for t in EXIM_GIVE_UP_ATTEMPTS_S]
    policy = EximPolicy(rule="F,200s,150s", queue_interval_s=60, queue_phase_s=real[1] % 60)
    model = schedule(policy, q, real[0])
    attempts, bounce = model[:-1], model[-1]
    # The third attempt is the give-up run: its retry time (about 180 + 150 s) had not come.
    assert attempts == pytest.approx(real, abs=TOLERANCE_S)
    assert bounce == pytest.approx(q + EXIM_GIVE_UP_BOUNCED_S, abs=TOLERANCE_S)
