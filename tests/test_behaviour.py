"""What users do with mail they have read: reply, forward, file (traffic keys ``reply``,
``forward``, ``file``; simulator/behaviour.py).

A recipient decides once per message, when it first holds it on any device (its first
retrieval), and acts ``think`` later: a reply goes from the reader to the message's author, a
forward to a member of ``forward.to`` other than the forwarder, carrying the original
attachments (base64 on the wire), and filing moves the message to a folder on the server (IMAP,
webmail) or on the device (POP3). Replies and forwards belong to the same traffic entry, so they
are themselves replied to with the same probability: with probability ``p`` a conversation has
``N`` messages with ``P(N = k) = p^(k-1) (1 - p)``, mean ``1/(1-p)``, variance ``p/(1-p)^2``.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

import pytest
import yaml
from conftest import events, exact, run_yaml

from simulator import load_scenario
from simulator.eventkinds import text_fields
from simulator.message import wire_bytes
from simulator.results import derive
from simulator.world import World

DOMAIN = "alpha.example"
ALICE, BOB, CAROL, DAVE = (f"{n}@{DOMAIN}" for n in ("alice", "bob", "carol", "dave"))


def world(users: list[dict[str, Any]], traffic: list[dict[str, Any]], seed: int = 1,
          until: str | None = None, duration: str = "1h") -> dict[str, Any]:
    sc: dict[str, Any] = {
        "name": "behaviour",
        "seed": seed,
        "duration": duration,
        "network": {"links": [{"between": ["home", "mx.alpha"], "latency": "10ms", "bandwidth": "1Mbps"}]},
        "servers": {"mx.alpha": {"domains": [DOMAIN]}},
        "users": users,
        "traffic": traffic,
    }
    if until is not None:
        sc["until"] = until
    return sc


def user(address: str, at: str = "home", **access: Any) -> dict[str, Any]:
    return {"address": address, "at": at, "access": access or {"protocol": "imap"}}


def created(result: Any) -> dict[str, tuple[float, dict[str, str]]]:
    """message id -> (creation time, fields of its ``created`` event)."""
    return {e.message_id: (e.time, e.f) for e in events(result, "created")}


def first_read(result: Any) -> dict[tuple[str, str], float]:
    """(message id, recipient) -> the first time any of the recipient's devices held it."""
    out: dict[tuple[str, str], float] = {}
    for r in result.tables.retrievals:
        key = (r["message_id"], r["recipient"])
        out[key] = min(out.get(key, math.inf), r["retrieved_at"])
    return out


def made(result: Any, how: str) -> dict[str, str]:
    """new message id -> the message it replies to / forwards, from ``reply``/``forward`` events."""
    return {e.f["new"]: e.message_id for e in events(result, how)}


def b64_bytes(n: int) -> int:
    chars = 4 * math.ceil(n / 3)
    return chars + 2 * math.ceil(chars / 76)


# ---- reply ------------------------------------------------------------------------------------


@pytest.mark.parametrize("access", [
    {"protocol": "imap", "devices": 2},
    {"protocol": "http", "devices": 3, "poll": 120},
    {"protocol": "pop3", "devices": 2, "poll": 300},
])
def test_reply_goes_to_the_author_think_after_first_read(access: dict[str, Any]) -> None:
    """With probability 1 every read message is answered once per reader, ``think`` after its first
    retrieval on any device, by the reader to the author; answers are answered too (until the hard stop)."""
    traffic = [{"from": ALICE, "to": BOB, "rate": "6/h", "size": "3KB", "reply": {"probability": 1.0, "think": "90s"}}]
    result = run_yaml(world([user(ALICE, "mx.alpha"), user(BOB, **access)], traffic, until="3h"))
    assert result.end_time_s == exact(3 * 3600)
    made_by = created(result)
    read = first_read(result)
    replies = events(result, "reply")
    assert len(replies) >= 10
    per_read = Counter((e.message_id, e.f["by"]) for e in replies)
    assert set(per_read.values()) == {1}, "one reply per (message, reader), however many devices"
    for e in replies:
        original, new = made_by[e.message_id][1], made_by[e.f["new"]]
        assert e.f["by"] in original["to"].split(",")
        assert e.time == exact(read[(e.message_id, e.f["by"])] + 90)
        assert new[0] == e.time
        assert new[1]["from"] == e.f["by"] and new[1]["to"] == original["from"]
        assert new[1]["kind"] == "mail" and int(new[1]["size"]) == 3000
    # every message read early enough was answered
    answered = set(per_read)
    due = {key for key, t in read.items() if t + 90 < 3 * 3600}
    assert due <= answered and len(due) >= 10
    # conversations go on: replies to replies, in both directions
    parent = made(result, "reply")
    depth = {mid: 0 for mid in made_by if mid not in parent}
    for mid in sorted(parent, key=lambda m: made_by[m][0]):
        depth[mid] = depth[parent[mid]] + 1
    assert max(depth.values()) >= 4
    assert {e.f["by"] for e in replies} == {ALICE, BOB}


def test_each_recipient_decides_on_its_own() -> None:
    """A message to two readers gets two replies, both to the author."""
    users = [user(ALICE, "mx.alpha"), user(BOB), user(CAROL, protocol="pop3")]
    traffic = [{"from": ALICE, "to": DOMAIN, "recipients": 2, "rate": "20/h", "size": "1KB",
                "reply": {"probability": 1.0, "think": "1m"}}]
    result = run_yaml(world(users, traffic, until="40m", duration="30m"))
    made_by = created(result)
    originals = [mid for mid, (_, f) in made_by.items() if f["from"] == ALICE and f["to"].count(",") == 1]
    assert len(originals) >= 3
    read = first_read(result)
    for mid in originals:
        by = sorted(e.f["by"] for e in events(result, "reply", mid))
        due = sorted(r for (m, r), t in read.items() if m == mid and t + 60 < 40 * 60)
        assert by == due


def test_scripted_messages_and_dsns_get_no_behaviour() -> None:
    sc = world([user(ALICE, "mx.alpha"), user(BOB)],
               [{"from": ALICE, "to": BOB, "rate": "1/d", "size": "1KB", "reply": {"probability": 1.0}}],
               duration="1s", until="1d")  # replies that always come need a hard stop
    sc["messages"] = [{"at": 10, "from": BOB, "to": [ALICE], "size": "2KB"},
                      {"at": 20, "from": BOB, "to": ["nobody@alpha.example"], "size": "2KB"}]
    result = run_yaml(sc)
    assert len(result.tables.retrievals) >= 1
    assert next(e for e in events(result, "created") if e.f["kind"] == "mail").f["from"] == BOB
    assert not events(result, "reply")


def thread_lengths(p: float, seed: int, originals_per_h: float, hours: int) -> tuple[int, int]:
    """(conversations, messages) for a run where every message is replied to with probability ``p``."""
    users = [user(ALICE, "mx.alpha"), user(BOB)]
    traffic = [{"from": ALICE, "to": BOB, "rate": f"{originals_per_h}/h", "size": "1KB",
                "reply": {"probability": p, "think": {"exponential": {"mean": "10m"}}}}]
    result = run_yaml(world(users, traffic, seed=seed, duration=f"{hours}h"))
    mail = [e for e in events(result, "created") if e.f["kind"] == "mail"]
    replies = len(events(result, "reply"))
    assert result.summary["counts"]["pending"] == 0
    return len(mail) - replies, len(mail)


def assert_geometric_mean(p: float, conversations: int, messages: int) -> None:
    """The mean conversation length, within 4 standard errors of 1/(1-p)."""
    mean, var = 1 / (1 - p), p / (1 - p) ** 2
    assert conversations > 100
    assert abs(messages / conversations - mean) < 4 * math.sqrt(var / conversations), (messages, conversations)


def test_conversation_length_is_geometric_quick() -> None:
    conversations, messages = thread_lengths(0.5, seed=7, originals_per_h=100, hours=4)
    assert_geometric_mean(0.5, conversations, messages)


@pytest.mark.slow
@pytest.mark.parametrize("p", [0.2, 0.6, 0.8])
def test_conversation_length_is_geometric_over_seeds(p: float) -> None:
    totals = [thread_lengths(p, seed, originals_per_h=100, hours=6) for seed in range(1, 6)]
    assert_geometric_mean(p, sum(c for c, _ in totals), sum(m for _, m in totals))


def test_reply_probability_zero_never_replies() -> None:
    conversations, messages = thread_lengths(0.0, seed=3, originals_per_h=30, hours=1)
    assert conversations == messages > 0


# ---- forward ----------------------------------------------------------------------------------

STAFF = [f"staff{i:03d}@{DOMAIN}" for i in range(1, 5)]  # a group of 4 numbers its members with 3 digits


def forward_world(forward: dict[str, Any], until: str = "2h") -> dict[str, Any]:
    users = [user(ALICE, "mx.alpha"), {"group": {"prefix": "staff", "count": 4, "domain": DOMAIN}, "at": "home"},
             user(CAROL), user(DAVE, protocol="pop3", poll=120)]
    traffic = [{"from": ALICE, "to": "staff", "rate": "20/h", "size": 10000,
                "attachments": {"probability": 1.0, "size": 30000}, "forward": forward}]
    return world(users, traffic, until=until, duration="30m")


@pytest.mark.parametrize("to", [None, "staff", DAVE])
def test_forward_goes_to_another_member_of_forward_to_with_the_attachment(to: str | None) -> None:
    forward: dict[str, Any] = {"probability": 1.0, "think": "1m"}
    if to is not None:
        forward["to"] = to
    result = run_yaml(forward_world(forward))
    made_by = created(result)
    read = first_read(result)
    forwards = events(result, "forward")
    assert len(forwards) >= 3
    targets = [DAVE] if to == DAVE else STAFF
    seen_to = set()
    for e in forwards:
        original, (when, new) = made_by[e.message_id][1], made_by[e.f["new"]]
        by, dest = e.f["by"], new["to"]
        seen_to.add(dest)
        assert by in original["to"].split(",")
        assert dest in targets and dest != by
        assert new["from"] == by
        assert when == e.time == exact(read[(e.message_id, by)] + 60)
        # the attachment travels: same raw size, base64 on the wire, only the header lines differ
        assert int(new["size"]) == 10000 + 30000
        assert int(new["wire"]) - wire_bytes(by, (dest,), 10000, ()) >= b64_bytes(30000)
        headers_delta = len(by) + len(dest) - len(original["from"]) - len(original["to"])
        assert int(new["wire"]) - int(original["wire"]) == headers_delta
    if to != DAVE:
        assert len(seen_to) >= 3  # every staff member is a possible target
        assert any(e.message_id in made(result, "forward") for e in forwards), "forwards are forwarded on"


def test_forward_with_no_one_else_to_send_to_is_dropped() -> None:
    result = run_yaml(forward_world({"probability": 1.0, "think": "1m", "to": STAFF[0]}, until="3h"))
    for e in events(result, "forward"):
        assert e.f["by"] != STAFF[0]
    assert not [e for e in events(result, "created") if e.f["from"] == STAFF[0]]
    assert any(e.f["rcpt"] == STAFF[0] for e in events(result, "retrieved")), "staff1 did read mail"


# ---- file -------------------------------------------------------------------------------------


def test_file_on_the_server_for_imap_and_webmail_and_locally_for_pop3() -> None:
    users = [user(ALICE, "mx.alpha"), user(BOB, devices=2), user(CAROL, protocol="http", devices=2),
             user(DAVE, protocol="pop3", devices=2)]
    traffic = [{"from": ALICE, "to": DOMAIN, "rate": "40/h", "size": "2KB",
                "file": {"probability": 1.0, "think": "2m", "folder": "Projects"}}]
    sc = world(users, traffic, duration="2h")
    w = World(load_scenario(yaml.safe_dump(sc, sort_keys=False)))
    w.run()
    tables = derive(w.log.records)
    read: dict[tuple[str, str], float] = {}
    for r in tables.retrievals:
        key = (r["message_id"], r["recipient"])
        read[key] = min(read.get(key, math.inf), r["retrieved_at"])
    filed = [r for r in w.log.records if r[1] == "filed"]
    by_reader: Counter[str] = Counter()
    once = Counter((r[2], text_fields("filed", r[4])["rcpt"]) for r in filed)
    assert set(once.values()) == {1}
    for time_s, _, mid, _, values in filed:
        f = text_fields("filed", values)
        assert f["folder"] == "Projects"
        assert f["where"] == ("local" if f["rcpt"] == DAVE else "server")
        assert time_s == exact(read[(mid, f["rcpt"])] + 120)
        by_reader[f["rcpt"]] += 1
    assert sorted(by_reader) == [BOB, CAROL, DAVE] and min(by_reader.values()) >= 3  # ~27 each expected
    last = max(read, key=read.__getitem__)
    assert sum(by_reader.values()) >= len(read) - 1  # every read message filed once per reader (see below)
    boxes = w.ctx.servers["mx.alpha"].mailboxes
    for address in (BOB, CAROL):
        assert boxes[address].folders.items() >= {(mid, "Projects") for (mid, r) in read
                                                  if r == address and (mid, r) != last}
        assert set(boxes[address].folders.values()) == {"Projects"}
    assert boxes[DAVE].folders == {}


def test_the_run_waits_for_what_the_last_reader_does() -> None:
    """bob polls at 0, 20m, 40m, 1h: mail of the last 20 minutes is read after traffic ends (1h), and
    each message is filed 1 ms after it is read, so only the last one read is still to be filed."""
    users = [user(ALICE, "mx.alpha"), user(BOB, protocol="pop3", poll="20m", offset=0)]
    traffic = [{"from": ALICE, "to": BOB, "rate": "20/h", "size": "2KB", "file": {"probability": 1.0, "think": "1ms"}}]
    result = run_yaml(world(users, traffic, duration="1h"))
    read = first_read(result)
    assert len(read) >= 5 and max(read.values()) > 3600
    assert {(e.message_id, e.f["rcpt"]) for e in events(result, "filed")} == set(read)
    assert result.end_time_s == exact(max(read.values()) + 1e-3)


# ---- random streams and determinism -----------------------------------------------------------


def mixed(seed: int, with_behaviour: bool) -> dict[str, Any]:
    users = [user(ALICE, "mx.alpha"), user(BOB), user(CAROL, protocol="pop3"), user(DAVE, protocol="http")]
    entry: dict[str, Any] = {
        "from": ALICE, "to": DOMAIN, "rate": "30/h", "recipients": {"uniform": {"low": 1, "high": 3}},
        "size": {"lognormal": {"median": "8KB", "sigma": 1.5}},
        "attachments": {"probability": 0.3, "size": {"lognormal": {"median": "100KB", "sigma": 1}}},
    }
    if with_behaviour:
        entry["reply"] = {"probability": 0.4, "think": {"exponential": {"mean": "5m"}}}
        entry["forward"] = {"probability": 0.2, "think": "3m"}
        entry["file"] = {"probability": 0.5}
    second = {"from": BOB, "to": CAROL, "rate": "10/h", "size": {"exponential": {"mean": "4KB"}}}
    return world(users, [entry, second], seed=seed, duration="2h")


def originals(result: Any) -> list[tuple[float, str, str, str, str]]:
    """What the traffic entries themselves created: (time, from, to, size, wire), in order."""
    derived = set(made(result, "reply")) | set(made(result, "forward"))
    return [(e.time, e.f["from"], e.f["to"], e.f["size"], e.f["wire"]) for e in events(result, "created")
            if e.f["kind"] == "mail" and e.message_id not in derived]


def test_behaviour_draws_leave_the_traffic_unchanged() -> None:
    plain, busy = run_yaml(mixed(5, False)), run_yaml(mixed(5, True))
    assert events(busy, "reply") and events(busy, "forward") and events(busy, "filed")
    assert not events(plain, "reply")
    assert len(originals(plain)) > 50
    assert originals(busy) == originals(plain)


def test_runs_with_behaviours_are_deterministic() -> None:
    a, b, c = run_yaml(mixed(8, True)), run_yaml(mixed(8, True)), run_yaml(mixed(9, True))
    assert events(a, "reply")
    assert a.records == b.records
    assert a.summary == b.summary
    assert a.records != c.records
