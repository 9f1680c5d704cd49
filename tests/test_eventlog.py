"""The event log: records appended field by field come back as tuples, in order, however the
reads and the appends interleave; ``fields`` parses a detail string."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from simulator.eventlog import EventLog, fields

record = st.tuples(st.floats(0, 1e6), st.sampled_from(["created", "sent"]), st.text(max_size=4),
                   st.text(max_size=4), st.text(max_size=8))


@given(st.lists(st.lists(record, max_size=6), max_size=5))
def test_records_come_back_in_order_across_reads(batches: list[list[tuple]]) -> None:
    log = EventLog()
    written: list[tuple] = []
    for batch in batches:
        for rec in batch:
            log.append(*rec)
            written.append(rec)
        assert len(log) == len(written)
        assert log.records == written  # a read in the middle of the run regroups what came so far
    assert list(log) == written


def test_fields_parses_key_value_pairs() -> None:
    assert fields("rcpt=a@x device=2 hosts=mx.a,mx.b") == {"rcpt": "a@x", "device": "2", "hosts": "mx.a,mx.b"}
    assert fields("") == {}
