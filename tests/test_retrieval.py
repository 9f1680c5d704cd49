"""Exact traces of the retrieval timing contract (SCENARIO.md, "Retrieval timing").

The world: the sender ``alice`` sits at the node of her server ``mx.alpha`` (a path with no
links, so submission takes no time and ``delivered_at`` is the scripted ``at``); the reader
``bob`` (same domain) sits at ``home``, behind one access link ``home--mx.alpha`` of latency
``d = 10 ms`` (``RTT = 20 ms``) and ``1 Mbps``, so ``T = 8 * wire_bytes / 1e6`` matters.
Transfers of the same size that start together on that link share it: each takes ``n * T``.

Expectations are the contract's arithmetic:

- POP3: session start ``s`` = the first tick ``offset + k*poll`` at or after delivery; the first
  message is held at ``s + 6 RTT + T`` (``7 RTT`` with ``keep``), each further at ``+ RTT + T``.
  The maildrop's contents are fixed when PASS reaches the server (``s + 3.5 RTT``).
- IMAP IDLE: ``delivered_at + 2.5 RTT + T``; without IDLE: ``tick + 2 RTT + T``.
- HTTP: ``tick + 3 RTT + T`` for the first, ``+ RTT + T`` for each further; the inbox is read
  when GET reaches the server (``tick + 1.5 RTT``).
- Outages cut sessions; a device tries again at its next poll (IMAP: ``cut + k*poll``) and
  nothing is lost or counted twice.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest
import yaml
from conftest import events, exact, run_yaml

from simulator import load_scenario
from simulator.protocols.trace import Pop3Trace
from simulator.results import derive
from simulator.world import World

D_S = 0.010
RTT_S = 2 * D_S
BW_BPS = 1e6
ALICE, BOB = "alice@alpha.example", "bob@alpha.example"
CONNECT_TIMEOUT_S = 30.0  # a device that cannot reach its server gives up after this (devices.py)


# ---- arithmetic -------------------------------------------------------------------------------


def xfer_s(wire_bytes: int, sharing: int = 1) -> float:
    """T on the access link for ``wire_bytes``, with ``sharing`` equal transfers running together."""
    return sharing * 8.0 * wire_bytes / BW_BPS


def next_tick(offset_s: float, poll_s: float, at_s: float, after_s: float = -math.inf) -> float:
    """The first poll time ``offset + k*poll`` at or after ``at_s`` and strictly after ``after_s``."""
    k = max(0, math.ceil((at_s - offset_s) / poll_s - 1e-9))
    tick = offset_s + k * poll_s
    while tick <= after_s:
        tick += poll_s
    return tick


def polled_times(offset_s: float, poll_s: float, arrivals: Sequence[tuple[float, int]], first_rtts: float,
                 cutoff_rtts: float) -> list[float]:
    """Retrieval time of each (delivered_at, wire_bytes), in delivery order, for one polling device.

    A session at tick ``s`` takes what was delivered by ``s + cutoff_rtts*RTT`` (PASS or GET inbox
    reaching the server); its first message is held at ``s + first_rtts*RTT + T``, each further
    ``RTT + T`` later.
    """
    return pop3_shared([offset_s], poll_s, arrivals, first_rtts, cutoff_rtts)[1]


def pop3_shared(offsets_s: Sequence[float], poll_s: float, arrivals: Sequence[tuple[float, int]],
                first_rtts: float, cutoff_rtts: float) -> tuple[list[int], list[float]]:
    """Which device (index) gets each message and when, for devices that share one maildrop
    and delete what they take (POP3 without keep): the device whose poll comes first takes every
    message delivered by its cut-off. Sessions of different devices must not overlap."""
    last = [-math.inf] * len(offsets_s)
    owner: list[int] = [-1] * len(arrivals)
    times: list[float] = [math.nan] * len(arrivals)
    pending = list(range(len(arrivals)))
    while pending:
        t0 = arrivals[pending[0]][0]
        ticks = [next_tick(off, poll_s, t0, last[i]) for i, off in enumerate(offsets_s)]
        device = min(range(len(ticks)), key=ticks.__getitem__)
        tick = ticks[device]
        batch = [j for j in pending if arrivals[j][0] <= tick + cutoff_rtts * RTT_S]
        clock = tick + (first_rtts - 1) * RTT_S
        for j in batch:
            clock += RTT_S + xfer_s(arrivals[j][1])
            owner[j], times[j] = device, clock
        last[device] = tick
        pending = [j for j in pending if j not in batch]
    return owner, times


# ---- scenarios --------------------------------------------------------------------------------


def world(access: dict[str, Any], times: Sequence[float] = (), sizes: Sequence[int] | None = None,
          attachment: int | None = None, seed: int = 1) -> dict[str, Any]:
    """bob reads with ``access``; alice sends him one message per time in ``times``."""
    sizes = sizes if sizes is not None else [20000] * len(times)
    messages = []
    for at, size in zip(times, sizes, strict=True):
        msg: dict[str, Any] = {"at": at, "from": ALICE, "to": [BOB], "size": size}
        if attachment is not None:
            msg["attachment"] = attachment
        messages.append(msg)
    return {
        "name": "retrieval",
        "seed": seed,
        "duration": "1h",
        "network": {"links": [{"between": ["home", "mx.alpha"], "latency": "10ms", "bandwidth": "1Mbps"}]},
        "servers": {"mx.alpha": {"domains": ["alpha.example"]}},
        "users": [{"address": ALICE, "at": "mx.alpha"}, {"address": BOB, "at": "home", "access": access}],
        "messages": messages,
    }


def outage(sc: dict[str, Any], target: str, start: float, end: float) -> dict[str, Any]:
    sc.setdefault("outages", []).append({"target": target, "start": start, "end": end})
    return sc


def run_world(sc: dict[str, Any]) -> tuple[World, Any]:
    """Run a scenario through :class:`World` so the mailboxes can be inspected afterwards."""
    w = World(load_scenario(yaml.safe_dump(sc, sort_keys=False)))
    w.run()
    return w, derive(w.log.records, sorted(w.scenario.servers))


def mails_to(result: Any, rcpt: str = BOB) -> list[tuple[str, float, int]]:
    """(message id, delivered_at, wire_bytes) of every mail delivered to ``rcpt``, by delivery time."""
    found = [(r["message_id"], r["delivered_at"], r["wire_bytes"]) for r in result.tables.deliveries
             if r["recipient"] == rcpt and r["kind"] == "mail" and r["delivered_at"] is not None]
    return sorted(found, key=lambda x: (x[1], int(x[0][1:])))


def got(result: Any, mid: str, rcpt: str = BOB) -> dict[str, list[float]]:
    """device (as events.csv writes it) -> retrieval times of message ``mid`` by ``rcpt``."""
    out: dict[str, list[float]] = {}
    for r in result.tables.retrievals:
        if r["message_id"] == mid and r["recipient"] == rcpt:
            out.setdefault(str(r["device"]), []).append(r["retrieved_at"])
    return out


def only_time(result: Any, mid: str, device: str = "1") -> float:
    """The one retrieval time of ``mid`` by ``device`` (fails if there is not exactly one)."""
    times = got(result, mid).get(device, [])
    assert len(times) == 1, f"{mid} retrieved {len(times)} times by device {device}"
    return times[0]


def offsets(result: Any, rcpt: str = BOB) -> list[float]:
    """The poll offsets the devices of ``rcpt`` use, as logged when they start."""
    found = [e for e in events(result, "device") if e.f["rcpt"] == rcpt]
    return [float(e.f["offset"]) for e in sorted(found, key=lambda e: int(e.f["device"]))]


def no_duplicate_rows(retrievals: Sequence[dict[str, Any]]) -> None:
    keys = Counter((r["message_id"], r["recipient"], r["device"]) for r in retrievals)
    assert all(n == 1 for n in keys.values()), [k for k, n in keys.items() if n > 1]


POP3 = {"protocol": "pop3", "poll": 600, "offset": 100}
POP3_KEEP = {**POP3, "keep": True}
HTTP = {"protocol": "http", "poll": 600, "offset": 100}


# ---- POP3 -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("keep", "first_rtts"), [(False, 6), (True, 7)])
def test_pop3_first_message_then_one_rtt_per_further_retr(keep: bool, first_rtts: int) -> None:
    result = run_yaml(world({**POP3, "keep": keep}, [50, 60, 70], [20000, 5000, 80000]))
    (m1, _, w1), (m2, _, w2), (m3, _, w3) = mails_to(result)
    t1 = 100 + first_rtts * RTT_S + xfer_s(w1)
    assert only_time(result, m1) == exact(t1)
    assert only_time(result, m2) == exact(t1 + RTT_S + xfer_s(w2))
    assert only_time(result, m3) == exact(t1 + 2 * RTT_S + xfer_s(w2) + xfer_s(w3))


@pytest.mark.parametrize("at", [0.0, 50.0, 100.0, 100.5, 699.9, 700.0, 1300.01])
def test_pop3_session_starts_at_first_tick_at_or_after_delivery(at: float) -> None:
    result = run_yaml(world(POP3, [at]))
    ((mid, delivered, wire),) = mails_to(result)
    assert delivered == exact(at)
    tick = 100 + 600 * max(0, math.ceil((at - 100) / 600))
    assert only_time(result, mid) == exact(tick + 6 * RTT_S + xfer_s(wire))


@pytest.mark.parametrize(("protocol", "first_rtts", "pass_rtts"), [("pop3", 6, 3.5), ("http", 3, 1.5)])
def test_mail_after_the_mailbox_is_read_waits_for_the_next_poll(protocol: str, first_rtts: int,
                                                                pass_rtts: float) -> None:
    """POP3 fixes the maildrop as PASS arrives, webmail the inbox as GET arrives (tick + 1.5 RTT)."""
    read_at = 100 + pass_rtts * RTT_S
    result = run_yaml(world({**POP3, "protocol": protocol}, [50, read_at - 1e-3, read_at + 1e-3], [20000, 7000, 9000]))
    (m1, _, w1), (m2, _, w2), (m3, _, w3) = mails_to(result)
    t1 = 100 + first_rtts * RTT_S + xfer_s(w1)
    assert only_time(result, m1) == exact(t1)
    assert only_time(result, m2) == exact(t1 + RTT_S + xfer_s(w2))
    assert only_time(result, m3) == exact(700 + first_rtts * RTT_S + xfer_s(w3))


def many(n: int, gap_s: float, start_s: float = 5.0) -> tuple[list[float], list[int]]:
    return [start_s + gap_s * i for i in range(n)], [2000 + 700 * i for i in range(n)]


def assert_sessions_apart(offs: Sequence[float], poll_s: float, apart_s: float = 2.0) -> None:
    """Precondition of the expected-time arithmetic: the devices' sessions never overlap."""
    gap = abs(offs[0] - offs[1]) % poll_s
    assert min(gap, poll_s - gap) > apart_s, f"device offsets {offs} too close for this test's arithmetic"


def test_pop3_two_devices_without_keep_share_the_mail() -> None:
    """Each message lands on exactly one device: the one whose poll comes first."""
    times, sizes = many(60, 47.0)
    result = run_yaml(world({"protocol": "pop3", "poll": 600, "devices": 2}, times, sizes, seed=3))
    offs = offsets(result)
    assert_sessions_apart(offs, 600)
    mails = mails_to(result)
    owner, expected = pop3_shared(offs, 600, [(t, w) for _, t, w in mails], 6, 3.5)
    for (mid, _, _), device, when in zip(mails, owner, expected, strict=True):
        held = got(result, mid)
        assert list(held) == [str(device + 1)], (mid, held)
        assert held[str(device + 1)] == [exact(when)]
    assert len(result.tables.retrievals) == len(mails) == 60
    assert set(owner) == {0, 1}, "both devices should have taken some of the mail"


def test_pop3_two_devices_same_offset_one_is_locked_out() -> None:
    """Two sessions at once: the maildrop lock (RFC 1939) lets one in; the message is taken once."""
    result = run_yaml(world({**POP3, "devices": 2}, [50]))
    ((mid, _, wire),) = mails_to(result)
    held = got(result, mid)
    assert sum(len(t) for t in held.values()) == 1
    assert next(iter(held.values())) == [exact(100 + 6 * RTT_S + xfer_s(wire))]
    assert [e.f["why"] for e in events(result, "retrieve_failed")] == ["locked"]


def test_pop3_keep_each_device_gets_each_message_once_over_many_polls() -> None:
    times, sizes = many(30, 97.0)
    result = run_yaml(world({"protocol": "pop3", "poll": 600, "devices": 2, "keep": True}, times, sizes, seed=5))
    offs = offsets(result)
    assert_sessions_apart(offs, 600)
    mails = mails_to(result)
    arrivals = [(t, w) for _, t, w in mails]
    for device, off in enumerate(offs, start=1):
        expected = polled_times(off, 600, arrivals, 7, 3.5)
        for (mid, _, _), when in zip(mails, expected, strict=True):
            assert only_time(result, mid, str(device)) == exact(when)
    assert len(result.tables.retrievals) == 2 * len(mails) == 60
    no_duplicate_rows(result.tables.retrievals)


def test_pop3_keep_locked_device_gets_the_message_at_its_next_poll() -> None:
    result = run_yaml(world({**POP3_KEEP, "devices": 2}, [50]))
    ((mid, _, wire),) = mails_to(result)
    held = got(result, mid)
    assert sorted(t for ts in held.values() for t in ts) == [
        exact(100 + 7 * RTT_S + xfer_s(wire)), exact(700 + 7 * RTT_S + xfer_s(wire))]


def test_pop3_without_keep_deletes_at_quit_and_keep_leaves_mail_on_the_server() -> None:
    """The first session's QUIT deletes m1 and m2 (not with keep). The run ends when the last message
    is held, before that session's QUIT reaches the server, so m3's deletion is not asserted."""
    for access in (POP3, POP3_KEEP):
        w, tables = run_world(world({**access, "devices": 2}, [50, 60, 800]))
        box = w.ctx.servers["mx.alpha"].mailboxes[BOB]
        m1, m2, m3 = sorted({r["message_id"] for r in tables.retrievals}, key=lambda mid: int(mid[1:]))
        on_server = {m.id for m in box.present()}
        if access is POP3:
            assert on_server <= {m3}
            assert box.base >= 2  # deleted at the front of the maildrop: forgotten, not kept in memory
            assert not box.deleted & {m1, m2}
            assert not w.ctx.agents[BOB].read.keys() & {m1, m2}  # deleted: no device reports them again
        else:
            # Both devices got every message: neither deleted any. The mailbox keeps only what a
            # device has yet to list and pass (m1 and m2 were passed before m3 came).
            assert Counter(r["message_id"] for r in tables.retrievals) == {m1: 2, m2: 2, m3: 2}
            assert box.base + len(box.messages) == 3 and box.base >= 2 and not box.deleted
            assert all(d.held <= {m.id for m in box.messages} for d in w.ctx.agents[BOB].devices)
            assert not w.ctx.agents[BOB].read  # both devices have every message
        assert all(box.had(m) for m in box.present())  # a later delivery of any of them is a duplicate


# ---- IMAP -------------------------------------------------------------------------------------


@pytest.mark.parametrize("devices", [1, 2, 3])
def test_imap_idle_every_device_at_delivery_plus_2_5_rtt(devices: int) -> None:
    """All devices FETCH at once over the one access link: each transfer gets 1/devices of it."""
    result = run_yaml(world({"protocol": "imap", "devices": devices}, [50, 200, 400], [20000, 3000, 120000]))
    mails = mails_to(result)
    assert len(mails) == 3
    for mid, delivered, wire in mails:
        held = got(result, mid)
        assert sorted(held) == [str(i) for i in range(1, devices + 1)]
        for times in held.values():
            assert times == [exact(delivered + 2.5 * RTT_S + xfer_s(wire, devices))]


def test_imap_idle_two_messages_together_are_fetched_one_after_the_other() -> None:
    result = run_yaml(world({"protocol": "imap"}, [50, 50], [30000, 6000]))
    (m1, at1, w1), (m2, at2, w2) = mails_to(result)
    assert at1 == at2 == exact(50)
    t1 = only_time(result, m1)
    assert t1 == exact(50 + 2.5 * RTT_S + xfer_s(w1))
    assert only_time(result, m2) == exact(t1 + RTT_S + xfer_s(w2))


def test_imap_idle_message_arriving_during_a_fetch_is_fetched_next() -> None:
    """The server reports it in the FETCH's response; the device FETCHes it without IDLE."""
    result = run_yaml(world({"protocol": "imap"}, [50, 50.1], [30000, 6000]))
    (m1, _, w1), (m2, _, w2) = mails_to(result)
    t1 = 50 + 2.5 * RTT_S + xfer_s(w1)
    assert t1 > 50.1  # m2 arrives while m1's body is on its way
    assert only_time(result, m1) == exact(t1)
    assert only_time(result, m2) == exact(t1 + RTT_S + xfer_s(w2))


@pytest.mark.parametrize("devices", [1, 2])
def test_imap_without_idle_fetches_at_poll_plus_2_rtt(devices: int) -> None:
    access = {"protocol": "imap", "idle": False, "poll": 60, "offset": 100, "devices": devices}
    result = run_yaml(world(access, [150, 250, 641], [20000, 4000, 50000]))
    for (mid, delivered, wire) in mails_to(result):
        tick = next_tick(100, 60, delivered)
        held = got(result, mid)
        assert sorted(held) == [str(i) for i in range(1, devices + 1)]
        for times in held.values():
            assert times == [exact(tick + 2 * RTT_S + xfer_s(wire, devices))]


@pytest.mark.parametrize("access", [{"protocol": "imap"}, {"protocol": "imap", "idle": False},
                                    {"protocol": "http"}])
def test_imap_and_webmail_leave_mail_on_the_server_for_every_device(access: dict[str, Any]) -> None:
    w, tables = run_world(world({**access, "devices": 3}, [10, 400, 900, 2000]))
    box = w.ctx.servers["mx.alpha"].mailboxes[BOB]
    assert not box.deleted
    # Webmail lists the mailbox: it keeps each message until every device has listed and passed
    # it (by m4's delivery, m1 to m3). IMAP clients were handed each one: it keeps none.
    if access["protocol"] == "http":
        assert box.base + len(box.messages) == 4 and box.base >= 3
        # A device forgets what it has passed: it holds no id of a message the mailbox forgot.
        assert all(d.held <= {m.id for m in box.messages} for d in w.ctx.agents[BOB].devices)
    else:
        assert box.base == 0 and not box.messages
    per_pair = Counter((r["message_id"], r["device"]) for r in tables.retrievals if r["recipient"] == BOB)
    assert len(per_pair) == 4 * 3 and set(per_pair.values()) == {1}
    # Every device got every message: no \Seen flag or read mark is asked for again, none is kept.
    assert not box.seen and not w.ctx.agents[BOB].read


@pytest.mark.parametrize("access", [{"protocol": "imap", "idle": False, "poll": 300}, {"protocol": "http"}])
def test_seen_flag_is_shared_with_the_devices_that_read_later(access: dict[str, Any]) -> None:
    """A message read on one device is seen as read (``seen=1``) when the others fetch it."""
    times, sizes = many(12, 173.0)
    result = run_yaml(world({**access, "devices": 3}, times, sizes, seed=11))
    offs = offsets(result)
    assert len(set(offs)) == 3
    checked = 0
    for mid, _, _ in mails_to(result):
        fetched = sorted((e.time, e.f["seen"]) for e in events(result, "retrieved", mid))
        assert len(fetched) == 3
        assert fetched[0][1] == "0"
        for when, seen in fetched[1:]:
            assert when > fetched[0][0]
            assert seen == "1"
            checked += 1
    assert checked == 24



@pytest.mark.parametrize("access", [{"protocol": "imap"}, {"protocol": "imap", "idle": False, "poll": 300},
                                    {"protocol": "http"}, POP3_KEEP])
def test_a_users_only_device_reads_every_message_unseen_and_no_flags_are_kept(access: dict[str, Any]) -> None:
    """With one device nobody else can have flagged a message: each is fetched once, ``seen=0``,
    and the mailbox keeps no Seen flags for it."""
    times, sizes = many(6, 173.0)
    w, tables = run_world(world({**access, "devices": 1}, times, sizes, seed=11))
    rows = [r for r in tables.retrievals if r["recipient"] == BOB]
    assert len(rows) == 6 and len({r["message_id"] for r in rows}) == 6
    seen = [r[4][3] for r in w.log.records if r[1] == "retrieved" and r[4][0] == BOB]
    assert seen == [0] * 6
    assert not w.ctx.servers["mx.alpha"].mailboxes[BOB].seen

# ---- HTTP webmail -----------------------------------------------------------------------------


def test_http_first_at_tick_plus_3_rtt_then_one_rtt_each() -> None:
    result = run_yaml(world(HTTP, [50, 60, 70], [20000, 5000, 80000]))
    (m1, _, w1), (m2, _, w2), (m3, _, w3) = mails_to(result)
    t1 = 100 + 3 * RTT_S + xfer_s(w1)
    assert only_time(result, m1) == exact(t1)
    assert only_time(result, m2) == exact(t1 + RTT_S + xfer_s(w2))
    assert only_time(result, m3) == exact(t1 + 2 * RTT_S + xfer_s(w2) + xfer_s(w3))


@pytest.mark.parametrize("poll", [600, 120])
def test_http_two_devices_each_get_every_message_at_their_polls(poll: int) -> None:
    times, sizes = many(25, 83.0)
    result = run_yaml(world({"protocol": "http", "poll": poll, "devices": 2}, times, sizes, seed=2))
    offs = offsets(result)
    assert_sessions_apart(offs, poll)
    mails = mails_to(result)
    arrivals = [(t, w) for _, t, w in mails]
    for device, off in enumerate(offs, start=1):
        for (mid, _, _), when in zip(mails, polled_times(off, poll, arrivals, 3, 1.5), strict=True):
            assert only_time(result, mid, str(device)) == exact(when)
    assert len(result.tables.retrievals) == 50


def test_offsets_drawn_uniformly_in_the_poll_period() -> None:
    users = [{"address": f"u{i}@alpha.example", "at": "home", "access": {"protocol": "http", "poll": 600}}
             for i in range(200)]
    sc = world(HTTP)
    sc["users"] = [sc["users"][0], *users]
    result = run_yaml(sc)
    drawn = [float(e.f["offset"]) for e in events(result, "device") if e.f["rcpt"].startswith("u")]
    assert len(drawn) == 200 and all(0 <= x < 600 for x in drawn)
    # uniform on [0, 600): mean 300, sd of the mean 600/sqrt(12*200) ~ 12.2; allow 4 sd
    assert abs(np.mean(drawn) - 300) < 4 * 600 / math.sqrt(12 * 200)
    assert len(set(drawn)) == 200


# ---- results tables and summary ---------------------------------------------------------------

READERS = {
    "p3": {"protocol": "pop3", "devices": 2},
    "p3k": {"protocol": "pop3", "devices": 2, "keep": True},
    "im": {"protocol": "imap", "devices": 2},
    "imn": {"protocol": "imap", "devices": 2, "idle": False, "poll": 120},
    "web": {"protocol": "http", "devices": 2},
}


def readers_world(seed: int, outages: Sequence[dict[str, Any]] = (), rate: str = "12/h",
                  duration: str = "4h") -> dict[str, Any]:
    """One reader per access kind at ``home``, a Poisson stream from alice to each."""
    sc = world({"protocol": "imap"}, seed=seed)
    sc["duration"] = duration
    sc["users"] = [sc["users"][0]] + [{"address": f"{name}@alpha.example", "at": "home", "access": access}
                                      for name, access in READERS.items()]
    sc["traffic"] = [{"from": ALICE, "to": f"{name}@alpha.example", "rate": rate,
                      "size": {"lognormal": {"median": "8KB", "sigma": 1.0}}} for name in READERS]
    sc["outages"] = list(outages)
    return sc


def copies(name: str) -> int:
    return 1 if name == "p3" else 2


def test_deliveries_retrieved_at_is_the_first_device_and_rows_per_protocol() -> None:
    result = run_yaml(readers_world(seed=4))
    deliveries = [r for r in result.tables.deliveries if r["recipient"] != ALICE]
    assert len(deliveries) > 100
    by_pair: dict[tuple[str, str], list[float]] = {}
    for r in result.tables.retrievals:
        by_pair.setdefault((r["message_id"], r["recipient"]), []).append(r["retrieved_at"])
    for r in deliveries:
        assert r["status"] == "delivered"
        times = by_pair[(r["message_id"], r["recipient"])]
        assert r["retrieved_at"] == min(times)
        assert len(times) == copies(r["recipient"].partition("@")[0])
    per_protocol = Counter(r["protocol"] for r in result.tables.retrievals)
    n = Counter(r["recipient"].partition("@")[0] for r in deliveries)
    assert per_protocol["pop3"] == n["p3"] + 2 * n["p3k"]
    assert per_protocol["imap"] == 2 * (n["im"] + n["imn"])
    assert per_protocol["http"] == 2 * n["web"]
    no_duplicate_rows(result.tables.retrievals)


@pytest.mark.parametrize(("name", "share"), [("p3", 0.0), ("p3k", 1.0), ("im", 1.0), ("imn", 1.0), ("web", 1.0)])
def test_every_device_share_by_protocol(name: str, share: float) -> None:
    sc = world(READERS[name], many(20, 311.0)[0])
    result = run_yaml(sc)
    summary = result.summary["retrieval_by_protocol"][READERS[name]["protocol"]]
    assert summary["delivered"] == summary["retrieved"] == 20
    assert summary["every_device_share"] == share
    assert summary["retrievals"] == 20 * copies(name)


def test_retrieval_latency_by_protocol_matches_the_rows() -> None:
    result = run_yaml(readers_world(seed=9))
    summary = result.summary["retrieval_by_protocol"]
    protocol_of = {f"{name}@alpha.example": access["protocol"] for name, access in READERS.items()}
    protocol_of[ALICE] = "imap"
    for protocol in ("pop3", "imap", "http"):
        mail = [r for r in result.tables.deliveries if r["kind"] == "mail" and protocol_of[r["recipient"]] == protocol]
        lat = np.array([r["retrieved_at"] - r["delivered_at"] for r in mail])
        e2e = np.array([r["retrieved_at"] - r["submitted_at"] for r in mail])
        got_ = summary[protocol]
        assert got_["delivered"] == got_["retrieved"] == len(mail) > 20
        for stats, values in ((got_["retrieval_latency_s"], lat), (got_["end_to_end_latency_s"], e2e)):
            assert stats["count"] == len(values)
            assert stats["mean"] == pytest.approx(values.mean(), rel=1e-12)
            assert stats["max"] == pytest.approx(values.max(), rel=1e-12)
            for q in (50, 90, 99):
                assert stats[f"p{q}"] == pytest.approx(np.percentile(values, q), rel=1e-12)
    everyone = [r for r in result.tables.deliveries if r["retrieved_at"] is not None and r["kind"] == "mail"]
    top = result.summary["retrieval_latency_s"]
    assert top["count"] == len(everyone)
    assert top["mean"] == pytest.approx(np.mean([r["retrieved_at"] - r["delivered_at"] for r in everyone]), rel=1e-12)
    # POP3 and HTTP wait for a poll (up to 10 min); IMAP IDLE and NOOP every 2 min are quicker
    assert summary["imap"]["retrieval_latency_s"]["max"] < 121 + 1
    assert summary["pop3"]["retrieval_latency_s"]["mean"] > summary["imap"]["retrieval_latency_s"]["mean"]


# ---- outages ----------------------------------------------------------------------------------

BIG = 1_000_000  # an attachment that takes ~11 s to download at 1 Mbps


def failures(result: Any) -> list[tuple[float, str]]:
    return [(e.time, e.f["why"]) for e in events(result, "retrieve_failed") if e.f["rcpt"] == BOB]


@pytest.mark.parametrize(("protocol", "first_rtts"), [("pop3", 6), ("http", 3)])
def test_cut_mid_download_retries_at_next_poll(protocol: str, first_rtts: int) -> None:
    sc = outage(world({**POP3, "protocol": protocol}, [50], attachment=BIG), "mx.alpha", 105, 200)
    result = run_yaml(sc)
    ((mid, _, wire),) = mails_to(result)
    assert xfer_s(wire) > 10
    assert failures(result) == [(exact(105), "cut")]
    assert only_time(result, mid) == exact(700 + first_rtts * RTT_S + xfer_s(wire))


@pytest.mark.parametrize(("protocol", "first_rtts"), [("pop3", 6), ("http", 3)])
def test_cut_after_first_download_fetches_only_the_rest(protocol: str, first_rtts: int) -> None:
    """m1 is held when the session is cut during m2: the next poll takes m2 alone; m1 is not fetched again."""
    sc = world({**POP3, "protocol": protocol}, [50, 60], [3000, 4000], attachment=BIG)
    result0 = run_yaml(sc)
    (m1, _, w1), (m2, _, w2) = mails_to(result0)
    t1 = 100 + first_rtts * RTT_S + xfer_s(w1)
    cut = t1 + RTT_S + xfer_s(w2) / 2
    w, tables = run_world(outage(sc, "mx.alpha", cut, cut + 60))
    held = Counter(r["message_id"] for r in tables.retrievals)
    assert held == {m1: 1, m2: 1}
    times = {r["message_id"]: r["retrieved_at"] for r in tables.retrievals}
    assert times[m1] == exact(t1)
    assert times[m2] == exact(700 + first_rtts * RTT_S + xfer_s(w2))
    box = w.ctx.servers["mx.alpha"].mailboxes[BOB]
    assert not box.deleted  # POP3 deletes at QUIT; neither session reached it before the run ended


def test_pop3_deletes_at_its_next_quit_what_a_cut_session_downloaded() -> None:
    """RFC 1939 §6: a session cut before QUIT deletes nothing; m1, held by then, stays on the server
    until the next session's QUIT, which deletes it with m2 (DELE for each: 1 RTT each before QUIT),
    though that session downloads m2 alone. m3's session finds only m3."""
    sc = world(POP3, [50, 60, 1000], [3000, 4000, 5000], attachment=BIG)
    (m1, _, w1), (m2, _, w2), (m3, _, w3) = mails_to(run_yaml(sc))
    t1 = 100 + 6 * RTT_S + xfer_s(w1)
    cut = t1 + RTT_S + xfer_s(w2) / 2
    w, tables = run_world(outage(sc, "mx.alpha", cut, cut + 60))
    times = {r["message_id"]: r["retrieved_at"] for r in tables.retrievals}
    assert times == {m1: exact(t1), m2: exact(700 + 6 * RTT_S + xfer_s(w2)),
                     m3: exact(1300 + 6 * RTT_S + xfer_s(w3))}
    box = w.ctx.servers["mx.alpha"].mailboxes[BOB]
    assert [m.id for m in box.present()] == [m3]  # the last session's QUIT comes after the run's end
    assert box.base == 2 and not box.deleted
    device = w.ctx.agents[BOB].devices[0]
    assert device.held == {m3}  # what left the server is not remembered either
    traced = World(load_scenario(yaml.safe_dump(sc, sort_keys=False)), trace=True)
    traced.run()
    second = next(t for t in traced.ctx.traces if isinstance(t, Pop3Trace) and t.start_s == 700)
    assert (second.fetched_ids(), second.dele) == ([m2], 2)
    # m2 held, then a DELE round trip for each of m1 and m2, then QUIT's trip to the server
    assert second.quit_s == exact(times[m2] + 2 * RTT_S + D_S)


def test_pop3_cut_before_quit_leaves_the_mail_for_the_other_device() -> None:
    """RFC 1939 §6: a session that ends without QUIT deletes nothing. Device A held m1 when its session
    was cut (during m2); device B polls before A and downloads both. Nothing is lost, no device takes a
    message twice, but m1 is on two devices: "a second device never sees it" holds only without cuts."""
    sc = world({"protocol": "pop3", "poll": 600, "devices": 2}, [], seed=3)
    offs = offsets(run_yaml(sc))
    a = min(range(2), key=offs.__getitem__)
    tick_a, tick_b = offs[a] + 600, offs[1 - a] + 600
    assert tick_a + 60 < tick_b < tick_a + 600
    sc = world(sc["users"][1]["access"], [tick_a - 5, tick_a - 4], [3000, 4000], attachment=BIG, seed=3)
    (m1, _, w1), (m2, _, w2) = mails_to(run_yaml(sc))
    t1 = tick_a + 6 * RTT_S + xfer_s(w1)
    cut = t1 + RTT_S + xfer_s(w2) / 2
    result = run_yaml(outage(sc, "mx.alpha", cut, cut + 5))
    da, db = str(a + 1), str(2 - a)
    assert got(result, m1) == {da: [exact(t1)], db: [exact(tick_b + 6 * RTT_S + xfer_s(w1))]}
    assert got(result, m2) == {db: [exact(tick_b + 7 * RTT_S + xfer_s(w1) + xfer_s(w2))]}
    no_duplicate_rows(result.tables.retrievals)
    assert result.summary["retrieval_by_protocol"]["pop3"]["every_device_share"] == 0.5


@pytest.mark.parametrize(("protocol", "first_rtts"), [("pop3", 6), ("http", 3)])
@pytest.mark.parametrize("target", ["mx.alpha", "home--mx.alpha"])
def test_poll_during_outage_fails_and_the_next_poll_retrieves(protocol: str, first_rtts: int, target: str) -> None:
    result = run_yaml(outage(world({**POP3, "protocol": protocol}, [50]), target, 90, 400))
    ((mid, _, wire),) = mails_to(result)
    assert failures(result) == [(exact(100 + CONNECT_TIMEOUT_S), "connect")]
    assert only_time(result, mid) == exact(700 + first_rtts * RTT_S + xfer_s(wire))


@pytest.mark.parametrize("poll", [60, 45, 200])
def test_imap_idle_cut_by_server_outage_reconnects_at_cut_plus_k_poll(poll: int) -> None:
    """Cut at 100; the server is back at 230; mail delivered at 250 waits for the reconnect."""
    sc = outage(world({"protocol": "imap", "poll": poll}, [50, 250], [20000, 30000]), "mx.alpha", 100, 230)
    result = run_yaml(sc)
    (m1, d1, w1), (m2, d2, w2) = mails_to(result)
    assert only_time(result, m1) == exact(d1 + 2.5 * RTT_S + xfer_s(w1))
    reconnect = 100 + poll * math.ceil((230 - 100) / poll)
    expected = (reconnect + 5 * RTT_S if reconnect > d2 else d2 + 2.5 * RTT_S) + xfer_s(w2)
    assert only_time(result, m2) == exact(expected)
    assert failures(result)[0] == (exact(100), "cut")


@pytest.mark.parametrize(("poll", "end"), [(60, 250.0), (45, 250.0), (60, 161.0)])
def test_imap_idle_access_link_outage_mail_delivered_while_disconnected(poll: int, end: float) -> None:
    """The device retries every ``poll`` from the cut (connect timeout included) and fetches on reconnect:
    TCP, greeting, LOGIN, SELECT (4 RTT), then FETCH (1 RTT + T)."""
    sc = outage(world({"protocol": "imap", "poll": poll}, [150], [40000]), "home--mx.alpha", 100, end)
    result = run_yaml(sc)
    ((mid, delivered, wire),) = mails_to(result)
    assert delivered == exact(150)
    reconnect = 100 + poll * math.ceil((end - 100) / poll)
    assert only_time(result, mid) == exact(reconnect + 5 * RTT_S + xfer_s(wire))
    failed = failures(result)
    assert failed[0] == (exact(100), "cut")
    assert all(why == "connect" for _, why in failed[1:])
    assert len(failed) - 1 == math.ceil((end - 100) / poll) - 1


def test_imap_idle_cut_mid_fetch_fetches_again_after_reconnect() -> None:
    sc = outage(world({"protocol": "imap"}, [50], attachment=BIG), "home--mx.alpha", 55, 70)
    result = run_yaml(sc)
    ((mid, _, wire),) = mails_to(result)
    assert only_time(result, mid) == exact(55 + 60 + 5 * RTT_S + xfer_s(wire))


def test_imap_without_idle_cut_reconnects_then_polls_on_its_grid() -> None:
    """After a reconnect the session NOOPs at ``offset + k*poll`` again."""
    access = {"protocol": "imap", "idle": False, "poll": 60, "offset": 10}
    sc = outage(world(access, [300], [20000]), "mx.alpha", 100, 130)
    result = run_yaml(sc)
    ((mid, _, wire),) = mails_to(result)
    assert only_time(result, mid) == exact(310 + 2 * RTT_S + xfer_s(wire))


def random_outages(mtbf: str, mttr: str) -> list[dict[str, Any]]:
    return [{"target": "mx.alpha", "mtbf": mtbf, "mttr": mttr},
            {"target": "home--mx.alpha", "mtbf": mtbf, "mttr": mttr}]


def assert_conserved(result: Any) -> None:
    """Every delivered mail is held by every device that must get it, once each; the summary agrees."""
    tables = result.tables
    no_duplicate_rows(tables.retrievals)
    holders = Counter((r["message_id"], r["recipient"]) for r in tables.retrievals)
    delivered = [r for r in tables.deliveries if r["delivered_at"] is not None]
    readers = [r for r in delivered if r["recipient"] != ALICE]
    assert len(readers) > 50
    cuts = [(e.time, e.f["rcpt"], e.f["device"]) for e in events(result, "retrieve_failed") if e.f["why"] == "cut"]
    for r in readers:
        name = r["recipient"].partition("@")[0]
        key = (r["message_id"], r["recipient"])
        if name == "p3" and holders[key] == 2:  # the first holder's session was cut before its QUIT (RFC 1939 §6)
            (t1, d1), (t2, _) = sorted((x["retrieved_at"], x["device"]) for x in tables.retrievals
                                       if (x["message_id"], x["recipient"]) == key)
            assert any(t1 <= t <= t2 and rcpt == r["recipient"] and dev == d1 for t, rcpt, dev in cuts), key
            continue
        assert holders[key] == copies(name), (name, r)
        assert r["retrieved_at"] is not None and r["retrieved_at"] >= r["delivered_at"]
    for r in delivered:  # alice's bounces and warnings, if any, reach her one device too
        assert holders[(r["message_id"], r["recipient"])] >= 1
    counts = result.summary["counts"]
    assert counts["delivered"] + counts["bounced"] + counts["pending"] == counts["submitted"]
    assert counts["pending"] == 0
    by = result.summary["retrieval_by_protocol"]
    assert sum(p["retrieved"] for p in by.values()) == sum(p["delivered"] for p in by.values()) == counts["delivered"]
    for protocol, p in by.items():
        assert p["retrievals"] == sum(holders[(r["message_id"], r["recipient"])] for r in delivered
                                      if r["kind"] == "mail" and READERS.get(r["recipient"].partition("@")[0],
                                                                             {"protocol": "imap"})["protocol"]
                                      == protocol)


@pytest.mark.parametrize("seed", [1, 2])
def test_random_outages_lose_nothing(seed: int) -> None:
    result = run_yaml(readers_world(seed, random_outages("40m", "7m")))
    assert len(events(result, "server_down")) >= 2 and len(events(result, "link_down")) >= 2
    assert any(e.f["why"] == "cut" for e in events(result, "retrieve_failed"))
    assert_conserved(result)


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(3, 15))
def test_random_outages_lose_nothing_many_seeds(seed: int) -> None:
    result = run_yaml(readers_world(seed, random_outages("20m", "10m"), rate="30/h", duration="8h"))
    assert_conserved(result)
