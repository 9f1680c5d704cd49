"""The time breakdown on hand-written logs, its parts worked out by hand: a failed submission, a
processing stage, a failed connect to the first MX, a list's copy, a chain with no acceptance;
and the same breakdown whatever the number of legs walked together."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from simulator import breakdown_legs, load_scenario, run
from simulator.breakdown import BREAKDOWN_COLUMNS, breakdown_rows, time_breakdown
from simulator.float_column import FloatColumn

SCENARIOS = Path(__file__).parent.parent / "scenarios"
BOB, CAROL, NEWS = "bob@b.example", "carol@b.example", "news@b.example"

LOG = [
    # m1: submission refused at 1.0 (retried at 5.0), accepted by mx.a at 6.0, processed there from
    # 7.0 to 9.5, tried to mx.b at 10.0, which refused the connection at 12.0, accepted by mx.b2 at 13.0
    (1.0, "submit_failed", "m1", "u.a", ("mx.a", "421", 0, 5.0)),
    (6.0, "accepted", "m1", "mx.a", ("u.a", (BOB,))),
    (7.0, "processing", "m1", "mx.a", ((BOB,),)),
    (9.5, "processed", "m1", "mx.a", ((BOB,),)),
    (10.0, "attempt", "m1", "mx.a", ((BOB,), ("mx.b", "mx.b2"))),
    (12.0, "connect_failed", "m1", "mx.a", ("mx.b", "timeout")),
    (13.0, "accepted", "m1", "mx.b2", ("mx.a", (BOB,))),
    # m2: to a list at mx.b, whose copy m2-1 goes to carol there
    (101.0, "accepted", "m2", "mx.a", ("u.a", (NEWS,))),
    (102.0, "attempt", "m2", "mx.a", ((NEWS,), ("mx.b",))),
    (103.5, "accepted", "m2", "mx.b", ("mx.a", (NEWS,))),
    (104.0, "expanded", "m2", "mx.b", (NEWS, "list", (CAROL,), "m2-1")),
]


def deliveries(*rows: tuple[str, str, float, float, float | None]) -> dict[str, list[Any]]:
    """Deliveries columns of delivered mail pairs (message, recipient, submitted, delivered, retrieved)."""
    return {"message_id": [r[0] for r in rows], "recipient": [r[1] for r in rows], "kind": ["mail"] * len(rows),
            "status": ["delivered"] * len(rows), "submitted_at": [r[2] for r in rows],
            "delivered_at": [r[3] for r in rows], "latency_s": [r[3] - r[2] for r in rows],
            "retrieved_at": [r[4] for r in rows]}


def test_a_pair_is_split_hop_by_hop_as_worked_out_by_hand() -> None:
    [row] = breakdown_rows(time_breakdown(LOG, deliveries(("m1", BOB, 0.5, 13.0, 20.0))))
    # back from mx.b2: the session from mx.a started at the failed connect (12.0): 1.0 of transfer;
    # at mx.a: worker wait 7.0 - 6.0, processing 9.5 - 7.0, queue 12.0 - 9.5; the submission from
    # its retry at 5.0: 1.0 of transfer, and 5.0 - 0.5 of queue wait
    assert row == {"message_id": "m1", "recipient": BOB, "domain": "b.example", "latency_s": 12.5,
                   "queue_wait_s": 2.5 + 4.5, "worker_wait_s": 1.0, "processing_s": 2.5, "transfer_s": 1.0 + 1.0,
                   "retrieval_s": 7.0}


def test_a_lists_copy_is_split_back_to_the_authors_submission() -> None:
    [row] = breakdown_rows(time_breakdown(LOG, deliveries(("m2-1", CAROL, 100.0, 104.25, None))))
    # the copy: made at 104.0, in carol's mailbox at 104.25; the message to the list: submitted at
    # 100.0, accepted by mx.a at 101.0, sent on at 102.0, accepted by mx.b at 103.5, copied at 104.0
    assert (row["queue_wait_s"], row["transfer_s"]) == (0.25 + (104.0 - 103.5) + (102.0 - 101.0), 1.0 + 1.5)
    assert (row["worker_wait_s"], row["processing_s"], row["retrieval_s"]) == (0.0, 0.0, None)


def test_a_pair_without_acceptances_counts_its_latency_as_waiting() -> None:
    columns = time_breakdown(LOG, deliveries(("m1", BOB, 0.5, 13.0, 20.0), ("m3", BOB, 1.0, 4.0, None)))
    assert [r["queue_wait_s"] for r in breakdown_rows(columns)] == [7.0, 3.0]
    assert columns["transfer_s"] == [2.0, 0.0]
    times = [columns[name] for name in BREAKDOWN_COLUMNS if name.endswith("_s")]
    assert len(times) == 6 and all(isinstance(column, FloatColumn) for column in times)  # 8 bytes a time
    assert columns["retrieval_s"] == [7.0, None] and columns["latency_s"] == [12.5, 3.0]


def test_pairs_not_delivered_or_not_to_final_recipients_are_left_out() -> None:
    d = deliveries(("m1", BOB, 0.5, 13.0, 20.0), ("m2", NEWS, 100.0, 103.5, None), ("m4", BOB, 0.0, 1.0, None))
    d["status"][1], d["status"][2] = "expanded", "bounced"
    assert time_breakdown(LOG, d)["message_id"] == ["m1"]


@pytest.mark.parametrize("name", ["mailing-list", "capacity"])
def test_the_breakdown_does_not_depend_on_how_many_legs_are_walked_together(
        name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    result = run(load_scenario(SCENARIOS / f"{name}.yaml"))
    together = time_breakdown(result.records, result.tables.columns("deliveries"))
    monkeypatch.setattr(breakdown_legs, "BATCH_LEGS", 3)
    assert time_breakdown(result.records, result.tables.columns("deliveries")) == together
    assert len(together["message_id"]) > 3
