"""The event log and its schema: records appended field by field come back as tuples, in order,
however the reads and the appends interleave; every kind's values read as ``key=value`` text
and back to the same typed values."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from simulator import eventkinds
from simulator.eventkinds import KINDS, as_dict, detail_text, parse_detail, problems, text_fields
from simulator.eventlog import EventLog

record = st.tuples(st.floats(0, 1e6), st.sampled_from(["created", "sent"]), st.text(max_size=4),
                   st.text(max_size=4), st.tuples(st.text(max_size=8)))


@given(st.lists(st.tuples(st.lists(record, max_size=6), st.sampled_from(["read", "compact", "none"])), max_size=5))
def test_records_come_back_in_order_across_reads_and_compactions(batches: list[tuple[list[tuple], str]]) -> None:
    log = EventLog()
    written: list[tuple] = []
    for batch, then in batches:
        for rec in batch:
            log.append(*rec)
            written.append(rec)
        assert len(log) == len(written)
        if then == "read":
            assert log.records == written  # a read in the middle of the run sees what came so far
        elif then == "compact":
            log.compact()
    assert list(log) == written
    assert log.records[1:-1] == written[1:-1] and log.records[::2] == written[::2]


WORD = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789.@-<>", min_size=1, max_size=12)
VALUE = {
    eventkinds.TEXT: WORD,
    eventkinds.INT: st.integers(0, 10**9),
    eventkinds.FLOAT: st.floats(0, 1e9, allow_nan=False),
    eventkinds.LIST: st.lists(WORD, min_size=1, max_size=4).map(tuple),
    eventkinds.FLAG: st.booleans(),
}


def values_of(kind: eventkinds.Kind) -> st.SearchStrategy[tuple]:
    parts = []
    for f in kind.fields:
        value = st.sampled_from(f.values).map(int if f.type == eventkinds.INT else str) if f.values \
            and f.type in (eventkinds.TEXT, eventkinds.INT) else VALUE[f.type]
        if f.type == eventkinds.FLAG and f.values == ("yes",):
            value = st.just(True)
        parts.append(st.one_of(st.none(), value) if f.optional else value)
    return st.tuples(*parts)


@given(st.sampled_from(sorted(KINDS)).flatmap(lambda name: st.tuples(st.just(name), values_of(KINDS[name]))))
def test_every_kind_reads_back_from_its_text(case: tuple[str, tuple]) -> None:
    event, values = case
    assert problems(event, values) == []
    text = detail_text(event, values)
    assert parse_detail(event, text) == values
    assert set(text_fields(event, values)) == set(as_dict(event, values))
    assert text == " ".join(f"{k}={v}" for k, v in text_fields(event, values).items())


def test_the_text_form_is_what_events_csv_has_always_written() -> None:
    assert detail_text("attempt", (("a@x", "b@x"), ("mx.a",))) == "rcpts=a@x,b@x hosts=mx.a"
    assert detail_text("deferred", (("a@x",), "421", 1800.5)) == "rcpts=a@x code=421 next=1800.5"
    assert detail_text("session_cut", ("mx.b", False)) == "host=mx.b accepted=no"
    assert detail_text("submit_failed", ("mx.a", "451", True, 60.0)) == "host=mx.a code=451 accepted=yes next=60.0"
    assert detail_text("submit_failed", ("mx.a", "421", None, 60.0)) == "host=mx.a code=421 next=60.0"
    assert detail_text("server_down", ()) == ""


def test_problems_name_what_is_wrong() -> None:
    assert problems("delivered", ("a@x",)) == []
    assert problems("delivered", ()) == ["delivered: 0 values for 1 fields"]
    assert problems("enqueued", ("3",)) == ["enqueued.queue='3' is not int"]
    assert problems("sent", ("mx.b", "a@x", "250")) == ["sent.rcpts='a@x' is not list"]
    assert problems("session_cut", ("mx.b", "maybe")) == ["session_cut.accepted='maybe' is not flag"]
    assert problems("retrieve_failed", ("a@x", 1, "imap", "lost")) == [
        "retrieve_failed.why='lost' is not one of connect, cut, locked"]
    assert problems("nonsense", ()) == ["unknown event 'nonsense'"]


def test_parse_detail_refuses_what_the_kind_lacks_or_needs() -> None:
    with pytest.raises(ValueError, match="unknown field"):
        parse_detail("delivered", "rcpt=a@x colour=red")
    with pytest.raises(ValueError, match="missing"):
        parse_detail("deferred", "rcpts=a@x code=421")


def test_one_type_per_field_name_and_every_field_typed() -> None:
    used = {f.name for kind in KINDS.values() for f in kind.fields}
    assert used == set(eventkinds.FIELD_TYPES)
