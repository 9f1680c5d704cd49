"""Where each delivered mail pair's time went: queue wait, waiting for and being processed by a
server's workers, SMTP sessions, and the wait in the mailbox (``Result.breakdown``, the
``time_breakdown`` plot).

Computed in one pass over the log: the positions of the records that make up a message's chain
(acceptances, attempts, failed connections and submissions, cut sessions, processing) are
grouped by message once, and each pair's path is walked back over its own message's records,
reading their typed values in place (no ``key=value`` text, no dict per record; a message's
records are kept as their positions and made tuples when its pairs are walked). Measured on the
100k-message benchmark this takes about 1.0 s against 2.6 s for the per-message lists of dicts
it replaces, with the same floats to the last bit (the same additions, in the same order). The
result is columns, as the tables are: a dict per pair would take about 0.4 KB each (about 50 MB at
100k messages), where the columns take a pointer per cell.
"""

from __future__ import annotations

from array import array
from collections.abc import Sequence
from typing import Any

from .addresses import domain_of
from .collector import while_paused
from .eventkinds import index
from .eventlog import Record
from .logcolumns import MESSAGE_ID, LogColumns, log_columns
from .results import Columns, final_mail_positions

__all__ = ["BREAKDOWN_COLUMNS", "EVENTS_READ", "breakdown_rows", "time_breakdown"]

BREAKDOWN_COLUMNS = ("message_id", "recipient", "domain", "latency_s", "queue_wait_s", "worker_wait_s", "processing_s",
                     "transfer_s", "retrieval_s")
"""The breakdown's columns, in order."""

_CHAIN_EVENTS = ("accepted", "attempt", "connect_failed", "session_cut", "submit_failed", "processing", "processed")
EVENTS_READ = ("expanded", *_CHAIN_EVENTS)
"""The kinds of record the breakdown reads (a log of only these gives the same breakdown)."""
_RCPTS = {"accepted": index("accepted", "rcpts"), "attempt": index("attempt", "rcpts"),
          "processing": index("processing", "rcpts"), "processed": index("processed", "rcpts")}
"""Where each chain record with recipients holds them."""
_FROM = index("accepted", "from")
_NEXT = index("submit_failed", "next")


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
    log = log_columns(records)
    chain = _Chain(log)
    made: dict[str, tuple[str, str, float, str]] = {}  # a list's copy -> (original, list, when, where)
    aliased: dict[tuple[str, str], str] = {}  # (message, target) -> the alias that added it
    for time_s, _event, mid, node, (address, _via, targets, copy) in log.rows("expanded"):
        if copy is not None:
            made[copy] = (mid, address, time_s, node)
        else:
            for target in targets:
                aliased.setdefault((mid, target), address)
    d = deliveries
    out: Columns = {name: [] for name in BREAKDOWN_COLUMNS}
    (message_ids, recipients, domains, latencies, waits, worker_waits, processings, transfers,
     retrievals) = (out[name].append for name in BREAKDOWN_COLUMNS)
    for k in final_mail_positions(d):
        delivered_at = d["delivered_at"][k]
        if d["status"][k] != "delivered" or delivered_at is None:
            continue
        mid = message_id = d["message_id"][k]
        rcpt = recipient = d["recipient"][k]
        delivered_s = delivered_at
        wait_s = worker_s = processing_s = transfer_s = 0.0
        while True:  # the member's leg, then the leg of each message a list copied, up to the author's
            names = {rcpt}
            while (mid, rcpt) in aliased:
                rcpt = aliased[(mid, rcpt)]
                names.add(rcpt)
            if mid not in made:
                leg = chain.split(mid, names, d["submitted_at"][k], delivered_s)
            else:
                original, rcpt, made_s, where = made[mid]
                leg = chain.split(mid, names, made_s, delivered_s, made=(made_s, where))
            wait_s, worker_s, processing_s, transfer_s = (
                wait_s + leg[0], worker_s + leg[1], processing_s + leg[2], transfer_s + leg[3])
            if mid not in made:
                break
            mid, delivered_s = original, made_s
        retrieved_at = d["retrieved_at"][k]
        message_ids(message_id)
        recipients(recipient)
        domains(domain_of(recipient))
        latencies(d["latency_s"][k])
        waits(wait_s)
        worker_waits(worker_s)
        processings(processing_s)
        transfers(transfer_s)
        retrievals(None if retrieved_at is None else retrieved_at - delivered_at)
    return out


def breakdown_rows(columns: Columns) -> list[dict[str, Any]]:
    """The breakdown's rows, dicts keyed by column name, from its columns (:func:`time_breakdown`)."""
    return [dict(zip(BREAKDOWN_COLUMNS, values, strict=True))
            for values in zip(*(columns[name] for name in BREAKDOWN_COLUMNS), strict=True)]


def _latest(accepted: list[tuple[float, str, str]], before_s: float,
            node: str | None = None) -> tuple[float, str, str] | None:
    """The latest acceptance at ``before_s`` or before (at ``node``, if given); of several at that
    time, the first."""
    latest = None
    for a in accepted:
        if a[0] <= before_s and (node is None or a[1] == node) and (latest is None or a[0] > latest[0]):
            latest = a
    return latest


class _Chain:
    """The chain records of each message (in log order), and the walk back along one recipient's
    path through them. A message's records are kept as their positions in the log (an array of
    4 bytes each: a tuple and a float per record would take 120 bytes, about 30 MB at 100k
    messages) and made into tuples when its pairs are walked (those of the last message asked
    for kept, as a message's pairs come one after another)."""

    __slots__ = ("_last", "log", "of")

    def __init__(self, log: LogColumns) -> None:
        self.log = log
        self.of: dict[str, array[int]] = {}
        self._last: tuple[str, list[Record]] = ("", [])
        positions = log.where(*_CHAIN_EVENTS)
        for mid, position in zip(log.at(MESSAGE_ID, positions), positions, strict=True):
            held = self.of.get(mid)
            if held is None:
                self.of[mid] = array("I", (position,))
            else:
                held.append(position)

    def records(self, mid: str) -> list[Record]:
        """The chain records of message ``mid``, in log order."""
        if self._last[0] != mid:
            self._last = (mid, self.log.rows_at(self.of.get(mid, ())))
        return self._last[1]

    def split(self, mid: str, names: set[str], submitted_s: float, delivered_s: float,
              made: tuple[float, str] | None = None) -> tuple[float, float, float, float]:
        """(queue wait, worker wait, processing, transfer) of one recipient's path through message
        ``mid``, walking back hop by hop; ``names`` are the recipient's address and those of the
        aliases that led to it. ``made``: (when, where) a list made this copy, an acceptance there
        from nowhere before the message's own records."""
        records = self.records(mid)
        accepted = [(t, node, v[_FROM]) for t, event, _m, node, v in records
                    if event == "accepted" and not names.isdisjoint(v[_RCPTS["accepted"]])]
        if made is not None:
            accepted.insert(0, (made[0], made[1], ""))
        servers = {node for _, node, _ in accepted}
        hop = _latest(accepted, delivered_s)
        wait_s = worker_s = processing_s = transfer_s = 0.0
        if hop is not None:
            worker_s, processing_s, left_s = _stage(records, hop[1], names, hop[0], delivered_s)
            wait_s = delivered_s - left_s
        for _ in range(len(accepted) + 1):
            if hop is None:
                break
            t, _node, client = hop
            if client not in servers:  # the submission session from the user's node
                starts = [float(v[_NEXT]) for tt, event, _m, node, v in records
                          if event == "submit_failed" and node == client and tt <= t]
                start = max([submitted_s, *(s for s in starts if s <= t)])
                return wait_s + (start - submitted_s), worker_s, processing_s, transfer_s + (t - start)
            start = _session_start(records, client, names, t)
            transfer_s += t - start
            hop = _latest(accepted, start, client)
            if hop is not None:
                waited_s, processed_s, left_s = _stage(records, client, names, hop[0], start)
                worker_s += waited_s
                processing_s += processed_s
                wait_s += start - left_s
        # an inconsistent chain: what is not accounted for as transfer or processing counts as waiting
        return (delivered_s - submitted_s) - transfer_s - worker_s - processing_s, worker_s, processing_s, transfer_s


def _stage(records: list[Record], node: str, names: set[str], accepted_s: float,
           before_s: float) -> tuple[float, float, float]:
    """(worker wait, processing, when it left the stage) of the recipient (one of ``names``)
    accepted at ``node`` at ``accepted_s`` and gone on by ``before_s``; (0, 0, accepted_s) without
    a processing stage."""
    started_s = None
    for t, event, _m, where, v in records:
        if t > before_s:
            break
        if event not in ("processing", "processed") or where != node or t < accepted_s \
                or names.isdisjoint(v[_RCPTS[event]]):
            continue
        if event == "processing" and started_s is None:
            started_s = t
        elif event == "processed" and started_s is not None:
            return started_s - accepted_s, t - started_s, t
    return 0.0, 0.0, accepted_s


def _session_start(records: list[Record], client: str, names: set[str], accepted_s: float) -> float:
    """When the session that got the recipient (one of ``names``) accepted at ``accepted_s`` started
    at ``client``."""
    start = None
    for t, event, _m, node, v in records:
        if t > accepted_s:
            break
        if node != client:
            continue
        if event == "attempt" and not names.isdisjoint(v[_RCPTS["attempt"]]):
            start = t
        elif event == "connect_failed" and start is not None:
            start = t  # the next MX is tried at once
    return accepted_s if start is None else start
