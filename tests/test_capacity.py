"""Server capacity: processing workers, ``max_inbound``, ``rate_limit``, ``queue_limit`` and
``destination_concurrency``, each timed exactly on a small world.

The world: ``lan.a --5ms-- mx.a --50ms-- mx.b --5ms-- lan.b`` (and a backup MX ``backup.b``
10 ms from ``mx.a``), no bandwidth limits, so every transfer takes no time. A submission from
``lan.a`` takes 4.5 RTT = 0.045 s, a relay from ``mx.a`` to ``mx.b`` 4.5 RTT = 0.45 s. A 421 at
the greeting is known to the client after 2 RTT, a 452 to MAIL FROM or a 450 to a pipelined
RCPT after 4 RTT. The sending server retries every 30 minutes (``fixed``), a user agent every
60 s.
"""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import assert_conserved, events, exact, run_yaml

from simulator import load_scenario, run
from simulator.cli import main
from simulator.transcript.build import build_conversations
from simulator.world import World

SUB = 0.01  # RTT lan.a -- mx.a
RTT = 0.1  # RTT mx.a -- mx.b
RTT_BACKUP = 0.02  # RTT mx.a -- backup.b
RETRY_S = 1800.0
SUBMIT_RETRY_S = 60.0


def world(mx_a: str = "{}", mx_b: str = "{}", messages: str = "", backup: str | None = None,
          outages: str = "") -> str:
    """The test world as YAML; server settings and ``messages`` are flow-style YAML."""
    servers = {"mx.a": {"domains": ["a.example", "c.example"], **yaml.safe_load(mx_a)},
               "mx.b": {"domains": ["b.example"], **yaml.safe_load(mx_b)}}
    links = [{"between": ["lan.a", "mx.a"], "latency": "5ms"}, {"between": ["mx.a", "mx.b"], "latency": "50ms"},
             {"between": ["lan.b", "mx.b"], "latency": "5ms"}]
    scenario: dict[str, Any] = {"name": "capacity", "duration": "2h", "network": {"links": links},
                                "servers": servers, "defaults": {"retry": {"policy": "fixed", "interval": "30m"}}}
    if backup is not None:
        links.append({"between": ["mx.a", "backup.b"], "latency": "10ms"})
        servers["backup.b"] = yaml.safe_load(backup)
        scenario["dns"] = {"b.example": [{"host": "mx.b", "preference": 10}, {"host": "backup.b", "preference": 20}]}
    scenario["users"] = [{"group": {"prefix": "x", "count": 4, "domain": "a.example"}, "at": "lan.a"},
                         {"group": {"prefix": "z", "count": 4, "domain": "b.example"}, "at": "lan.b"},
                         {"address": "c@c.example", "at": "lan.a"}]
    scenario["messages"] = yaml.safe_load(textwrap.dedent(messages)) or []
    if outages:
        scenario["outages"] = yaml.safe_load(outages)["outages"]
    return yaml.safe_dump(scenario, sort_keys=False)


def delivered_at(result: Any, mid: str) -> list[float]:
    return [e.time for e in events(result, "delivered", mid)]


def finished_world(text: str) -> World:
    """Run the scenario on a world kept for inspection."""
    w = World(load_scenario(text))
    w.run()
    return w


# ---- workers and processing ------------------------------------------------------------------


def test_one_worker_processes_in_arrival_order_and_each_message_waits_for_it() -> None:
    text = world(mx_b="{workers: 1, processing: 2s}", messages="""
        - {at: 0, from: x001@a.example, to: z001@b.example, size: 1KB}
        - {at: 0.1, from: x002@a.example, to: z002@b.example, size: 1KB}
        - {at: 5, from: x003@a.example, to: z003@b.example, size: 1KB}
        """)
    result = run_yaml(text)
    accepted = [0 + SUB * 4.5 + RTT * 4.5, 0.1 + SUB * 4.5 + RTT * 4.5, 5 + SUB * 4.5 + RTT * 4.5]
    starts = [accepted[0], accepted[0] + 2, accepted[2]]  # m2 waits for m1; m3 finds the worker free
    for mid, start, acc in zip(("m1", "m2", "m3"), starts, accepted, strict=True):
        (processing,) = events(result, "processing", mid, "mx.b")
        (processed,) = events(result, "processed", mid, "mx.b")
        assert processing.time == exact(start)
        assert processed.time == exact(start + 2)
        assert delivered_at(result, mid) == [exact(start + 2)]
        (got,) = [e.time for e in events(result, "accepted", mid, "mx.b")]
        assert got == exact(acc)
    breakdown = {r["message_id"]: r for r in result.breakdown_rows}
    assert breakdown["m2"]["worker_wait_s"] == exact(accepted[0] + 2 - accepted[1])
    assert breakdown["m2"]["processing_s"] == exact(2.0)
    assert breakdown["m3"]["worker_wait_s"] == exact(0.0)
    for r in breakdown.values():
        parts = r["queue_wait_s"] + r["worker_wait_s"] + r["processing_s"] + r["transfer_s"]
        assert parts == exact(r["latency_s"])
    assert_conserved(result)


def test_two_workers_and_a_relay_stage_queue_the_message_after_processing() -> None:
    """mx.a processes submissions (2 workers, 1 s each): the relay starts when processing ends."""
    text = world(mx_a="{workers: 2, processing: 1s}", messages="""
        - {at: 0, from: x001@a.example, to: z001@b.example, size: 1KB}
        - {at: 0, from: x002@a.example, to: z002@b.example, size: 1KB}
        - {at: 0, from: x003@a.example, to: z003@b.example, size: 1KB}
        """)
    result = run_yaml(text)
    submitted = SUB * 4.5
    done = {"m1": submitted + 1, "m2": submitted + 1, "m3": submitted + 2}
    for mid, end in done.items():
        (enqueued,) = events(result, "enqueued", mid, "mx.a")
        assert enqueued.time == exact(end)
        assert delivered_at(result, mid) == [exact(end + RTT * 4.5)]
    breakdown = {r["message_id"]: r for r in result.breakdown_rows}
    assert breakdown["m3"]["worker_wait_s"] == exact(1.0)
    assert breakdown["m3"]["processing_s"] == exact(1.0)
    assert breakdown["m3"]["queue_wait_s"] == exact(0.0)


def test_processing_without_workers_is_a_pure_delay_and_keeps_the_run_counter_balanced() -> None:
    text = world(mx_b="{processing: {uniform: {low: 1s, high: 3s}}}", messages="""
        - {at: 0, from: x001@a.example, to: z001@b.example, size: 1KB}
        - {at: 0, from: x002@a.example, to: z002@b.example, size: 1KB}
        """)
    w = finished_world(text)
    assert w.ctx.busy == 0
    starts = [r for r in w.log.records if r[1] == "processing"]
    ends = {r[2]: r[0] for r in w.log.records if r[1] == "processed"}
    assert [r[0] for r in starts] == [exact(4.5 * SUB + 4.5 * RTT)] * 2  # no waiting
    for _, _, mid, _, _ in starts:
        assert 1.0 <= ends[mid] - starts[0][0] <= 3.0


ONE_WORKER_TWO_MESSAGES = world(mx_b="{workers: 1, processing: 2s}", messages="""
    - {at: 0, from: x001@a.example, to: z001@b.example, size: 1KB}
    - {at: 0.1, from: x002@a.example, to: z002@b.example, size: 1KB}
    """)
"""mx.b with one worker processing each message for 2 s; m1 at 0, m2 at 0.1 s (it waits for the worker)."""


def test_messages_in_a_stage_keep_the_run_open_and_workers_are_made_once() -> None:
    """While m1 is processed and m2 waits for the one worker, both are outstanding work (held by
    the stage); without a limit, a stage has as many workers as it ever had messages at once."""
    w = World(load_scenario(ONE_WORKER_TWO_MESSAGES))
    workers = w.ctx.servers["mx.b"].workers
    assert workers is not None
    stage = workers  # (its narrowed type, for the callback)
    seen: list[tuple[int, bool, int]] = []
    w.env.timeout(0.1 + SUB * 4.5 + RTT * 4.5 + 0.5).callbacks.append(
        lambda _event: seen.append((len(stage.waiting), not stage.idle, w.ctx.busy)))
    w.run()
    (waiting, working, busy), = seen
    assert waiting == 1 and working and busy >= 2
    assert len(stage.idle) == 1 and not stage.waiting

    unlimited = world(mx_b="{processing: 2s}", messages="""
        - {at: 0, from: x001@a.example, to: z001@b.example, size: 1KB}
        - {at: 0, from: x002@a.example, to: z002@b.example, size: 1KB}
        - {at: 0, from: x003@a.example, to: z003@b.example, size: 1KB}
        - {at: 100, from: x004@a.example, to: z004@b.example, size: 1KB}
        """)
    w = finished_world(unlimited)
    workers = w.ctx.servers["mx.b"].workers
    assert workers is not None
    assert len(workers.idle) == 3  # the fourth message found one idle
    assert len([r for r in w.log.records if r[1] == "processed"]) == 4


def test_a_worker_is_its_own_processing_timer_and_is_set_again_for_the_next_message() -> None:
    """While m1 is processed the schedule holds the worker itself (no timeout made for it); when
    it is done it is set again at once for m2, which waited: m2's processing starts as m1's ends."""
    w = World(load_scenario(ONE_WORKER_TWO_MESSAGES))
    stage = w.ctx.servers["mx.b"].workers
    assert stage is not None
    (worker,) = stage.idle
    scheduled: list[list[float]] = []

    def look(_event: Any) -> None:
        scheduled.append([entry[0] for entry in w.env._queue if entry[3] is worker])

    first_start = 4.5 * SUB + 4.5 * RTT
    for at_s in (first_start + 1.0, first_start + 3.0):
        w.env.timeout(at_s).callbacks.append(look)
    w.run()
    assert scheduled == [[exact(first_start + 2.0)], [exact(first_start + 4.0)]]
    times = {(r[1], r[2]): r[0] for r in w.log.records if r[1] in ("processing", "processed")}
    assert times[("processing", "m2")] == times[("processed", "m1")] == exact(first_start + 2.0)
    assert stage.idle == [worker] and worker.job is None


def test_a_server_down_starts_no_processing_until_it_is_back() -> None:
    text = world(mx_b="{workers: 1, processing: 2s}", messages="""
        - {at: 0, from: x001@a.example, to: z001@b.example, size: 1KB}
        - {at: 0.1, from: x002@a.example, to: z002@b.example, size: 1KB}
        """, outages="outages:\n  - {target: mx.b, start: 1s, duration: 10s}\n")
    w = finished_world(text)
    assert w.ctx.busy == 0
    times = {(r[1], r[2]): r[0] for r in w.log.records if r[1] in ("processing", "processed")}
    # m1 started before the outage: its processing ends during it, and it is taken at 11 s.
    assert times[("processed", "m1")] == exact(11.0)
    assert times[("processing", "m2")] == exact(11.0)
    assert times[("processed", "m2")] == exact(13.0)


# ---- max_inbound -------------------------------------------------------------------------------


def test_a_session_beyond_max_inbound_gets_421_and_retries_by_policy() -> None:
    text = world(mx_b="{max_inbound: 1}", messages="""
        - {at: 0, from: x001@a.example, to: z001@b.example, size: 1KB}
        - {at: 0.1, from: x002@a.example, to: z002@b.example, size: 1KB}
        """)
    result = run_yaml(text)
    t0 = 0.1 + 4.5 * SUB  # m2's attempt, while m1's session (0.045 to 0.495) is open
    (refused,) = events(result, "refused")
    assert (refused.time, refused.message_id, refused.node) == (exact(t0), "m2", "mx.b")
    assert (refused.f["client"], refused.f["code"], refused.f["status"], refused.f["why"]) == (
        "mx.a", "421", "4.3.2", "max_inbound")
    (failed,) = events(result, "connect_failed", "m2")
    assert failed.time == exact(t0 + 2 * RTT) and failed.f["code"] == "421"
    (deferred,) = events(result, "deferred", "m2")
    assert float(deferred.f["next"]) == exact(t0 + 2 * RTT + RETRY_S)
    assert delivered_at(result, "m2") == [exact(t0 + 2 * RTT + RETRY_S + 4.5 * RTT)]
    assert result.summary["refusals"] == {"mx.b": {"421 4.3.2": 1}}
    assert_conserved(result)


def test_a_421_at_the_greeting_moves_on_to_the_next_mx_at_once() -> None:
    text = world(mx_b="{max_inbound: 1}", backup="{relay_for: [b.example]}", messages="""
        - {at: 0, from: x001@a.example, to: z001@b.example, size: 1KB}
        - {at: 0.1, from: x002@a.example, to: z002@b.example, size: 1KB}
        """)
    result = run_yaml(text)
    t0 = 0.1 + 4.5 * SUB
    (accepted,) = events(result, "accepted", "m2", "backup.b")
    assert accepted.time == exact(t0 + 2 * RTT + 4.5 * RTT_BACKUP)
    assert not events(result, "deferred", "m2", "mx.a")


def test_a_submission_refused_at_the_greeting_is_submitted_again_after_60_s() -> None:
    text = world(mx_a="{max_inbound: 1}", messages="""
        - {at: 0, from: x001@a.example, to: z001@b.example, size: 1KB}
        - {at: 0.01, from: x002@a.example, to: z002@b.example, size: 1KB}
        """)
    result = run_yaml(text)
    (failed,) = events(result, "submit_failed", "m2")
    assert failed.time == exact(0.01 + 2 * SUB)
    assert (failed.f["code"], float(failed.f["next"])) == ("421", exact(0.01 + 2 * SUB + SUBMIT_RETRY_S))
    (accepted,) = events(result, "accepted", "m2", "mx.a")
    assert accepted.time == exact(0.01 + 2 * SUB + SUBMIT_RETRY_S + 4.5 * SUB)


# ---- rate_limit --------------------------------------------------------------------------------


def test_a_throttled_sender_gets_421_4_7_0_until_the_next_window() -> None:
    """Two messages per hour from mx.a: the third and fourth are refused at 0 and 30 min, and
    pass at the third try, in the next window (both, since the window admits two)."""
    text = world(mx_b="{rate_limit: {messages: 2, per: 1h}}", messages="""
        - {at: 0, from: x001@a.example, to: z001@b.example, size: 1KB}
        - {at: 1, from: x002@a.example, to: z002@b.example, size: 1KB}
        - {at: 2, from: x003@a.example, to: z003@b.example, size: 1KB}
        - {at: 3, from: x004@a.example, to: z004@b.example, size: 1KB}
        """)
    result = run_yaml(text)
    for mid, sent in (("m3", 2.0), ("m4", 3.0)):
        first = sent + 4.5 * SUB
        second = first + 2 * RTT + RETRY_S
        third = second + 2 * RTT + RETRY_S  # 3600.x: the next window
        assert [e.time for e in events(result, "attempt", mid)] == [exact(first), exact(second), exact(third)]
        assert [e.time for e in events(result, "refused", mid)] == [exact(first), exact(second)]
        assert {e.f["status"] for e in events(result, "refused", mid)} == {"4.7.0"}
        assert delivered_at(result, mid) == [exact(third + 4.5 * RTT)]
    for mid, sent in (("m1", 0.0), ("m2", 1.0)):
        assert delivered_at(result, mid) == [exact(sent + 4.5 * SUB + 4.5 * RTT)]
    assert result.summary["refusals"] == {"mx.b": {"421 4.7.0": 4}}


def test_a_rate_limit_answering_at_rcpt_defers_with_450_4_7_1() -> None:
    text = world(mx_b="{rate_limit: {messages: 1, per: 1h, reply: rcpt}}", messages="""
        - {at: 0, from: x001@a.example, to: z001@b.example, size: 1KB}
        - {at: 1, from: x002@a.example, to: [z002@b.example, z003@b.example], size: 1KB}
        """)
    result = run_yaml(text)
    first = 1 + 4.5 * SUB
    second = first + 4 * RTT + RETRY_S  # 1801.445 is still in the first hour: refused again
    third = second + 4 * RTT + RETRY_S  # 3601.845 is in the next window
    refused = events(result, "refused", "m2")
    assert [(e.time, e.f["code"], e.f["status"]) for e in refused] == [
        (exact(first), "450", "4.7.1"), (exact(second), "450", "4.7.1")]
    deferred_rcpts = events(result, "rcpt_deferred", "m2")
    assert [e.time for e in deferred_rcpts] == [exact(first + 4 * RTT), exact(second + 4 * RTT)]
    assert (deferred_rcpts[0].f["rcpts"], deferred_rcpts[0].f["code"]) == ("z002@b.example,z003@b.example", "450")
    assert [float(e.f["next"]) for e in events(result, "deferred", "m2")] == [exact(second), exact(third)]
    assert delivered_at(result, "m2") == [exact(third + 4.5 * RTT)] * 2
    assert result.summary["refusals"] == {"mx.b": {"450 4.7.1": 2}}


def test_the_rate_limit_counts_each_client_apart() -> None:
    """One message per 5 minutes per client at mx.b: the relay from mx.a and the first submission
    from lan.b both pass; lan.b's second submission is refused every 60 s until 300 s."""
    text = world(mx_b="{rate_limit: {messages: 1, per: 5m}}", messages="""
        - {at: 0, from: x001@a.example, to: z001@b.example, size: 1KB}
        - {at: 0, from: z002@b.example, to: z003@b.example, size: 1KB}
        - {at: 1, from: z002@b.example, to: z004@b.example, size: 1KB}
        """)
    result = run_yaml(text)
    assert delivered_at(result, "m1") == [exact(4.5 * SUB + 4.5 * RTT)]
    assert delivered_at(result, "m2") == [exact(4.5 * SUB)]
    tries = [1.0]
    while tries[-1] < 300:  # refused at t + 2 RTT, next try 60 s later, until the window at 300 s
        tries.append(tries[-1] + 2 * SUB + SUBMIT_RETRY_S)
    refused = events(result, "refused")
    assert [(e.time, e.message_id, e.f["client"]) for e in refused] == [(exact(t), "m3", "lan.b") for t in tries[:-1]]
    assert delivered_at(result, "m3") == [exact(tries[-1] + 4.5 * SUB)]


# ---- queue_limit -------------------------------------------------------------------------------


def test_a_full_queue_answers_452_at_mail_and_the_client_submits_again() -> None:
    """mx.b is down for 10 min: m1 waits in mx.a's queue (limit 1), retried every minute; m2's
    submissions get 452 until m1 has left the queue."""
    text = world(mx_a="{queue_limit: 1, retry: {policy: fixed, interval: 1m}}", messages="""
        - {at: 0, from: x001@a.example, to: z001@b.example, size: 1KB}
        - {at: 1, from: x002@a.example, to: z002@b.example, size: 1KB}
        """, outages="outages:\n  - {target: mx.b, start: 0, duration: 10m}\n")
    result = run_yaml(text)
    attempt = 4.5 * SUB
    while attempt + 30 < 600:  # each attempt waits the 30 s connect timeout, then 60 s
        attempt += 30 + 60
    sent = attempt + 4.5 * RTT
    assert [e.time for e in events(result, "dequeued", "m1")] == [exact(sent)]
    tries = [1.0]
    while tries[-1] < sent:
        tries.append(tries[-1] + 4 * SUB + SUBMIT_RETRY_S)
    failed = events(result, "submit_failed", "m2")
    assert [e.time for e in failed] == [exact(t + 4 * SUB) for t in tries[:-1]]
    assert {e.f["code"] for e in failed} == {"452"}
    assert {(e.f["code"], e.f["status"]) for e in events(result, "refused", "m2")} == {("452", "4.3.1")}
    assert [e.time for e in events(result, "accepted", "m2", "mx.a")] == [exact(tries[-1] + 4.5 * SUB)]
    assert_conserved(result)


def test_a_relay_gets_452_from_a_full_backup_and_defers() -> None:
    text = world(backup="{relay_for: [b.example], queue_limit: 1}", messages="""
        - {at: 0, from: x001@a.example, to: z001@b.example, size: 1KB}
        - {at: 10, from: x002@a.example, to: z002@b.example, size: 1KB}
        """, outages="outages:\n  - {target: mx.b, start: 0, duration: 20m}\n")
    result = run_yaml(text)
    (accepted,) = events(result, "accepted", "m1", "backup.b")
    assert accepted.time == exact(4.5 * SUB + 30.0 + 4.5 * RTT_BACKUP)  # mx.b did not answer: backup.b took it
    t_backup = 10 + 4.5 * SUB + 30.0  # m2 finds backup.b's queue full (m1 waits there for mx.b)
    (deferred_rcpts,) = events(result, "rcpt_deferred", "m2")
    assert (deferred_rcpts.time, deferred_rcpts.f["code"]) == (exact(t_backup + 4 * RTT_BACKUP), "452")
    (deferred,) = events(result, "deferred", "m2")
    assert float(deferred.f["next"]) == exact(t_backup + 4 * RTT_BACKUP + RETRY_S)
    assert_conserved(result)


# ---- destination_concurrency -------------------------------------------------------------------


@pytest.mark.parametrize("limit", [1, 2])
def test_destination_concurrency_queues_attempts_to_one_destination(limit: int) -> None:
    text = world(mx_a=f"{{destination_concurrency: {limit}}}", messages="""
        - {at: 0, from: x001@a.example, to: z001@b.example, size: 1KB}
        - {at: 0, from: x002@a.example, to: z002@b.example, size: 1KB}
        - {at: 0, from: x003@a.example, to: z003@b.example, size: 1KB}
        - {at: 0, from: x004@a.example, to: c@c.example, size: 1KB}
        """)
    result = run_yaml(text)
    queued = 4.5 * SUB
    starts = [queued + (k // limit) * 4.5 * RTT for k in range(3)]  # each session holds its slot 4.5 RTT
    assert [e.time for mid in ("m1", "m2", "m3") for e in events(result, "attempt", mid)] == [
        exact(t) for t in starts]
    assert delivered_at(result, "m4") == [exact(queued)]  # c.example is local to mx.a
    assert_conserved(result)


def test_destination_concurrency_defaults_to_20_under_the_postfix_policy_only() -> None:
    text = world(mx_a="{retry: {policy: postfix}}", mx_b="{retry: {policy: postfix}, destination_concurrency: null}")
    scenario = load_scenario(text)
    assert scenario.servers["mx.a"].destination_concurrency == 20
    assert scenario.servers["mx.b"].destination_concurrency is None
    assert load_scenario(world()).servers["mx.a"].destination_concurrency is None
    effective = yaml.safe_load(scenario.to_effective_yaml())
    assert "destination_concurrency" not in effective["servers"]["mx.a"]  # what postfix brings
    assert effective["servers"]["mx.b"]["destination_concurrency"] is None  # said: unlimited


# ---- the scenario keys from the command line ------------------------------------------------------


@pytest.mark.parametrize(("server", "message"), [
    ("{workers: 2}", "workers needs a processing time"),
    ("{workers: 0, processing: 1s}", "servers.mx.b.workers"),
    ("{processing: {exponential: {mean: -1s}}}", "servers.mx.b.processing"),
    ("{max_inbound: 0}", "servers.mx.b.max_inbound"),
    ("{rate_limit: {messages: 10}}", "servers.mx.b.rate_limit.per"),
    ("{rate_limit: {messages: 10, per: 1h, reply: later}}", "servers.mx.b.rate_limit.reply"),
    ("{queue_limit: many}", "servers.mx.b.queue_limit"),
])
def test_bad_capacity_keys_are_refused_with_their_path(tmp_path: Any, capsys: Any, server: str,
                                                        message: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(world(mx_b=server))
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err


def test_a_run_from_the_command_line_counts_refusals_in_the_summary(tmp_path: Any, capsys: Any) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(world(mx_b="{max_inbound: 1}", messages="""
        - {at: 0, from: x001@a.example, to: z001@b.example, size: 1KB}
        - {at: 0.1, from: x002@a.example, to: z002@b.example, size: 1KB}
        """))
    out = tmp_path / "out"
    assert main(["run", str(path), "-o", str(out), "--no-plots"]) == 0
    summary = yaml.safe_load((out / "summary.json").read_text())
    assert summary["refusals"] == {"mx.b": {"421 4.3.2": 1}}
    assert "refused" in (out / "events.csv").read_text()
    assert "421 4.3.2" in capsys.readouterr().out


# ---- transcripts -------------------------------------------------------------------------------


def test_transcripts_show_the_refusals_as_the_server_sends_them() -> None:
    text = world(mx_a="{queue_limit: 2}", mx_b="{max_inbound: 1}", messages="""
        - {at: 0, from: x001@a.example, to: z001@b.example, size: 1KB}
        - {at: 0.1, from: x002@a.example, to: z002@b.example, size: 1KB}
        - {at: 0.2, from: x003@a.example, to: z003@b.example, size: 1KB}
        """)
    result = run(load_scenario(text), trace=True)
    convs = build_conversations(result.traces or [], result.records, result.scenario, result.end_time_s)
    relays = [c for c in convs if c.protocol == "smtp" and c.message_ids == ["m2"]]
    first = [(t, text) for t, side, text, _ in relays[0].lines() if side == "S"]
    assert first == [(exact(0.1 + 4.5 * SUB + 1.5 * RTT), "421 4.3.2 All server ports are busy")]
    submissions = [c for c in convs if c.protocol == "submission" and c.message_ids == ["m3"]]
    replies = [text for _, side, text, _ in submissions[0].lines() if side == "S"]
    assert "452 4.3.1 Insufficient system storage" in replies
    assert "503 5.5.1 Error: need MAIL command" in replies


# ---- everything at once, with outages -------------------------------------------------------------


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_every_limit_with_outages_loses_nothing_and_leaves_no_count_behind(seed: int) -> None:
    """Every limit on, random outages cutting sessions: the run ends with every pair delivered,
    the end-of-run counter at zero, no inbound session counted open and no slot held."""
    text = world(
        mx_a="{workers: 2, processing: {exponential: {mean: 2s}}, destination_concurrency: 2, concurrency: 3, "
             "queue_limit: 6, max_inbound: 3}",
        mx_b="{workers: 1, processing: 1s, max_inbound: 2, rate_limit: {messages: 20, per: 30m}}",
        backup="{relay_for: [b.example], queue_limit: 2, rate_limit: {messages: 5, per: 10m, reply: rcpt}}",
        outages="outages:\n  - {target: mx.b, mtbf: 20m, mttr: 5m}\n  - {target: mx.a--mx.b, mtbf: 30m, mttr: 2m}\n")
    scenario = yaml.safe_load(text)
    scenario["seed"] = seed
    scenario["traffic"] = [{"from": "a.example", "to": "b.example", "rate": "20/h", "size": "20KB"},
                           {"from": "b.example", "to": "a.example", "rate": "5/h", "size": "20KB"}]
    w = finished_world(yaml.safe_dump(scenario))
    assert w.ctx.busy == 0
    for server in w.ctx.servers.values():
        assert server.inbound.level == 0  # every server, limited or not
        assert server.slots.busy == 0 and not server.slots.waiting
        if server.destination_slots is not None:
            assert all(s.busy == 0 and not s.waiting for s in server.destination_slots.of_host.values())
        assert not server.queued
    assert {r[4][3] for r in w.log.records if r[1] == "refused"} == {"max_inbound", "rate_limit", "queue_limit"}
    records = w.log.records
    delivered = {(r[2], r[4][0]) for r in records if r[1] == "delivered"}
    created = {(r[2], rcpt) for r in records if r[1] == "created" for rcpt in r[4][3]}
    assert created == delivered


def test_the_breakdown_of_a_list_members_mail_counts_processing_at_each_server_it_passed() -> None:
    """scenarios/mailing-list.yaml with both servers processing each message for 2 s: every
    delivered pair's parts still add up to its latency, and a member of a list on the other server
    has been processed at least twice (the author's server, the list's server, the member's)."""
    scenario = load_scenario(Path(__file__).resolve().parent.parent / "scenarios" / "mailing-list.yaml").override({
        "servers.mx.corp.workers": 4, "servers.mx.corp.processing": "2s",
        "servers.mx.partner.workers": 4, "servers.mx.partner.processing": "2s"})
    result = run(scenario)
    rows = result.breakdown_rows
    assert rows
    for r in rows:
        parts = r["queue_wait_s"] + r["worker_wait_s"] + r["processing_s"] + r["transfer_s"]
        assert parts == pytest.approx(r["latency_s"], abs=1e-6)
        assert r["processing_s"] >= 2.0 - 1e-9
    assert max(r["processing_s"] for r in rows) >= 6.0 - 1e-9


@pytest.mark.parametrize("extra, expected", [("", 20), (", destination_concurrency: null", None),
                                             (", destination_concurrency: 5", 5), (", workers: 2, processing: 1s", 20)])
def test_effective_scenario_keeps_capacity_through_a_round_trip(extra: str, expected: int | None) -> None:
    """The effective scenario lists capacity keys only where they say more than the retry policy,
    and reads back to the same limits (a postfix server's explicit null stays unlimited)."""
    text = f"""
name: t
duration: 1h
network: {{links: [{{between: [a, b], latency: 1ms}}]}}
servers:
  a: {{domains: [a.example], retry: {{policy: postfix}}{extra}}}
users: [{{address: u@a.example, at: a}}]
"""
    scenario = load_scenario(text)
    again = load_scenario(scenario.to_effective_yaml())
    assert scenario.servers["a"].destination_concurrency == again.servers["a"].destination_concurrency == expected
    assert again.servers["a"] == scenario.servers["a"]
    assert ("workers" in scenario.to_effective_yaml()) == ("workers" in extra)
