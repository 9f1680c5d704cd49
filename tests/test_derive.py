"""derive's rules on hand-made logs (first delivery and retrieval, attempts, deferral and bounce codes,
duplicates, pairs named twice, ids made twice, records naming no pair), and its tables the same
whether a log's message ids are one string object per message (a run's) or one per record (a log
read back), and whatever type its times are; the pair numbering it uses."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from simulator import load_scenario, pairnumbers, results, run
from simulator.pairnumbers import NONE, MessageNumbers, PairNumbers, first_of, last_of
from simulator.results import DELIVERY_COLUMNS, derive

ROOT = Path(__file__).resolve().parent.parent


def _created(time_s: float, mid: str, to: tuple[str, ...], size_bytes: int = 100) -> tuple[Any, ...]:
    return (time_s, "created", mid, "lan.a", ("mail", "u@a.example", "u@a.example", to, size_bytes, size_bytes + 9,
                                              None, None))


LOG: list[tuple[Any, ...]] = sorted([
    _created(1.0, "m1", ("a@b.example", "b@b.example")),
    _created(1.5, "m2", ("c@b.example",)),
    _created(1.6, "m3", ("d@b.example", "d@b.example")),  # the same recipient named twice
    _created(1.7, "m4", ("e@b.example",)),
    (2.0, "attempt", "m1", "mx.a", (("a@b.example", "b@b.example"), ("mx.b",))),
    (3.0, "delivered", "m1", "mx.b", ("a@b.example",)),
    (3.5, "delivered", "m1", "mx.b", ("a@b.example",)),  # again: the first counts
    (3.6, "delivered", "m1", "mx.b", ("z@b.example",)),  # no such pair
    (4.0, "deferred", "m1", "mx.a", (("b@b.example",), "450", 60.0)),
    (5.0, "attempt", "m1", "mx.a", (("b@b.example",), ("mx.b",))),
    (6.0, "deferred", "m1", "mx.a", (("b@b.example",), "421", 120.0)),  # the last deferral's code
    (7.0, "duplicate", "m1", "mx.b", ("a@b.example",)),
    (8.0, "retrieved", "m1", "lan.b", ("a@b.example", 1, "imap", 0)),
    (9.0, "retrieved", "m1", "lan.b", ("a@b.example", 2, "imap", 1)),
    (9.5, "retrieved", "m9", "lan.b", ("a@b.example", 1, "imap", 0)),  # no such message
    (2.5, "attempt", "m2", "mx.a", (("c@b.example",), ("mx.b",))),
    (2.6, "bounced", "m2", "mx.a", ("c@b.example", "550", "refused", "-", None)),
    (2.7, "bounced", "m2", "mx.a", ("c@b.example", "554", "refused", "-", None)),  # the first bounce's code
    (2.8, "deferred", "m2", "mx.a", (("c@b.example",), "451", 99.0)),  # after the bounce: no change
    (2.05, "delivered", "m3", "mx.b", ("d@b.example",)),  # a mailbox on the server it was at: 1 attempt
    (1.8, "attempt", "m4", "mx.a", (("e@b.example",), ("mx.b",))),
    (1.9, "deferred", "m4", "mx.a", (("e@b.example",), "451", 30.0)),
    (2.2, "delivered", "m4", "mx.b", ("e@b.example",)),  # delivered: code 250 whatever came before
], key=lambda record: record[0])


def _rows(records: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    d = derive(records).columns("deliveries")
    return list(zip(d["message_id"], d["recipient"], d["delivered_at"], d["retrieved_at"], d["attempts"],
                    d["status"], d["code"], d["duplicates"], strict=True))


def test_each_pair_ends_by_the_rules_of_its_records() -> None:
    assert _rows(LOG) == [
        ("m1", "a@b.example", 3.0, 8.0, 1, "delivered", "250", 1),
        ("m1", "b@b.example", None, None, 2, "pending", "421", 0),
        ("m2", "c@b.example", None, None, 1, "bounced", "550", 0),
        ("m3", "d@b.example", 2.05, None, 1, "delivered", "250", 0),
        ("m3", "d@b.example", 2.05, None, 1, "delivered", "250", 0),
        ("m4", "e@b.example", 2.2, None, 1, "delivered", "250", 0),
    ]
    d = derive(LOG).columns("deliveries")
    assert d["latency_s"] == [3.0 - 1.0, None, None, 2.05 - 1.6, 2.05 - 1.6, 2.2 - 1.7]
    assert d["submitted_at"] == [1.0, 1.0, 1.5, 1.6, 1.6, 1.7]
    assert d["size_bytes"] == [100] * 6 and d["wire_bytes"] == [109] * 6 and d["about"] == [""] * 6
    assert derive(LOG).columns("retrievals")["retrieved_at"] == [8.0, 9.0, 9.5]  # every retrieval, named or not


def test_an_id_made_twice_keeps_its_first_place_and_its_last_record() -> None:
    log = [_created(1.0, "m5", ("x@b.example",), 10), _created(1.1, "m6", ("y@b.example",)),
           _created(1.2, "m5", ("w@b.example",), 20), (2.0, "delivered", "m5", "mx.b", ("w@b.example",))]
    d = derive(log).columns("deliveries")
    assert list(zip(d["message_id"], d["recipient"], d["submitted_at"], d["size_bytes"], d["status"], strict=True)) == [
        ("m5", "w@b.example", 1.2, 20, "delivered"), ("m6", "y@b.example", 1.1, 100, "pending")]


def _ids_copied(records: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """The records with each message id a string object of its own, as a log read back from a file has."""
    copied = [(t, e, None if m is None else "".join(list(m)), n, v) for t, e, m, n, v in records]
    assert all(a[2] is not b[2] for a, b in zip(records, copied, strict=True) if len(a[2] or "") > 1)
    return copied


@pytest.fixture(scope="module")
def listed() -> tuple[list[tuple[Any, ...]], list[str]]:
    """The log of a run with lists and aliases (expansions, copies of messages)."""
    result = run(load_scenario(ROOT / "scenarios" / "mailing-list.yaml"))
    records = list(result.records)
    assert any(r[1] == "expanded" and r[4][3] is not None for r in records)  # a list's copy
    assert any(r[1] == "expanded" and r[4][3] is None for r in records)  # an alias
    return records, sorted(result.scenario.servers)


def test_ids_matched_by_value_give_the_tables_ids_matched_by_identity_give(
        listed: tuple[list[tuple[Any, ...]], list[str]]) -> None:
    records, servers = listed
    tables = derive(records, servers)
    assert derive(_ids_copied(records), servers) == tables
    statuses = set(tables.columns("deliveries")["status"])
    assert {"delivered", "expanded"} <= statuses


def test_read_in_small_parts_the_tables_are_the_same(listed: tuple[list[tuple[Any, ...]], list[str]],
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    records, servers = listed
    tables = derive(records, servers)
    monkeypatch.setattr(results, "READ_RECORDS", 7)
    monkeypatch.setattr(pairnumbers, "PART", 5)
    assert len(tables.columns("deliveries")["message_id"]) > 7 * 5
    assert derive(records, servers) == tables
    assert derive(_ids_copied(records), servers) == tables


def test_times_kept_as_given_stay_of_their_type(listed: tuple[list[tuple[Any, ...]], list[str]]) -> None:
    records, servers = listed
    whole = [(round(t * 1000), e, m, n, v) for t, e, m, n, v in records]  # times as ints
    d = derive(whole, servers).columns("deliveries")
    delivered = [(t, s, lat) for t, s, lat in zip(d["delivered_at"], d["submitted_at"], d["latency_s"], strict=True)
                 if t is not None]
    assert delivered and all(type(t) is int and type(s) is int and lat == t - s and type(lat) is int
                             for t, s, lat in delivered)
    assert all(type(t) is int for t in derive(whole, servers).columns("queues")["time"][len(servers):])
    assert derive(_ids_copied(whole), servers) == derive(whole, servers)


def test_a_log_of_no_records_of_a_kind_derives_rows_for_its_pairs() -> None:
    d = derive([_created(1.0, "m1", ("a@b.example",)), _created(2.0, "m2", ())]).columns("deliveries")
    assert tuple(d) == DELIVERY_COLUMNS
    assert [d[c] for c in ("message_id", "delivered_at", "latency_s", "attempts", "status", "code")] == [
        ["m1"], [None], [None], [0], ["pending"], [""]]


def test_pairs_are_numbered_in_message_order_and_named_twice_by_their_last_naming() -> None:
    ids = ["m1", "m2", "m3"]
    pairs = PairNumbers(MessageNumbers(ids), [("a", "b"), ("c",), ("a", "d", "a")])
    assert pairs.pairs == 6 and pairs.recipients == ["a", "b", "c", "a", "d", "a"]
    assert pairs.owner.tolist() == [0, 0, 1, 2, 2, 2] and pairs.named_twice
    assert pairs.of(["m1", "m1", "m2", "m3", "m3", "m2", "m9", "m1"], ["b", "a", "c", "a", "d", "a", "a", "z"]
                    ).tolist() == [1, 0, 2, 5, 4, NONE, NONE, NONE]
    assert pairs.of(["".join(["m", "3"])], ["d"]).tolist() == [4]  # an equal id of another object
    assert pairs.own_numbers().tolist() == [0, 1, 2, 5, 4, 5]
    assert pairs.of_each(["m1", "m3"], [("a", "b"), ("d", "x")]).tolist() == [0, 1, 4, NONE]
    assert not PairNumbers(MessageNumbers(ids), [("a",), ("a",), ("b", "a")]).named_twice


def test_first_and_last_mention_of_each_pair() -> None:
    import numpy as np

    mentioned = np.array([2, NONE, 0, 2, 0, NONE])
    assert first_of(mentioned, 4).tolist() == [2, 6, 0, 6]
    assert last_of(mentioned, 4).tolist() == [4, NONE, 3, NONE]


def test_no_messages_no_pairs() -> None:
    pairs = PairNumbers(MessageNumbers([]), [])
    assert pairs.pairs == 0 and pairs.of(["m1"], ["a"]).tolist() == [NONE] and not pairs.named_twice
