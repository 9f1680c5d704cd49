"""Where each delivered mail pair's time went: queue wait, waiting for and being processed by a
server's workers, SMTP sessions, and the wait in the mailbox (``Result.breakdown``, the
``time_breakdown`` plot).

A pair's path is cut into legs, one per message it passed through (its own; for a list's copy, the
message copied, up to the author's), and the legs are split all at once over typed columns of the
log (:mod:`simulator.breakdown_legs`); a pair's parts are the sums of its legs', added in the order
of the walk, so the floats are those of a walk per pair to the last bit.

Measured on the benchmark's 100k-message scenario, from the log as ``Result.save`` hands it over (a
copy of the kinds the plots read), best of 5 on a shared 2-core machine: 0.26 s of CPU (0.35 s wall)
against 1.07 s (1.56 s) for the walk per pair over tuples made per message it replaces, and a
tracemalloc peak of 27 MB against 42 MB, of which the result is 23 MB; at 10k messages 0.022 s
against 0.095 s, and 2.8 MB against 4.0 MB. The result is columns, as the tables are: a dict per
pair would take about 0.4 KB each (about 50 MB at 100k messages), where the columns take a pointer
per cell for the ids and addresses and 8 bytes for each time (:class:`FloatColumn`s: at 300k
messages the breakdown keeps 26 MB, where lists of floats took 69 MB). At 1M messages it takes 2.9 s
of CPU (0.25 s at 100k): about a third numbering the messages of the chain records by a dict, a
third reading their values in the order of messages, both reads landing all over memory. Reading the
values once in log order instead was tried and was slower (3.8 s against 3.4 s at 1M, measured
together); what would remove both is a message number kept in the log, not its id text.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import compress
from typing import TYPE_CHECKING, Any

from .addresses import domain_of
from .collector import while_paused
from .eventlog import Record
from .float_column import FloatColumn
from .logcolumns import LogColumns, log_columns
from .results import Columns, final_mail_mask, text_is

if TYPE_CHECKING:
    from .breakdown_legs import Legs

__all__ = ["BREAKDOWN_COLUMNS", "EVENTS_READ", "breakdown_rows", "time_breakdown"]

BREAKDOWN_COLUMNS = ("message_id", "recipient", "domain", "latency_s", "queue_wait_s", "worker_wait_s", "processing_s",
                     "transfer_s", "retrieval_s")
"""The breakdown's columns, in order."""

EVENTS_READ = ("expanded", "accepted", "attempt", "connect_failed", "submit_failed", "processing", "processed")
"""The kinds of record the breakdown reads (a log of only these gives the same breakdown)."""


@while_paused
def time_breakdown(records: Sequence[Record] | LogColumns, deliveries: Columns) -> Columns:
    """Where each delivered mail pair's time went, from the event log and the deliveries table
    (as columns, :meth:`simulator.results.Tables.columns`): the breakdown as columns
    (:data:`BREAKDOWN_COLUMNS`), a row per pair (:func:`breakdown_rows` gives them as dicts).

    Walking back from the acceptance that delivered it, each hop's SMTP session (from the
    session's start: the attempt, or the connect to the next MX after a failed one, or the
    submission) counts as ``transfer_s``; the time between a server accepting the message and
    the start of the session that moved it on (queue, failed attempts, retry intervals) is
    ``queue_wait_s``, except the time in a server's processing stage (``workers``): waiting for a
    worker is ``worker_wait_s``, being processed ``processing_s``.
    ``queue_wait_s + worker_wait_s + processing_s + transfer_s == latency_s``. ``retrieval_s`` is
    mailbox to first device (None if not retrieved).

    A recipient an alias added is followed back through the alias's address. A list's copy is
    split from its making (a pseudo-acceptance at the list's server) to the member, and the
    message it copies from the author to the list, and so on up to the author's message.
    """
    from .breakdown_legs import split_legs

    log = log_columns(records)
    made: dict[str, tuple[str, str, float, str]] = {}  # a list's copy -> (original, list, when, where)
    aliased: dict[tuple[str, str], str] = {}  # (message, target) -> the alias that added it
    for time_s, _event, mid, node, (address, _via, targets, copy) in log.rows("expanded"):
        if copy is not None:
            made[copy] = (mid, address, time_s, node)
        else:
            for target in targets:
                aliased.setdefault((mid, target), address)
    d = deliveries
    pick = final_mail_mask(d) & text_is(d["status"], "delivered") & _known(d["delivered_at"])  # the pairs split
    message_ids, recipients, submitted, delivered = (
        _picked(d[name], pick) for name in ("message_id", "recipient", "submitted_at", "delivered_at"))
    latencies = _picked_floats(d["latency_s"], pick)
    retrievals = _waits(d["retrieved_at"], d["delivered_at"], pick)
    legs, depths = _legs(message_ids, recipients, submitted, delivered, made, aliased)
    del submitted, delivered
    parts = list(split_legs(log, legs))
    del legs
    sums = []
    while parts:  # each pair's legs added in the order of its walk: 0.0 + its own message's, + the next, ...
        part = parts.pop(0)
        total = 0.0 + part[:len(message_ids)]
        start = len(message_ids)
        for pairs in depths[1:]:
            total[pairs] += part[start:start + len(pairs)]
            start += len(pairs)
        sums.append(FloatColumn(total))
    waits, worker_waits, processings, transfers = sums
    return {"message_id": message_ids, "recipient": recipients, "domain": list(map(domain_of, recipients)),
            "latency_s": latencies, "queue_wait_s": waits, "worker_wait_s": worker_waits,
            "processing_s": processings, "transfer_s": transfers, "retrieval_s": retrievals}


def _known(column: Sequence[float | None]) -> Any:
    """Whether each cell of a column of times has a value (a numpy array of booleans)."""
    import numpy as np

    known = FloatColumn.of(column).known
    return np.ones(len(column), dtype=np.bool_) if known is None else known


def _picked(column: Sequence[Any], pick: Any) -> list[Any]:
    """The cells of ``column`` where ``pick`` (a numpy array of booleans) is true, as a list (a
    :class:`FloatColumn`'s read from its array: every cell picked has a value)."""
    if isinstance(column, FloatColumn):
        picked: list[Any] = column.values[pick].tolist()
        return picked
    return list(compress(column, pick.tobytes()))


def _picked_floats(column: Sequence[float | None], pick: Any) -> FloatColumn:
    """The cells of a column of times where ``pick`` is true (every one has a value) as a :class:`FloatColumn`."""
    return FloatColumn(FloatColumn.of(column).values[pick])


def _waits(retrieved: Sequence[float | None], delivered: Sequence[float | None], pick: Any) -> FloatColumn:
    """``retrieved - delivered`` of the pairs ``pick`` marks (every one delivered), empty where not retrieved."""
    retrieved, delivered = FloatColumn.of(retrieved), FloatColumn.of(delivered)
    return FloatColumn(retrieved.values[pick] - delivered.values[pick],
                       None if retrieved.known is None else retrieved.known[pick])


def breakdown_rows(columns: Columns) -> list[dict[str, Any]]:
    """The breakdown's rows, dicts keyed by column name, from its columns (:func:`time_breakdown`)."""
    return [dict(zip(BREAKDOWN_COLUMNS, values, strict=True))
            for values in zip(*(columns[name] for name in BREAKDOWN_COLUMNS), strict=True)]


def _legs(message_ids: list[str], recipients: list[str], submitted: list[float], delivered: list[float],
          made: dict[str, tuple[str, str, float, str]], aliased: dict[tuple[str, str], str]) -> tuple[Legs, list[Any]]:
    """The legs of each pair, in order of depth: every pair's first (its own message's), then the
    second leg of the pairs that have one (the message a list copied), and so on; and the pairs
    of each depth (numpy arrays). ``made``: a list's copy -> (original, list, when, where);
    ``aliased``: (message, target) -> the alias that added it."""
    import numpy as np

    from .breakdown_legs import NO_TIME, Legs

    if not made and not aliased:  # a leg per pair, to its recipient alone
        return (Legs(message_ids, recipients, {}, submitted, delivered, [NO_TIME] * len(message_ids),
                     [""] * len(message_ids)), [np.arange(len(message_ids))])
    legs = Legs()
    mids, rcpts, delivered = list(message_ids), list(recipients), list(delivered)
    depths = []
    pairs = list(range(len(message_ids)))
    while pairs:
        depths.append(np.array(pairs, dtype=np.intp))
        deeper = []
        for k in pairs:
            mid = mids[k]
            names = [rcpts[k]]
            while (mid, names[-1]) in aliased:
                names.append(aliased[(mid, names[-1])])
            if mid not in made:
                legs.add(mid, names, submitted[k], delivered[k])
                continue
            original, address, made_s, where = made[mid]
            legs.add(mid, names, made_s, delivered[k], made=(made_s, where))
            mids[k], rcpts[k], delivered[k] = original, address, made_s
            deeper.append(k)
        pairs = deeper
    return legs, depths
