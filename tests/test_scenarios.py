"""Every example scenario validates, runs to completion with nothing lost, and shows what its
header comment promises."""

from __future__ import annotations

import functools
import io
import itertools
from pathlib import Path

import pytest
from conftest import assert_conserved, events, exact, rows

from simulator import Result, load_scenario, run
from simulator.cli import main

SCENARIOS = sorted((Path(__file__).resolve().parents[1] / "scenarios").glob("*.yaml"))
HOUR_S = 3600.0


@functools.cache
def result_of(name: str) -> Result:
    return run(load_scenario(next(p for p in SCENARIOS if p.stem == name)))


def test_the_examples_are_there() -> None:
    assert {"quickstart", "outage-retry", "backup-mx", "realistic"} <= {p.stem for p in SCENARIOS}


@pytest.mark.parametrize("path", SCENARIOS, ids=[p.stem for p in SCENARIOS])
def test_scenario_validates_and_reloads(path: Path) -> None:
    out, err = io.StringIO(), io.StringIO()
    assert main(["validate", str(path)], out, err) == 0, err.getvalue()
    scenario = load_scenario(path)
    assert load_scenario(scenario.to_effective_yaml()) == scenario


@pytest.mark.parametrize("path", SCENARIOS, ids=[p.stem for p in SCENARIOS])
def test_scenario_runs_to_completion_conserving_mail(path: Path) -> None:
    result = result_of(path.stem)
    assert_conserved(result)
    counts = result.summary["counts"]
    assert counts["delivered"] > 0
    assert result.end_time_s >= max(e.time for e in events(result))


def mail_queued_at(result: Result, server: str) -> dict[str, float]:
    return {e.message_id: e.time for e in events(result, "enqueued", node=server)}


def test_outage_retry_promises() -> None:
    """Retries every 30 minutes; gamma's mail bounces after 12 h with one warning at 4 h;
    beta's mail is delivered once beta is back."""
    result = result_of("outage-retry")
    spec = result.scenario.servers["mx.alpha"]
    interval_s, ct_s = spec.retry.interval_s, spec.connect_timeout_s
    assert interval_s == 1800.0
    deferred = events(result, "deferred", node="mx.alpha")
    assert deferred
    attempts: dict[str, list[float]] = {}
    for e in events(result, "attempt", node="mx.alpha"):
        attempts.setdefault(e.message_id, []).append(e.time)
    for e in deferred:
        assert float(e.f["next"]) == exact(e.time + interval_s)
        assert exact(e.time + interval_s) in attempts[e.message_id]  # the retry happens then
    gaps = [b - a for times in attempts.values() for a, b in itertools.pairwise(times)]
    assert gaps and all(g == exact(ct_s + interval_s) for g in gaps)  # host down: each try costs ct

    queued = mail_queued_at(result, "mx.alpha")
    bounces = rows(result, kind="bounce")
    warnings = rows(result, kind="warning")
    assert bounces and warnings
    for dsn in bounces:
        assert dsn["sender"] == "MAILER-DAEMON@mx.alpha"
        age = dsn["submitted_at"] - queued[dsn["about"]]
        assert 12 * HOUR_S <= age < 12 * HOUR_S + ct_s + interval_s + 1e-6
    assert len({w["about"] for w in warnings}) == len(warnings)  # one warning per message
    for w in warnings:
        age = w["submitted_at"] - queued[w["about"]]
        assert 4 * HOUR_S <= age < 4 * HOUR_S + ct_s + interval_s + 1e-6
    for r in rows(result, kind="mail"):
        if r["recipient"].endswith("@beta.example"):
            assert r["status"] == "delivered"
        if r["status"] == "bounced":
            assert r["recipient"].endswith("@gamma.example")


def test_backup_mx_promises() -> None:
    """While mx.beta is down (1h to 3h), backup.beta accepts beta's mail, queues it and relays
    it to mx.beta when it comes back; mailboxes are only ever on mx.beta."""
    result = result_of("backup-mx")
    at_backup = {e.message_id for e in events(result, "accepted", node="backup.beta")}
    assert at_backup
    retry_s = result.scenario.servers["backup.beta"].retry.interval_s
    ct_s = result.scenario.servers["backup.beta"].connect_timeout_s
    for mid in at_backup:
        [delivered] = events(result, "delivered", message_id=mid)
        assert delivered.node == "mx.beta"
        assert 3 * HOUR_S <= delivered.time <= 3 * HOUR_S + retry_s + ct_s + 1.0
        assert events(result, "sent", message_id=mid, node="backup.beta")
    assert not events(result, "delivered", node="backup.beta")
    assert all(r["status"] == "delivered" for r in rows(result, kind="mail"))


def test_quickstart_promises() -> None:
    """The unknown user gets a 550 and alice a bounce from mx.alpha; dave's local mail is
    delivered on acceptance; the message to bob and carol travels in one session."""
    result = result_of("quickstart")
    [nobody] = rows(result, recipient="nobody@beta.example")
    assert (nobody["status"], nobody["code"]) == ("bounced", "550")
    [dsn] = rows(result, kind="bounce")
    assert (dsn["about"], dsn["recipient"], dsn["status"]) == (nobody["message_id"], "alice@alpha.example",
                                                               "delivered")
    assert dsn["sender"] == "MAILER-DAEMON@mx.alpha"

    [dave] = rows(result, recipient="dave@alpha.example")
    [accepted] = events(result, "accepted", message_id=dave["message_id"], node="mx.alpha")
    assert dave["delivered_at"] == accepted.time

    both = {r["message_id"] for r in rows(result, recipient="bob@beta.example")} & {
        r["message_id"] for r in rows(result, recipient="carol@beta.example")}
    assert both
    for mid in both:
        assert len(events(result, "attempt", message_id=mid)) == 1
        times = {r["delivered_at"] for r in rows(result, message_id=mid)}
        assert len(times) == 1
