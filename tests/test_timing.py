"""Exact traces of the SMTP timing contract (SCENARIO.md, "Timing contract").

Every expectation is the contract's arithmetic: with ``d`` the path's one-way delay (sum of
latencies on the lowest-latency route), ``RTT = 2d`` and ``T = 8 * wire_bytes / bottleneck_bps``,
a session starting at ``t0`` is accepted at ``t0 + 4.5 RTT + T`` (pipelined) or
``t0 + (5.5 + n) RTT + T`` (not). Submission is such a session from the user's node to the home
server; the relay starts when the home server accepts. Retries follow the retry policy from the
failure time; DSNs are messages of kind bounce/warning to the original sender.

Recipients on beta sit at the node ``mx.beta`` itself, so their mail reading crosses no link and
cannot disturb the relay's bandwidth.
"""

from __future__ import annotations

import math
from typing import Any

import pytest
from conftest import assert_conserved, events, exact, mail_id, row, rows, run_yaml

from simulator.retry import make_policy, schedule

MS = 1e-3
L_SUB, B_SUB = 5 * MS, 10e6  # office.alpha -- mx.alpha
L_AC, B_AC = 20 * MS, 100e6  # mx.alpha -- core
L_CB, B_CB = 30 * MS, 50e6  # core -- mx.beta
D_RELAY = L_AC + L_CB

ALICE, DAVE = "alice@alpha.example", "dave@alpha.example"
BOB, CAROL, ERIN = "bob@beta.example", "carol@beta.example", "erin@beta.example"


# ---- arithmetic of the contract ---------------------------------------------------------------


def xfer_s(wire_bytes: int, bps: float | None) -> float:
    """T: the time to push ``wire_bytes`` through a bottleneck of ``bps`` (None: unlimited)."""
    return 0.0 if bps is None else 8.0 * wire_bytes / bps


def accepted_at(t0_s: float, d_s: float, t_s: float, n: int = 1, pipelining: bool = True) -> float:
    """When the server accepts a session that started at ``t0_s`` with ``n`` recipients."""
    rtts = 4.5 if pipelining else 5.5 + n
    return t0_s + rtts * 2 * d_s + t_s


def b64_bytes(n: int) -> int:
    chars = 4 * math.ceil(n / 3)
    return chars + 2 * math.ceil(chars / 76)


# ---- scenario builders ------------------------------------------------------------------------


def link(a: str, b: str, latency: str, bandwidth: str | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"between": [a, b], "latency": latency}
    if bandwidth is not None:
        spec["bandwidth"] = bandwidth
    return spec


def world(sub_bandwidth: str | None = "10Mbps") -> dict[str, Any]:
    """office.alpha -5ms- mx.alpha -20ms/100Mbps- core -30ms/50Mbps- mx.beta."""
    return {
        "name": "timing",
        "duration": "1h",
        "network": {"links": [
            link("office.alpha", "mx.alpha", "5ms", sub_bandwidth),
            link("mx.alpha", "core", "20ms", "100Mbps"),
            link("core", "mx.beta", "30ms", "50Mbps"),
        ]},
        "servers": {"mx.alpha": {"domains": ["alpha.example"]}, "mx.beta": {"domains": ["beta.example"]}},
        "users": [
            {"address": ALICE, "at": "office.alpha"},
            {"address": DAVE, "at": "office.alpha"},
            *({"address": a, "at": "mx.beta"} for a in (BOB, CAROL, ERIN)),
        ],
        "messages": [],
    }


def send(sc: dict[str, Any], at: float, to: list[str], size: int | str = "20KB", sender: str = ALICE,
         attachment: int | None = None) -> None:
    msg: dict[str, Any] = {"at": at, "from": sender, "to": to, "size": size}
    if attachment is not None:
        msg["attachment"] = attachment
    sc["messages"].append(msg)


def outage(sc: dict[str, Any], target: str, start: float | str, end: float | str) -> None:
    sc.setdefault("outages", []).append({"target": target, "start": start, "end": end})


def one_time(result: Any, name: str, message_id: str, node: str | None = None) -> float:
    found = events(result, name, message_id, node)
    assert len(found) == 1, f"expected one {name} of {message_id} at {node}, got {found}"
    return found[0].time


# ---- sessions: pipelining, recipients, submission ---------------------------------------------


@pytest.mark.parametrize("n", [1, 2, 3])
@pytest.mark.parametrize("alpha_pipelining", [True, False])
@pytest.mark.parametrize("beta_pipelining", [True, False])
def test_submission_then_relay_timing(n: int, alpha_pipelining: bool, beta_pipelining: bool) -> None:
    sc = world()
    sc["servers"]["mx.alpha"]["pipelining"] = alpha_pipelining
    sc["servers"]["mx.beta"]["pipelining"] = beta_pipelining
    rcpts = [BOB, CAROL, ERIN][:n]
    t0 = 10.0
    send(sc, t0, rcpts)
    result = run_yaml(sc)
    mid = mail_id(result, BOB)
    wire = row(result, recipient=BOB)["wire_bytes"]

    t_sub = accepted_at(t0, L_SUB, xfer_s(wire, B_SUB), n, alpha_pipelining)
    assert one_time(result, "accepted", mid, "mx.alpha") == exact(t_sub)
    assert one_time(result, "enqueued", mid, "mx.alpha") == exact(t_sub)
    assert one_time(result, "attempt", mid, "mx.alpha") == exact(t_sub)  # the relay starts at once
    delivered = accepted_at(t_sub, D_RELAY, xfer_s(wire, min(B_AC, B_CB)), n, beta_pipelining)
    for rcpt in rcpts:
        r = row(result, kind="mail", recipient=rcpt)
        assert r["submitted_at"] == exact(t0)
        assert r["delivered_at"] == exact(delivered)
        assert r["latency_s"] == exact(delivered - t0)
        assert (r["status"], r["code"], r["attempts"]) == ("delivered", "250", 1)
    assert one_time(result, "accepted", mid, "mx.beta") == exact(delivered)


def test_client_hands_over_at_acceptance_and_the_reply_trip_stays_cuttable() -> None:
    """S accepts at t_S; the client learns of it d later. The simulator releases the client's
    queue entry and session slot at t_S (``sent`` and ``dequeued`` are logged then) and keeps
    the reply's trip back as a tail an outage can still cut (see the duplicate tests). With
    concurrency 1 the next session starts when the first one's server has accepted."""
    sc = world(sub_bandwidth=None)
    sc["servers"]["mx.alpha"]["concurrency"] = 1
    send(sc, 1.0, [BOB], size="1MB")
    send(sc, 1.0, [CAROL], size="1MB", sender=DAVE)
    result = run_yaml(sc)
    first, second = sorted(events(result, "attempt"), key=lambda e: e.time)
    t_s = one_time(result, "accepted", first.message_id, "mx.beta")
    assert one_time(result, "sent", first.message_id, "mx.alpha") == exact(t_s)
    dequeued = [e.time for e in events(result, "dequeued", first.message_id, "mx.alpha")]
    assert dequeued == [exact(t_s)]
    assert second.time == exact(t_s)


def test_lowest_latency_route_wins_over_bandwidth() -> None:
    """Two routes: 10+10 ms at 1 Mbps, and 5+30 ms at 100 Mbps; the 20 ms one is used."""
    sc = world(sub_bandwidth=None)
    sc["network"]["links"][1:] = [
        link("mx.alpha", "slow", "10ms", "1Mbps"), link("slow", "mx.beta", "10ms", "2Mbps"),
        link("mx.alpha", "fast", "5ms", "100Mbps"), link("fast", "mx.beta", "30ms", "100Mbps"),
    ]
    send(sc, 1.0, [BOB], size="50KB")
    result = run_yaml(sc)
    r = row(result, recipient=BOB)
    t_sub = accepted_at(1.0, L_SUB, 0.0)
    assert r["delivered_at"] == exact(accepted_at(t_sub, 20 * MS, xfer_s(r["wire_bytes"], 1e6)))


def test_local_recipient_delivered_at_acceptance() -> None:
    sc = world()
    send(sc, 5.0, [DAVE, BOB])
    result = run_yaml(sc)
    mid = mail_id(result, DAVE)
    wire = row(result, recipient=DAVE)["wire_bytes"]
    t_sub = accepted_at(5.0, L_SUB, xfer_s(wire, B_SUB))
    dave = row(result, recipient=DAVE)
    assert (dave["status"], dave["delivered_at"]) == ("delivered", exact(t_sub))
    assert [e.node for e in events(result, "delivered", mid) if e.f["rcpt"] == DAVE] == ["mx.alpha"]
    attempts = events(result, "attempt", mid)
    assert [e.f["rcpts"] for e in attempts] == [BOB]  # no session for dave
    assert row(result, recipient=BOB)["delivered_at"] == exact(
        accepted_at(t_sub, D_RELAY, xfer_s(wire, B_CB)))


def test_local_only_message_never_queued() -> None:
    sc = world()
    send(sc, 5.0, [DAVE])
    result = run_yaml(sc)
    mid = mail_id(result, DAVE)
    assert not events(result, "attempt", mid)
    assert not events(result, "enqueued", mid)
    r = row(result, recipient=DAVE)
    assert r["delivered_at"] == exact(accepted_at(5.0, L_SUB, xfer_s(r["wire_bytes"], B_SUB)))


@pytest.mark.parametrize("beta_pipelining", [True, False])
def test_one_session_per_destination_server(beta_pipelining: bool) -> None:
    """beta and gamma live on mx.beta (one session, 3 recipients); delta on mx.delta (another)."""
    sc = world()
    sc["network"]["links"][1] = link("mx.alpha", "core", "20ms")  # unlimited: the two sessions share nothing
    sc["network"]["links"].append(link("core", "mx.delta", "40ms", "20Mbps"))
    sc["servers"]["mx.beta"] = {"domains": ["beta.example", "gamma.example"], "pipelining": beta_pipelining}
    sc["servers"]["mx.delta"] = {"domains": ["delta.example"]}
    sc["users"] += [{"address": "gina@gamma.example", "at": "mx.beta"},
                    {"address": "dan@delta.example", "at": "mx.delta"}]
    to = [BOB, "gina@gamma.example", "dan@delta.example", CAROL]
    send(sc, 2.0, to)
    result = run_yaml(sc)
    mid = mail_id(result, BOB)
    wire = row(result, recipient=BOB)["wire_bytes"]
    t_sub = accepted_at(2.0, L_SUB, xfer_s(wire, B_SUB), n=4)

    attempts = events(result, "attempt", mid)
    assert len(attempts) == 2
    by_host = {e.f["hosts"]: sorted(e.f["rcpts"].split(",")) for e in attempts}
    assert by_host == {"mx.beta": sorted([BOB, "gina@gamma.example", CAROL]), "mx.delta": ["dan@delta.example"]}
    assert all(e.time == exact(t_sub) for e in attempts)
    at_beta = accepted_at(t_sub, 0.050, xfer_s(wire, B_CB), n=3, pipelining=beta_pipelining)
    for rcpt in (BOB, "gina@gamma.example", CAROL):
        assert row(result, recipient=rcpt)["delivered_at"] == exact(at_beta)
    at_delta = accepted_at(t_sub, 0.060, xfer_s(wire, 20e6))
    assert row(result, recipient="dan@delta.example")["delivered_at"] == exact(at_delta)
    assert len(events(result, "accepted", mid, "mx.beta")) == 1


def test_two_relays_share_the_bottleneck() -> None:
    """Two messages relayed at the same moment: their transfers start together at t_r + 4 RTT and
    share the 50 Mbps bottleneck (each also halves the 100 Mbps link: 50 > 25). The smaller ends
    after 2 T_small, the larger after T_small + T_large (processor sharing)."""
    sc = world(sub_bandwidth=None)
    send(sc, 3.0, [BOB], size="100KB")
    send(sc, 3.0, [CAROL], size="300KB", sender=DAVE)
    result = run_yaml(sc)
    small, large = row(result, recipient=BOB), row(result, recipient=CAROL)
    t_small, t_large = xfer_s(small["wire_bytes"], B_CB), xfer_s(large["wire_bytes"], B_CB)
    start = accepted_at(3.0, L_SUB, 0.0) + 4 * 2 * D_RELAY
    assert small["delivered_at"] == exact(start + 2 * t_small + D_RELAY)
    assert large["delivered_at"] == exact(start + t_small + t_large + D_RELAY)


def test_one_session_per_server_even_when_mx_lists_differ() -> None:
    sc = backup_world()
    sc["servers"]["mx.beta"]["domains"] = ["beta.example", "gamma.example"]
    sc["users"].append({"address": "gina@gamma.example", "at": "mx.beta"})
    send(sc, 2.0, [BOB, "gina@gamma.example"])
    result = run_yaml(sc)
    mid = mail_id(result, BOB)
    assert len(events(result, "attempt", mid)) == 1
    assert len(events(result, "accepted", mid, "mx.beta")) == 1


def test_primary_down_backup_gets_only_the_recipients_it_relays_for() -> None:
    """mx.beta holds beta and gamma; only beta has a backup MX. With mx.beta down, one attempt
    connects to mx.beta (timeout), then hands bob alone to backup.beta; gina waits for the retry."""
    sc = backup_world()
    sc["servers"]["mx.beta"]["domains"] = ["beta.example", "gamma.example"]
    sc["servers"]["mx.alpha"]["retry"] = {"policy": "fixed", "interval": "10m"}
    sc["users"].append({"address": "gina@gamma.example", "at": "mx.beta"})
    outage(sc, "mx.beta", 0, "15m")
    send(sc, 2.0, [BOB, "gina@gamma.example"])
    result = run_yaml(sc)
    mid = mail_id(result, BOB)
    attempts = events(result, "attempt", mid, "mx.alpha")
    assert attempts[0].f["hosts"] == "mx.beta,backup.beta"
    [first_failure] = [e for e in events(result, "connect_failed", mid, "mx.alpha") if e.time < attempts[1].time]
    assert first_failure.f["host"] == "mx.beta"
    [to_backup] = events(result, "accepted", mid, "backup.beta")
    assert to_backup.f["rcpts"] == BOB
    assert to_backup.time == exact(accepted_at(first_failure.time, L_AC + 40 * MS,
                                               xfer_s(row(result, recipient=BOB)["wire_bytes"], 20e6)))
    gina = row(result, recipient="gina@gamma.example")
    assert gina["status"] == "delivered" and gina["delivered_at"] > 15 * 60
    assert gina["attempts"] >= 2
    assert_conserved(result)


def test_mx_records_are_tried_by_preference_not_file_order() -> None:
    sc = backup_world()
    sc["dns"]["beta.example"].reverse()  # backup (20) written first
    send(sc, 2.0, [BOB])
    result = run_yaml(sc)
    r = row(result, recipient=BOB)
    assert not events(result, "accepted", r["message_id"], "backup.beta")
    t_relay = accepted_at(2.0, L_SUB, xfer_s(r["wire_bytes"], B_SUB))
    assert r["delivered_at"] == exact(accepted_at(t_relay, D_RELAY, xfer_s(r["wire_bytes"], B_CB)))


# ---- permanent failures: 552, 550, DSNs -------------------------------------------------------


@pytest.mark.parametrize("pipelining", [True, False])
def test_oversized_message_refused_after_mail_from_without_moving_data(pipelining: bool) -> None:
    """mx.beta takes 50KB at most: alice's 100KB message gets 552 at t0 + 4 RTT and bounces.

    dave's small message starts at the same moment over the same links; it is delivered exactly
    as if alone, so the refused message moved no data.
    """
    sc = world(sub_bandwidth=None)
    sc["servers"]["mx.beta"].update(max_message_size="50KB", pipelining=pipelining)
    send(sc, 3.0, [BOB], size="100KB")
    send(sc, 3.0, [CAROL], size="1KB", sender=DAVE)
    result = run_yaml(sc)
    big = mail_id(result, BOB)
    t_relay = accepted_at(3.0, L_SUB, 0.0)
    refused_at = t_relay + 4 * 2 * D_RELAY

    r = row(result, recipient=BOB)
    assert r["wire_bytes"] > 50_000
    assert (r["status"], r["code"], r["delivered_at"]) == ("bounced", "552", None)
    assert one_time(result, "bounced", big) == exact(refused_at)
    assert not events(result, "accepted", big, "mx.beta")
    assert not events(result, "sent", big)
    assert len(events(result, "attempt", big)) == 1  # permanent: never retried

    dsn = row(result, kind="bounce")
    assert (dsn["recipient"], dsn["sender"], dsn["about"]) == (ALICE, "MAILER-DAEMON@mx.alpha", big)
    assert dsn["submitted_at"] == exact(refused_at)
    assert (dsn["status"], dsn["delivered_at"]) == ("delivered", exact(refused_at))  # alice's mailbox is local

    c = row(result, recipient=CAROL)
    assert c["delivered_at"] == exact(accepted_at(t_relay, D_RELAY, xfer_s(c["wire_bytes"], B_CB), 1, pipelining))
    assert [e.message_id for e in events(result, "created") if e.f["kind"] != "mail"] == [dsn["message_id"]]


@pytest.mark.parametrize("position", [0, 1, 2])
@pytest.mark.parametrize("pipelining", [True, False])
def test_unknown_user_gets_550_at_its_rcpt(position: int, pipelining: bool) -> None:
    sc = world(sub_bandwidth=None)
    sc["servers"]["mx.beta"]["pipelining"] = pipelining
    to = [BOB, CAROL]
    to.insert(position, "nobody@beta.example")
    send(sc, 7.0, to)
    result = run_yaml(sc)
    mid = mail_id(result, BOB)
    t_relay = accepted_at(7.0, L_SUB, 0.0, n=3)
    rtt = 2 * D_RELAY
    refused_at = t_relay + (4 if pipelining else 4 + position + 1) * rtt

    nobody = row(result, recipient="nobody@beta.example")
    assert (nobody["status"], nobody["code"]) == ("bounced", "550")
    assert one_time(result, "bounced", mid) == exact(refused_at)
    dsn = row(result, kind="bounce")
    assert (dsn["about"], dsn["recipient"], dsn["submitted_at"]) == (mid, ALICE, exact(refused_at))
    wire = row(result, recipient=BOB)["wire_bytes"]
    delivered = accepted_at(t_relay, D_RELAY, xfer_s(wire, B_CB), n=3, pipelining=pipelining)
    for rcpt in (BOB, CAROL):
        assert row(result, recipient=rcpt)["delivered_at"] == exact(delivered)


def test_unknown_local_user_refused_at_submission() -> None:
    sc = world()
    send(sc, 1.0, ["nobody@alpha.example"])
    result = run_yaml(sc)
    r = row(result, recipient="nobody@alpha.example")
    assert (r["status"], r["code"]) == ("bounced", "550")
    assert one_time(result, "bounced", r["message_id"]) == exact(1.0 + 4 * 2 * L_SUB)


def test_oversized_submission_refused_with_552() -> None:
    sc = world()
    sc["servers"]["mx.alpha"]["max_message_size"] = "10KB"
    send(sc, 1.0, [BOB], size="20KB")
    result = run_yaml(sc)
    r = row(result, recipient=BOB)
    assert (r["status"], r["code"]) == ("bounced", "552")
    assert one_time(result, "bounced", r["message_id"]) == exact(1.0 + 4 * 2 * L_SUB)
    assert not events(result, "accepted", r["message_id"])


def relay_bounce_world(rcpts: list[str], alpha_limit: str | None = None) -> dict[str, Any]:
    """mx.beta is down when alice's mail arrives at 1 s: backup.beta takes it, and relays it to
    mx.beta (back at 100 s) at its retry 2 minutes later; mx.beta refuses nobody@ with 550, so the
    bounce goes from backup.beta over core (40 + 20 ms, 20 Mbps) to mx.alpha."""
    sc = world(sub_bandwidth=None)
    sc["network"]["links"].append(link("core", "backup.beta", "40ms", "20Mbps"))
    sc["servers"]["mx.alpha"]["connect_timeout"] = "10s"
    if alpha_limit is not None:
        sc["servers"]["mx.alpha"]["max_message_size"] = alpha_limit
    sc["servers"]["backup.beta"] = {"relay_for": ["beta.example"], "retry": {"policy": "fixed", "interval": "2m"}}
    sc["dns"] = {"beta.example": [{"host": "mx.beta", "preference": 10}, {"host": "backup.beta", "preference": 20}]}
    send(sc, 1.0, rcpts, size=10)
    outage(sc, "mx.beta", 0, 100)
    return sc


def test_bounce_from_a_relay_reaches_the_sender() -> None:
    result = run_yaml(relay_bounce_world(["nobody@beta.example"]))
    mail = row(result, kind="mail")
    assert (mail["status"], mail["code"]) == ("bounced", "550")
    dsn = row(result, kind="bounce")
    refused_at = one_time(result, "bounced", mail["message_id"])
    assert dsn["submitted_at"] == refused_at
    assert dsn["status"] == "delivered"
    assert dsn["delivered_at"] == exact(accepted_at(refused_at, 0.060, xfer_s(dsn["wire_bytes"], 20e6)))
    assert result.summary["counts"]["pending"] == 0


def test_dsn_that_fails_is_never_bounced() -> None:
    """The bounce from backup.beta is too large for mx.alpha (552): that DSN is dropped, and no
    DSN about a DSN exists. (bob's delivery keeps the relay's job alive past the refusal.)"""
    result = run_yaml(relay_bounce_world(["nobody@beta.example", BOB], alpha_limit="1000B"))
    assert row(result, recipient=BOB)["status"] == "delivered"
    mail = row(result, recipient="nobody@beta.example")
    assert (mail["status"], mail["code"]) == ("bounced", "550")
    [dsn] = rows(result, kind="bounce")
    assert dsn["about"] == mail["message_id"]
    assert (dsn["status"], dsn["code"]) == ("bounced", "552")
    assert dsn["sender"] == "MAILER-DAEMON@backup.beta"
    assert all(e.f["dsn"] == "-" for e in events(result, "bounced", dsn["message_id"]))
    assert not rows(result, about=dsn["message_id"])
    assert result.summary["counts"]["bounces_sent"] == 1


# ---- MX preference and fallback ---------------------------------------------------------------


def backup_world() -> dict[str, Any]:
    sc = world()
    sc["network"]["links"] += [link("core", "backup.beta", "40ms", "20Mbps"),
                               link("backup.beta", "mx.beta", "15ms", "100Mbps")]
    sc["servers"]["backup.beta"] = {"relay_for": ["beta.example"]}
    sc["dns"] = {"beta.example": [{"host": "mx.beta", "preference": 10}, {"host": "backup.beta", "preference": 20}]}
    return sc


def test_down_preferred_mx_costs_connect_timeout_then_next_at_once() -> None:
    """relay1 (preference 5) is down: connect_timeout, then mx.beta (preference 10) at once."""
    sc = world()
    sc["network"]["links"].append(link("core", "relay1", "10ms", "100Mbps"))
    sc["servers"]["relay1"] = {"relay_for": ["beta.example"]}
    sc["servers"]["mx.alpha"]["connect_timeout"] = "20s"
    sc["dns"] = {"beta.example": [{"host": "relay1", "preference": 5}, {"host": "mx.beta", "preference": 10}]}
    outage(sc, "relay1", 0, "1h")
    send(sc, 4.0, [BOB])
    result = run_yaml(sc)
    r = row(result, recipient=BOB)
    mid = r["message_id"]
    t_relay = accepted_at(4.0, L_SUB, xfer_s(r["wire_bytes"], B_SUB))
    failed = events(result, "connect_failed", mid)
    assert [(e.time, e.f["host"]) for e in failed] == [(exact(t_relay + 20.0), "relay1")]
    assert r["delivered_at"] == exact(accepted_at(t_relay + 20.0, D_RELAY, xfer_s(r["wire_bytes"], B_CB)))
    assert (r["attempts"], r["status"]) == (1, "delivered")
    assert not events(result, "accepted", mid, "relay1")


def test_preferred_relay_hands_mail_straight_to_the_holder() -> None:
    """A filtering gateway listed before the mailbox server (preference 5 against 10) has no MX
    host better than itself: it relays straight to mx.beta instead of looping with 554."""
    sc = world()
    sc["network"]["links"].append(link("core", "gateway", "10ms", "100Mbps"))
    sc["servers"]["gateway"] = {"relay_for": ["beta.example"]}
    sc["dns"] = {"beta.example": [{"host": "gateway", "preference": 5}, {"host": "mx.beta", "preference": 10}]}
    send(sc, 4.0, [BOB])
    result = run_yaml(sc)
    r = row(result, recipient=BOB)
    mid = r["message_id"]
    [at_gateway] = events(result, "accepted", mid, "gateway")
    [attempt] = events(result, "attempt", mid, "gateway")
    assert attempt.f["hosts"] == "mx.beta" and attempt.time == exact(at_gateway.time)
    gateway_to_beta = 10 * MS + L_CB
    assert r["delivered_at"] == exact(accepted_at(at_gateway.time, gateway_to_beta, xfer_s(r["wire_bytes"], B_CB)))
    assert (r["status"], r["attempts"]) == ("delivered", 2)
    assert not events(result, "bounced", mid)


def test_backup_mx_accepts_then_relays_to_primary_when_it_returns() -> None:
    sc = backup_world()
    sc["servers"]["backup.beta"]["retry"] = {"policy": "fixed", "interval": "5m"}
    outage(sc, "mx.beta", 0, "10m")
    send(sc, 60.0, [BOB])
    result = run_yaml(sc)
    r = row(result, recipient=BOB)
    mid, wire = r["message_id"], r["wire_bytes"]
    ct = 30.0  # default connect_timeout
    t_relay = accepted_at(60.0, L_SUB, xfer_s(wire, B_SUB))
    # mx.beta is down: mx.alpha -> core -> backup.beta (60 ms, bottleneck 20 Mbps)
    at_backup = accepted_at(t_relay + ct, L_AC + 0.040, xfer_s(wire, 20e6))
    assert one_time(result, "accepted", mid, "backup.beta") == exact(at_backup)
    # backup.beta fails every 5m + ct until mx.beta is up at 600 s, then relays over its 15 ms link
    attempt_s, tries = at_backup, 1
    while attempt_s < 600.0:
        attempt_s += ct + 300.0
        tries += 1
    backup_attempts = [e.time for e in events(result, "attempt", mid, "backup.beta")]
    assert backup_attempts == [exact(at_backup + k * (ct + 300.0)) for k in range(tries)]
    assert r["delivered_at"] == exact(accepted_at(attempt_s, 0.015, xfer_s(wire, 100e6)))
    assert [e.node for e in events(result, "delivered", mid)] == ["mx.beta"]
    assert (r["status"], r["attempts"]) == ("delivered", 1 + tries)


def test_every_mx_down_fails_the_attempt_after_all_timeouts() -> None:
    sc = backup_world()
    sc["servers"]["mx.alpha"].update(retry={"policy": "fixed", "interval": "10m"}, connect_timeout="15s")
    outage(sc, "mx.beta", 0, "5m")
    outage(sc, "backup.beta", 0, "5m")
    send(sc, 2.0, [BOB])
    result = run_yaml(sc)
    r = row(result, kind="mail")
    mid = r["message_id"]
    t_relay = accepted_at(2.0, L_SUB, xfer_s(r["wire_bytes"], B_SUB))
    failed = [(e.time, e.f["host"]) for e in events(result, "connect_failed", mid)]
    assert failed == [(exact(t_relay + 15.0), "mx.beta"), (exact(t_relay + 30.0), "backup.beta")]
    retry_at = t_relay + 30.0 + 600.0
    assert [e.time for e in events(result, "attempt", mid)] == [exact(t_relay), exact(retry_at)]
    assert r["delivered_at"] == exact(accepted_at(retry_at, D_RELAY, xfer_s(r["wire_bytes"], B_CB)))
    assert not events(result, "accepted", mid, "backup.beta")


def test_link_outage_with_no_other_path_is_a_down_host() -> None:
    sc = world()
    sc["servers"]["mx.alpha"].update(retry={"policy": "fixed", "interval": "15m"}, connect_timeout="25s")
    outage(sc, "mx.beta--core", 0, "10m")  # either order of the link's ends
    send(sc, 2.0, [BOB])
    result = run_yaml(sc)
    r = row(result, recipient=BOB)
    t_relay = accepted_at(2.0, L_SUB, xfer_s(r["wire_bytes"], B_SUB))
    mid = r["message_id"]
    assert [e.time for e in events(result, "connect_failed", mid)] == [exact(t_relay + 25.0)]
    assert [e.time for e in events(result, "attempt", mid)] == [exact(t_relay), exact(t_relay + 925.0)]
    assert r["delivered_at"] == exact(accepted_at(t_relay + 925.0, D_RELAY, xfer_s(r["wire_bytes"], B_CB)))
    assert r["attempts"] == 2


@pytest.mark.parametrize("down", [False, True])
def test_link_outage_reroutes(down: bool) -> None:
    """Short route via r1 (20 ms, 10 Mbps); long via r2 (60 ms, 50 Mbps) while mx.alpha--r1 is down."""
    sc = world(sub_bandwidth=None)
    sc["network"]["links"][1:] = [
        link("mx.alpha", "r1", "10ms", "10Mbps"), link("r1", "mx.beta", "10ms", "10Mbps"),
        link("mx.alpha", "r2", "30ms", "50Mbps"), link("r2", "mx.beta", "30ms", "50Mbps"),
    ]
    if down:
        outage(sc, "mx.alpha--r1", 0, "1h")
    send(sc, 3.0, [BOB], size="200KB")
    result = run_yaml(sc)
    r = row(result, recipient=BOB)
    t_relay = accepted_at(3.0, L_SUB, 0.0)
    d, bps = (0.060, 50e6) if down else (0.020, 10e6)
    assert r["delivered_at"] == exact(accepted_at(t_relay, d, xfer_s(r["wire_bytes"], bps)))
    assert r["attempts"] == 1


# ---- retries, give-up, warnings ---------------------------------------------------------------


def test_fixed_retries_give_up_and_one_warning() -> None:
    sc = world()
    sc["servers"]["mx.alpha"]["retry"] = {"policy": "fixed", "interval": "30m", "give_up": "2h", "warn_after": "1h"}
    outage(sc, "mx.beta", 0, "1d")
    send(sc, 10.0, [BOB])
    result = run_yaml(sc)
    r = row(result, kind="mail")
    mid = r["message_id"]
    q = accepted_at(10.0, L_SUB, xfer_s(r["wire_bytes"], B_SUB))
    ct, interval = 30.0, 1800.0
    attempts, failures = [], []
    t = q
    while True:
        attempts.append(t)
        failures.append(t + ct)
        if t + ct - q >= 7200.0:
            break
        t = t + ct + interval
    assert [e.time for e in events(result, "attempt", mid)] == [exact(a) for a in attempts]
    assert len(attempts) == 5  # failures at q + 30, 1860, 3690, 5520, 7350 s
    assert (r["status"], r["attempts"]) == ("bounced", 5)
    assert one_time(result, "bounced", mid) == exact(failures[-1])
    bounce = row(result, kind="bounce")
    assert (bounce["about"], bounce["submitted_at"], bounce["recipient"]) == (mid, exact(failures[-1]), ALICE)
    warn_at = next(f for f in failures if f >= q + 3600.0)
    warning = row(result, kind="warning")
    assert (warning["about"], warning["submitted_at"]) == (mid, exact(warn_at))
    assert warning["delivered_at"] == exact(warn_at)
    counts = result.summary["counts"]
    assert (counts["bounces_sent"], counts["warnings_sent"], counts["bounced"]) == (1, 1, 1)


POLICIES = [
    {"policy": "postfix"},
    {"policy": "exim"},
    {"policy": "exchange"},
    {"policy": "backoff", "initial": "5m", "factor": 2.0, "max": "1h", "give_up": "1d", "warn_after": "3h"},
    {"policy": "fixed", "interval": "45m", "give_up": "10h"},
]


@pytest.mark.parametrize("policy", POLICIES, ids=[p["policy"] for p in POLICIES])
def test_policy_attempt_times_follow_retry_schedule(policy: dict[str, Any]) -> None:
    sc = world()
    sc["servers"]["mx.alpha"].update(retry=policy, connect_timeout="20s")
    outage(sc, "mx.beta", 0, "30d")
    send(sc, 10.0, [BOB])
    result = run_yaml(sc)
    r = row(result, kind="mail")
    mid = r["message_id"]
    q = accepted_at(10.0, L_SUB, xfer_s(r["wire_bytes"], B_SUB))
    spec = result.scenario.servers["mx.alpha"].retry
    expected = schedule(make_policy(spec), q, q, 20.0)
    observed = [e.time for e in events(result, "attempt", mid)]
    assert len(observed) == len(expected) - 1 > 3
    assert observed == [pytest.approx(t, abs=1e-6) for t in expected[:-1]]
    assert one_time(result, "bounced", mid) == pytest.approx(expected[-1], abs=1e-6)
    warnings = rows(result, kind="warning")
    if spec.warn_after_s is None:
        assert warnings == []
    else:
        first = next(a + 20.0 for a in expected[:-1] if a + 20.0 >= q + spec.warn_after_s)
        assert [w["submitted_at"] for w in warnings] == [pytest.approx(first, abs=1e-6)]


# ---- outages and sessions ---------------------------------------------------------------------


def test_server_down_keeps_queue_and_resumes_when_back() -> None:
    """mx.beta down 0-20m; mx.alpha down 10m-40m while its retry (at ~16.5m) is due."""
    sc = world()
    sc["servers"]["mx.alpha"]["retry"] = {"policy": "fixed", "interval": "15m"}
    outage(sc, "mx.beta", 0, "20m")
    outage(sc, "mx.alpha", "10m", "40m")
    send(sc, 60.0, [BOB])
    result = run_yaml(sc)
    r = row(result, kind="mail")
    mid = r["message_id"]
    t_relay = accepted_at(60.0, L_SUB, xfer_s(r["wire_bytes"], B_SUB))
    assert [e.time for e in events(result, "attempt", mid)] == [exact(t_relay), exact(2400.0)]
    assert r["delivered_at"] == exact(accepted_at(2400.0, D_RELAY, xfer_s(r["wire_bytes"], B_CB)))
    queue = [(q["time"], q["queue_length"]) for q in result.tables.queues if q["server"] == "mx.alpha"]
    assert queue[:2] == [(0.0, 0), (exact(t_relay), 1)]  # queued once, through both outages
    assert [length for _, length in queue[2:]] == [0]


def cut_world(at: float, start: float, size: str = "20KB") -> dict[str, Any]:
    sc = world(sub_bandwidth=None)
    sc["servers"]["mx.alpha"]["retry"] = {"policy": "fixed", "interval": "1m"}
    outage(sc, "core--mx.beta", start, start + 1.0)
    send(sc, at, [BOB], size=size)
    return sc


def test_receiving_server_down_mid_transfer_then_retry() -> None:
    """mx.beta goes down during the 1 MB transfer (0.16 s at 50 Mbps) and is back 10 s later;
    mx.alpha's retry a minute after the cut delivers it."""
    t_relay = accepted_at(100.0, L_SUB, 0.0)
    cut = t_relay + 4 * 2 * D_RELAY + 0.05
    sc = world(sub_bandwidth=None)
    sc["servers"]["mx.alpha"]["retry"] = {"policy": "fixed", "interval": "1m"}
    outage(sc, "mx.beta", cut, cut + 10.0)
    send(sc, 100.0, [BOB], size="1MB")
    result = run_yaml(sc)
    r = row(result, kind="mail")
    [c] = events(result, "session_cut", r["message_id"])
    assert (c.time, c.f["accepted"]) == (exact(cut), "no")
    assert r["delivered_at"] == exact(accepted_at(cut + 60.0, D_RELAY, xfer_s(r["wire_bytes"], B_CB)))


def test_sending_server_down_mid_session_retries_when_back() -> None:
    """mx.alpha itself goes down during its relay session (before acceptance) for 10 minutes: the
    session is cut, the message stays queued, and the retry (due 1 minute after the cut) waits
    for mx.alpha to come back."""
    t_relay = accepted_at(100.0, L_SUB, 0.0)
    cut = t_relay + 2 * 2 * D_RELAY
    sc = world(sub_bandwidth=None)
    sc["servers"]["mx.alpha"]["retry"] = {"policy": "fixed", "interval": "1m"}
    outage(sc, "mx.alpha", cut, cut + 600.0)
    send(sc, 100.0, [BOB])
    result = run_yaml(sc)
    r = row(result, kind="mail")
    mid = r["message_id"]
    assert [e.f["accepted"] for e in events(result, "session_cut", mid)] == ["no"]
    assert [e.time for e in events(result, "attempt", mid)] == [exact(t_relay), exact(cut + 600.0)]
    assert r["delivered_at"] == exact(accepted_at(cut + 600.0, D_RELAY, xfer_s(r["wire_bytes"], B_CB)))


@pytest.mark.parametrize(("first", "second", "down", "up"), [
    ("mx.beta", "mx.beta", "server_down", "server_up"),
    ("core--mx.beta", "mx.beta--core", "link_down", "link_up"),  # a link, named in either order
])
def test_overlapping_outages_nest(first: str, second: str, down: str, up: str) -> None:
    """The target down 0-10m and 5m-20m: up only at 20m; retries every 4m (+30 s connect timeout)."""
    sc = world()
    sc["servers"]["mx.alpha"]["retry"] = {"policy": "fixed", "interval": "4m"}
    outage(sc, first, 0, "10m")
    outage(sc, second, "5m", "20m")
    send(sc, 1.0, [BOB])
    result = run_yaml(sc)
    r = row(result, kind="mail")
    t = accepted_at(1.0, L_SUB, xfer_s(r["wire_bytes"], B_SUB))
    while t < 1200.0:
        t += 30.0 + 240.0
    assert r["delivered_at"] == exact(accepted_at(t, D_RELAY, xfer_s(r["wire_bytes"], B_CB)))
    assert [e.time for e in events(result, down)] == [exact(0.0)]
    assert [e.time for e in events(result, up)] == [exact(1200.0)]


def test_session_cut_before_acceptance_leaves_message_queued() -> None:
    t_relay = accepted_at(100.0, L_SUB, 0.0)  # 100.045
    cut = t_relay + 2 * 2 * D_RELAY  # during the greeting
    result = run_yaml(cut_world(100.0, cut))
    r = row(result, kind="mail")
    mid = r["message_id"]
    [c] = events(result, "session_cut", mid)
    assert (c.time, c.f["accepted"]) == (exact(cut), "no")
    assert [e.time for e in events(result, "attempt", mid)] == [exact(t_relay), exact(cut + 60.0)]
    assert one_time(result, "accepted", mid, "mx.beta") == exact(r["delivered_at"])
    assert r["delivered_at"] == exact(accepted_at(cut + 60.0, D_RELAY, xfer_s(r["wire_bytes"], B_CB)))
    assert (r["duplicates"], result.summary["counts"]["duplicates"]) == (0, 0)


def test_link_outage_mid_transfer_cuts_it_and_frees_the_link() -> None:
    """1 MB at 50 Mbps takes 0.16 s; the link goes down halfway. The retry's transfer takes the
    full uncontended T again: the cut flow left the link."""
    t_relay = accepted_at(100.0, L_SUB, 0.0)
    start_xfer = t_relay + 4 * 2 * D_RELAY
    cut = start_xfer + xfer_s(1_000_000, B_CB) / 2  # the wire bytes are a little more than 1 MB
    result = run_yaml(cut_world(100.0, cut, size="1MB"))
    r = row(result, kind="mail")
    assert xfer_s(r["wire_bytes"], B_CB) > cut - start_xfer  # the cut is inside the transfer
    mid = r["message_id"]
    assert [e.f["accepted"] for e in events(result, "session_cut", mid)] == ["no"]
    assert r["delivered_at"] == exact(accepted_at(cut + 60.0, D_RELAY, xfer_s(r["wire_bytes"], B_CB)))
    assert len(events(result, "accepted", mid, "mx.beta")) == 1


def test_outage_of_an_unrelated_link_does_not_cut_the_session() -> None:
    sc = world(sub_bandwidth=None)
    sc["network"]["links"].append(link("core", "elsewhere", "1ms"))
    sc["users"].append({"address": "zed@alpha.example", "at": "elsewhere"})
    t_relay = accepted_at(100.0, L_SUB, 0.0)
    outage(sc, "core--elsewhere", t_relay + 0.1, t_relay + 5.0)
    send(sc, 100.0, [BOB])
    result = run_yaml(sc)
    r = row(result, kind="mail")
    assert not events(result, "session_cut")
    assert r["delivered_at"] == exact(accepted_at(t_relay, D_RELAY, xfer_s(r["wire_bytes"], B_CB)))


def test_cut_after_acceptance_before_250_is_a_counted_duplicate() -> None:
    """A 1 s link: mx.beta accepts at t_relay + 9 s, alpha would see the 250 at + 10 s; the link
    fails at + 9.5 s. mx.alpha retries a message mx.beta already delivered."""
    sc = world(sub_bandwidth=None)
    sc["network"]["links"][1:] = [link("mx.alpha", "mx.beta", "1s")]
    sc["servers"]["mx.alpha"]["retry"] = {"policy": "fixed", "interval": "1m"}
    t_relay = accepted_at(100.0, L_SUB, 0.0)
    cut = t_relay + 9.5
    outage(sc, "mx.alpha--mx.beta", cut, cut + 10.0)
    send(sc, 100.0, [BOB])
    result = run_yaml(sc)
    r = row(result, kind="mail")
    mid = r["message_id"]
    [c] = events(result, "session_cut", mid)
    assert (c.time, c.f["accepted"]) == (exact(cut), "yes")
    assert (r["status"], r["delivered_at"], r["duplicates"]) == ("delivered", exact(t_relay + 9.0), 1)
    assert [e.time for e in events(result, "duplicate", mid)] == [exact(cut + 60.0 + 9.0)]
    counts = result.summary["counts"]
    assert (counts["delivered"], counts["duplicates"]) == (1, 1)


def test_submission_cut_after_acceptance_is_a_duplicate() -> None:
    sc = world(sub_bandwidth=None)
    sc["network"]["links"][0] = link("office.alpha", "mx.alpha", "1s")
    t_sub = accepted_at(100.0, 1.0, 0.0)  # 109
    outage(sc, "office.alpha--mx.alpha", t_sub + 0.5, t_sub + 10.0)
    send(sc, 100.0, [BOB])
    result = run_yaml(sc)
    r = row(result, kind="mail")
    mid = r["message_id"]
    assert r["delivered_at"] == exact(accepted_at(t_sub, D_RELAY, xfer_s(r["wire_bytes"], B_CB)))
    assert len(events(result, "accepted", mid, "mx.alpha")) == 2
    assert r["duplicates"] == 1
    assert result.summary["counts"]["duplicates"] == 1


def test_concurrency_one_serialises_sessions() -> None:
    sc = world(sub_bandwidth=None)
    sc["servers"]["mx.alpha"]["concurrency"] = 1
    send(sc, 1.0, [BOB], size="1MB")
    send(sc, 1.0, [CAROL], size="1MB", sender=DAVE)
    result = run_yaml(sc)
    first, second = sorted(events(result, "attempt"), key=lambda e: e.time)
    assert first.time == exact(accepted_at(1.0, L_SUB, 0.0))
    assert second.time >= one_time(result, "accepted", first.message_id, "mx.beta") - 1e-9
    r2 = row(result, message_id=second.message_id)
    assert r2["delivered_at"] == exact(accepted_at(second.time, D_RELAY, xfer_s(r2["wire_bytes"], B_CB)))


# ---- attachments ------------------------------------------------------------------------------


def test_attachment_wire_bytes_are_base64_plus_constant_mime_overhead() -> None:
    sc = world()
    sizes = [1, 2, 3, 56, 57, 58, 1000, 123_457, 2_000_000]
    send(sc, 0.0, [BOB], size=5000)
    for k, n in enumerate(sizes, start=1):
        send(sc, 600.0 * k, [BOB], size=5000, attachment=n)
    result = run_yaml(sc)
    mail = sorted(rows(result, kind="mail"), key=lambda r: r["submitted_at"])
    plain, with_att = mail[0], mail[1:]
    assert plain["size_bytes"] == 5000
    overheads = set()
    for r, n in zip(with_att, sizes, strict=True):
        assert r["size_bytes"] == 5000 + n
        overheads.add(r["wire_bytes"] - plain["wire_bytes"] - b64_bytes(n))
    assert len(overheads) == 1
    assert overheads.pop() > 0
    # T grows with the encoded size: the 2 MB attachment's delivery time follows its wire bytes.
    big = with_att[-1]
    t_relay = accepted_at(big["submitted_at"], L_SUB, xfer_s(big["wire_bytes"], B_SUB))
    assert big["delivered_at"] == exact(accepted_at(t_relay, D_RELAY, xfer_s(big["wire_bytes"], B_CB)))
