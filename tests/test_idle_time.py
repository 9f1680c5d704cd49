"""Idle simulated time costs nothing: the clock jumps from one event to the next.

A message retried for five days against a server that stays down, and a run held open by a
30-day ``until``, each take a handful of events. The number of SimPy events a run processes is
deterministic (wall time is not), so the tests count events: a run whose idle gaps are ten times
longer processes exactly as many.
"""

from __future__ import annotations

import csv
import io
import json
import math
import textwrap
from pathlib import Path

import pytest

from simulator import load_scenario
from simulator import world as world_module
from simulator.cli import main
from simulator.world import RunStatus, World

DAY_S = 86_400.0
HOUR_S = 3600.0
CONNECT_TIMEOUT_S = 30.0

DOWN = """\
    name: down-for-good
    duration: 1m
    network:
      links:
        - {between: [office, mx.alpha], latency: 1ms}
        - {between: [mx.alpha, mx.beta], latency: 10ms}
    servers:
      mx.alpha: {domains: [alpha.example], retry: RETRY}
      mx.beta: {domains: [beta.example]}
    users:
      - {address: alice@alpha.example, at: office}
      - {address: bob@beta.example, at: mx.beta}
    messages:
      - {at: 0s, from: alice@alpha.example, to: bob@beta.example, size: 1KB}
    outages:
      - {target: mx.beta, start: 0s, duration: 90d}
"""


def down_scenario(retry: str) -> str:
    return textwrap.dedent(DOWN).replace("RETRY", retry)


def run_world(text: str) -> World:
    world = World(load_scenario(text))
    world.run()
    return world


def postfix_schedule(queued_at_s: float) -> tuple[list[float], float]:
    """Attempt times and bounce time under the postfix defaults when every attempt waits out the
    connect timeout: after a failure at f the next attempt is at the first queue scan s (every
    300 s from 0) with s >= f + clamp(f - q, 300, 4000) - 1 and s > f, and the failure at or past
    q + 5 d bounces."""
    attempts, attempt_s = [], queued_at_s
    while True:
        attempts.append(attempt_s)
        failed_s = attempt_s + CONNECT_TIMEOUT_S
        age_s = failed_s - queued_at_s
        if age_s >= 5 * DAY_S:
            return attempts, failed_s
        due_s = failed_s + min(max(age_s, 300.0), 4000.0) - 1.0
        attempt_s = 300.0 * math.ceil(due_s / 300.0)
        if attempt_s <= failed_s:
            attempt_s += 300.0


def read_events(folder: Path) -> list[dict[str, str]]:
    with open(folder / "events.csv", newline="") as f:
        return list(csv.DictReader(f))


def test_five_day_postfix_retry_to_a_server_that_stays_down(tmp_path: Path) -> None:
    scenario = tmp_path / "down.yaml"
    scenario.write_text(down_scenario("{policy: postfix}"))
    out, err = io.StringIO(), io.StringIO()
    code = main(["run", str(scenario), "-o", str(tmp_path / "r"), "-q", "--no-plots"], out, err)
    assert (code, out.getvalue(), err.getvalue()) == (0, "", "")
    log = read_events(tmp_path / "r")
    queued_s = next(float(e["time"]) for e in log if e["event"] == "enqueued" and e["message_id"] == "m1")
    expected_attempts, bounce_s = postfix_schedule(queued_s)
    attempts = [float(e["time"]) for e in log if e["event"] == "attempt" and e["message_id"] == "m1"]
    assert len(attempts) == len(expected_attempts) > 100
    assert attempts == pytest.approx(expected_attempts, abs=1e-6)
    bounced = [e for e in log if e["event"] == "bounced" and e["message_id"] == "m1"]
    assert [float(e["time"]) for e in bounced] == pytest.approx([bounce_s], abs=1e-6)
    assert 5 * DAY_S <= bounce_s - queued_s < 5 * DAY_S + 4000 + CONNECT_TIMEOUT_S
    counts = json.loads((tmp_path / "r" / "summary.json").read_text())["counts"]
    assert (counts["bounced"], counts["delivered"], counts["pending"], counts["bounces_sent"]) == (1, 0, 0, 1)
    # The bounce reaches alice (IMAP IDLE) right away, and the run ends with that.
    end_s = json.loads((tmp_path / "r" / "summary.json").read_text())["end_time_s"]
    assert bounce_s < end_s < bounce_s + 1.0


def test_five_days_of_retries_take_events_per_attempt_not_per_simulated_second() -> None:
    world = run_world(down_scenario("{policy: postfix}"))
    attempts = sum(1 for r in world.log.records if r[1] == "attempt")
    # A few events per attempt (its process, its connect timeout, the retry wait), none for
    # the hours between attempts.
    assert attempts > 100
    assert world.events_processed < 10 * attempts


def test_ten_times_longer_waits_between_the_same_attempts_cost_no_more_events() -> None:
    short = run_world(down_scenario("{policy: fixed, interval: 1h, give_up: 10h}"))
    long = run_world(down_scenario("{policy: fixed, interval: 10h, give_up: 100h}"))
    for world in (short, long):
        assert [r[1] for r in world.log.records].count("attempt") == 11  # 10 h / (1 h + 30 s): 11 tries
    assert long.env.now > 9 * short.env.now
    assert long.events_processed == short.events_processed


def test_a_thirty_day_until_ends_at_thirty_days_and_costs_no_more_than_three_days() -> None:
    def held_open(interval: str, until: str) -> World:
        text = down_scenario(f"{{policy: fixed, interval: {interval}, give_up: 60d}}").replace(
            "duration: 1m", f"duration: 1m\nuntil: {until}")
        return run_world(text)

    three, thirty = held_open("1d", "3d"), held_open("10d", "30d")
    assert (three.env.now, thirty.env.now) == (3 * DAY_S, 30 * DAY_S)
    for world, interval_s in ((three, DAY_S), (thirty, 10 * DAY_S)):
        attempts = [r[0] for r in world.log.records if r[1] == "attempt"]
        queued_s = attempts[0]
        assert attempts == pytest.approx([queued_s + k * (interval_s + CONNECT_TIMEOUT_S) for k in range(3)])
        assert [r[1] for r in world.log.records].count("bounced") == 0  # still pending at the stop
    assert thirty.events_processed == three.events_processed


DELIVERED_AT_ONCE = """\
    name: then-nothing
    duration: 1m
    until: 1h
    network:
      links:
        - {between: [office, mx.alpha], latency: 1ms}
        - {between: [mx.alpha, mx.beta], latency: 10ms}
    servers:
      mx.alpha: {domains: [alpha.example]}
      mx.beta: {domains: [beta.example]}
    users:
      - {address: alice@alpha.example, at: office}
      - {address: bob@beta.example, at: mx.beta, access: {protocol: pop3, poll: 1h, keep: true}}
    messages:
      - {at: 0s, from: alice@alpha.example, to: bob@beta.example, size: 1KB}
      - {at: 1h, from: alice@alpha.example, to: bob@beta.example, size: 2KB}
"""


def test_until_keeps_everything_due_at_that_instant_and_nothing_after() -> None:
    world = run_world(textwrap.dedent(DELIVERED_AT_ONCE))
    assert world.env.now == HOUR_S
    created = [(r[0], r[2]) for r in world.log.records if r[1] == "created"]
    assert created == [(0.0, "m1"), (HOUR_S, "m2")]
    assert max(r[0] for r in world.log.records) == HOUR_S


def test_progress_is_told_every_batch_of_events_and_at_the_end(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(world_module, "PROGRESS_EVERY_EVENTS", 10)
    text = Path(__file__).resolve().parents[1].joinpath("scenarios", "quickstart.yaml").read_text()
    world = World(load_scenario(text))
    seen: list[tuple[int, float, bool]] = []

    def progress(status: RunStatus) -> None:
        seen.append((status.events, status.now_s, status.finished))

    world.run(progress)
    total = world.events_processed
    assert total > 100
    assert [events for events, _, _ in seen] == [*range(10, total, 10), total]
    assert [now for _, now, _ in seen] == sorted(now for _, now, _ in seen)
    assert [finished for _, _, finished in seen] == [False] * (len(seen) - 1) + [True]
