"""The mail pairs a figure reads as columns give exactly what a loop over the rows gives: the same
groups, counts and durations (the same floats), for final mail pairs only; grouping sorts once.
The reference here is the row loop the figures used before, written out plainly.
"""

from __future__ import annotations

import random
from collections import Counter
from typing import Any

import numpy as np
import pytest

from simulator import plots
from simulator.mailpairs import MailPairs, count_by, group_indices

STATUSES = ("delivered", "bounced", "pending")


def _rows(n: int, seed: int = 3) -> list[dict[str, Any]]:
    """Deliveries rows of every kind and fate, times with awkward binary fractions."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        submitted = rng.uniform(0, 86_400) / 3
        status = rng.choice((*STATUSES, "delivered", "expanded"))
        delivered = submitted + rng.expovariate(0.1) if status == "delivered" else None
        retrieved = delivered + rng.expovariate(0.01) if delivered is not None and rng.random() < 0.6 else None
        rows.append({"message_id": f"m{i}", "kind": rng.choice(("mail", "mail", "mail", "dsn")),
                     "recipient": f"u{rng.randrange(5)}@d{rng.randrange(7)}.example", "status": status,
                     "submitted_at": submitted, "delivered_at": delivered, "retrieved_at": retrieved,
                     "latency_s": None if delivered is None else delivered - submitted,
                     "attempts": rng.randrange(4)})
    return rows


def _final(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in rows if r["kind"] == "mail" and r["status"] != "expanded"]


def test_columns_hold_the_final_mail_pairs_in_table_order() -> None:
    rows = _rows(500)
    pairs = MailPairs.of(rows)
    final = _final(rows)
    assert 0 < len(pairs) == len(final) < len(rows)
    assert pairs.recipient == [r["recipient"] for r in final]
    assert pairs.status.tolist() == [r["status"] for r in final]
    assert pairs.attempts.tolist() == [r["attempts"] for r in final]
    for column, key in (("retrieved_s", "retrieved_at"), ("latency_s", "latency_s")):
        got = getattr(pairs, column).tolist()
        assert [None if np.isnan(v) else v for v in got] == [r[key] for r in final]


def test_outcomes_equal_the_row_loop_float_for_float() -> None:
    rows = _rows(2_000)
    final = _final(rows)
    delivery = plots.delivery_outcome(rows)
    assert delivery.values_s.tolist() == [r["latency_s"] for r in final if r["status"] == "delivered"]
    assert delivery.counts == {s: sum(r["status"] == s for r in final) for s in STATUSES}
    end_to_end = plots.end_to_end_outcome(rows)
    read = [r for r in final if r["retrieved_at"] is not None]
    assert end_to_end.values_s.tolist() == [r["retrieved_at"] - r["submitted_at"] for r in read]
    unread = sum(r["status"] == "delivered" and r["retrieved_at"] is None for r in final)
    assert end_to_end.counts == {"retrieved": len(end_to_end.values_s), "in mailbox": unread,
                                 "bounced": delivery.counts["bounced"], "pending": delivery.counts["pending"]}
    wait = plots.mailbox_wait_outcome(rows)
    assert wait.values_s.tolist() == [r["retrieved_at"] - r["delivered_at"] for r in read]
    assert wait.counts == {"retrieved": len(wait.values_s), "in mailbox": unread}
    attempts = plots.attempt_counts(rows)
    for status in STATUSES:
        expected: dict[int, int] = {}
        for r in final:
            if r["status"] == status:
                expected[r["attempts"]] = expected.get(r["attempts"], 0) + 1
        assert attempts[status] == expected and all(type(k) is int for k in attempts[status])


def test_groups_by_domain_and_protocol_are_those_of_the_rows() -> None:
    rows = _rows(3_000, seed=8)
    final = _final(rows)
    by_domain = plots.latency_by_domain(rows)
    domains = sorted({r["recipient"].partition("@")[2] for r in final})
    assert list(by_domain) == domains
    for domain, outcome in by_domain.items():
        mine = [r for r in final if r["recipient"].endswith("@" + domain)]
        assert outcome.total == len(mine)
        assert outcome.values_s.tolist() == [r["latency_s"] for r in mine if r["status"] == "delivered"]
    protocols = {f"u{i}@d{j}.example": ("imap", "pop3")[i % 2] for i in range(3) for j in range(7)}  # u3, u4: none
    by_protocol = plots.latency_by_protocol(rows, protocols)
    assert list(by_protocol) == ["imap", "pop3"]
    for protocol, parts in by_protocol.items():
        mine = [r for r in final if protocols.get(r["recipient"]) == protocol]
        assert parts["end_to_end"].total == len(mine)
        read = [r for r in mine if r["retrieved_at"] is not None]
        assert parts["wait"].values_s.tolist() == [r["retrieved_at"] - r["delivered_at"] for r in read]


def test_group_indices_sorts_groups_keeps_order_within_and_skips_none() -> None:
    values = ["b", "x", "a", "b", "c", "x", "a", "b"]
    groups = group_indices(values, key=lambda v: None if v == "x" else v)
    assert list(groups) == ["a", "b", "c"]
    assert {k: v.tolist() for k, v in groups.items()} == {"a": [2, 6], "b": [0, 3, 7], "c": [4]}
    assert group_indices(["x", "x"], key=lambda v: None) == {} and group_indices([]) == {}
    many = [f"k{i % 1000:04}" for i in range(20_000)]
    grouped = group_indices(many)
    assert len(grouped) == 1000 and grouped["k0007"].tolist() == list(range(7, 20_000, 1000))
    calls: list[str] = []
    by_domain = group_indices(["u1@b", "u2@a", "u1@b", "u3@b"], key=lambda a: calls.append(a) or a[-1])
    assert {k: v.tolist() for k, v in by_domain.items()} == {"a": [1], "b": [0, 2, 3]}
    assert sorted(calls) == ["u1@b", "u2@a", "u3@b"]  # once per distinct value


def test_count_by_puts_the_given_values_first_then_the_rest() -> None:
    values = ["pending", "delivered", "zz", "odd", "delivered"]
    assert list(count_by(values, STATUSES).items()) == [("delivered", 2), ("bounced", 0), ("pending", 1), ("odd", 1),
                                                        ("zz", 1)]
    assert count_by([], ("a",)) == {"a": 0}


def test_an_empty_table_gives_empty_outcomes() -> None:
    assert len(MailPairs.of([])) == 0
    assert plots.delivery_outcome([]).counts == dict.fromkeys(STATUSES, 0)
    assert plots.latency_by_domain([]) == {} and plots.attempt_counts([]) == {s: {} for s in STATUSES}


@pytest.mark.parametrize("n", [1, 7])
def test_a_group_of_one_domain_is_all_of_it(n: int) -> None:
    rows = [{"kind": "mail", "recipient": "x@only.example", "status": "delivered", "submitted_at": 1.0,
             "delivered_at": 1.5 + i, "retrieved_at": None, "latency_s": 0.5 + i, "attempts": 1} for i in range(n)]
    assert plots.latency_by_domain(rows)["only.example"].values_s.tolist() == [0.5 + i for i in range(n)]


def _as_columns(rows: list[dict[str, Any]]) -> dict[str, list[Any]]:
    return {key: [r[key] for r in rows] for key in rows[0]}


def test_a_table_given_as_columns_gives_the_same_pairs_groups_and_outcomes_as_its_rows() -> None:
    rows = _rows(400)
    by_rows, by_columns = MailPairs.of(rows), MailPairs.of(_as_columns(rows))
    assert len(by_columns) == len(by_rows) == len(_final(rows))
    assert by_columns.recipient == by_rows.recipient
    assert by_columns.status.tolist() == by_rows.status.tolist()
    for name in ("submitted_s", "delivered_s", "retrieved_s", "latency_s"):
        np.testing.assert_array_equal(getattr(by_columns, name), getattr(by_rows, name))
    np.testing.assert_array_equal(by_columns.attempts, by_rows.attempts)
    domain = lambda address: address.rpartition("@")[2]  # noqa: E731
    groups_rows, groups_columns = by_rows.groups_by_recipient(domain), by_columns.groups_by_recipient(domain)
    assert list(groups_columns) == list(groups_rows)
    for name, group in groups_columns.items():
        assert group.recipient == groups_rows[name].recipient
        np.testing.assert_array_equal(group.latency_s, groups_rows[name].latency_s)
    assert plots.latency_by_domain(_as_columns(rows)) == plots.latency_by_domain(rows)
    assert plots.attempt_counts(_as_columns(rows)) == plots.attempt_counts(rows)


def test_inside_shared_pairs_the_figures_of_one_table_read_it_once() -> None:
    from simulator.mailpairs import shared_pairs

    columns = _as_columns(_rows(300))
    reads: list[str] = []

    class Counting(dict[str, Any]):
        def __getitem__(self, key: str) -> Any:
            reads.append(key)
            return super().__getitem__(key)

    table = Counting(columns)
    with shared_pairs():
        first = MailPairs.of(table)
        assert MailPairs.of(table) is first
        plots.latency_cdf(table)
        plots.latency_cdf_by_domain(table)
        plots.attempts_histogram(table)
        assert MailPairs.of(_as_columns(_rows(300))) is not first  # another table: pairs of its own
    # every column read once by all the figures together (status twice: for picking the final pairs, then as a column)
    assert Counter(reads) == {"kind": 1, "status": 2, "retrieved_at": 1, "submitted_at": 1, "latency_s": 1,
                              "recipient": 1, "attempts": 1}
    assert MailPairs.of(table) is not first  # closed: nothing kept
    reads.clear()
    plots.latency_cdf(table)
    plots.attempts_histogram(table)
    assert reads.count("status") == 4 and reads.count("kind") == 2  # outside, each figure reads for itself
