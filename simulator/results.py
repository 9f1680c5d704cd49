"""Tables and summary derived from the event log, and the writers of the result folder.

Every function here is a pure function of the log's records (plus the scenario for the
summary's header): nothing reaches back into the simulation. Times are written as Python's
shortest exact float text (sub-microsecond precision), so the same seed gives identical files.

The tables are held as columns (:class:`Tables`) and derived by kind of record
(:mod:`simulator.logcolumns`): each table reads only the records it is made of. Chosen by
measurement on the 100k-message benchmark (in one process, CPU time): the one loop over every
record with a dict row per pair took about 1.1 s for the tables and 1.1 s for the summary, this
about 0.9 s (the grouping by kind included) and 0.5 s. The pairs are numbered once
(:mod:`simulator.pairnumbers`) and what the other records say is gathered into numpy arrays by
pair number, a column of records at a time, each record's fields read a part of the records at a
time (a record is still in the processor's cache when read again). Looking each record's pair up
as a ``(message id, recipient)`` tuple in a dict of every pair took 0.39-0.43 s at 100k messages
but 6.6-7.1 s at 1M (benchmark scenario, 1.2 million pairs; derived again in the process that
ran it), growing faster than the messages as the records come in an order that is not the dict's;
this takes 0.24 s and 3.3-3.4 s, the tables the same to the type of each value. The summary's
statistics are taken over numpy arrays of the times (8 bytes a value, no float object per
difference), the percentiles from a partition (linear) rather than a sort, the masks compared in
C and a pair's retrievals counted a few users at a time: 0.17 s of CPU at 100k messages and 1.7 s
at 1M, where sorts and a loop per pair took 0.23 s and 2.85 s, the same numbers to the last bit. The tables'
times are :class:`~simulator.float_column.FloatColumn` s (8 bytes a time, where a float object and its
pointer took 32): at 100k messages the tables take 22 MB where lists of float objects took 36. The rows as
dicts, which the plots read, are made when first asked for. ``events.csv`` is made into text a part at a time
(:data:`EVENT_CHUNK_RECORDS`), so its detail texts never all lie in memory at once.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from functools import partial
from itertools import compress, repeat
from operator import eq, itemgetter
from pathlib import Path
from typing import Any, TypeVar

from .collector import while_paused
from .csv_columns import cell as cell  # the text of one CSV cell, for readers of results
from .csv_columns import csv_file, write_csv
from .event_cells import DetailCells
from .eventlog import READ_RECORDS, Record
from .float_column import FloatColumn
from .logcolumns import EVENT, MESSAGE_ID, NODE, TIME, VALUES, LogColumns, log_columns, take

DELIVERY_COLUMNS = (
    "message_id", "kind", "sender", "recipient", "size_bytes", "wire_bytes", "submitted_at",
    "delivered_at", "retrieved_at", "attempts", "status", "code", "latency_s", "duplicates", "about",
)
RETRIEVAL_COLUMNS = ("message_id", "recipient", "device", "protocol", "retrieved_at")
Row = TypeVar("Row", bound=Mapping[str, Any])

QUEUE_COLUMNS = ("time", "server", "queue_length")
EVENT_COLUMNS = ("time", "event", "message_id", "node", "detail")


Columns = dict[str, Sequence[Any]]
"""A table as one sequence per column, by column name (a list, or for times a :class:`FloatColumn`)."""

_TABLE_COLUMNS = {"deliveries": DELIVERY_COLUMNS, "retrievals": RETRIEVAL_COLUMNS, "queues": QUEUE_COLUMNS}


class Tables:
    """The derived tables (``deliveries``, ``retrievals``, ``queues``), held as columns
    (:meth:`columns`); each table's rows, dicts keyed by column name, are made when first asked for."""

    __slots__ = ("_columns", "_rows")

    def __init__(self, columns: Mapping[str, Columns] | None = None) -> None:
        self._columns: dict[str, Columns] = dict(columns or {})
        self._rows: dict[str, list[dict[str, Any]]] = {}
        for name, names in _TABLE_COLUMNS.items():
            self._columns.setdefault(name, {column: [] for column in names})

    @classmethod
    def of_rows(cls, deliveries: Sequence[Mapping[str, Any]], retrievals: Sequence[Mapping[str, Any]],
                queues: Sequence[Mapping[str, Any]]) -> Tables:
        """The tables of rows read back (dicts keyed by column name)."""
        given = {"deliveries": deliveries, "retrievals": retrievals, "queues": queues}
        return cls({name: {c: [row[c] for row in given[name]] for c in names}
                    for name, names in _TABLE_COLUMNS.items()})

    def columns(self, name: str) -> Columns:
        """Table ``name`` as columns (in file order)."""
        return self._columns[name]

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Tables):
            return NotImplemented
        return all(self._columns[name] == other._columns[name] for name in _TABLE_COLUMNS)

    def __repr__(self) -> str:
        sizes = ", ".join(f"{name}={len(self._columns[name][names[0]])} rows" for name, names in _TABLE_COLUMNS.items())
        return f"Tables({sizes})"

    def _table_rows(self, name: str) -> list[dict[str, Any]]:
        rows = self._rows.get(name)
        if rows is None:
            names = _TABLE_COLUMNS[name]
            data = self._columns[name]
            rows = self._rows[name] = [dict(zip(names, values, strict=True))
                                       for values in zip(*(data[c] for c in names), strict=True)]
        return rows

    @property
    def deliveries(self) -> list[dict[str, Any]]:
        """deliveries.csv's rows: one per (message, recipient)."""
        return self._table_rows("deliveries")

    @property
    def retrievals(self) -> list[dict[str, Any]]:
        """retrievals.csv's rows: one per (message, recipient, device)."""
        return self._table_rows("retrievals")

    @property
    def queues(self) -> list[dict[str, Any]]:
        """queues.csv's rows: each server's queue length whenever it changes."""
        return self._table_rows("queues")


@while_paused
def derive(records: Sequence[Record] | LogColumns, servers: Sequence[str] = ()) -> Tables:
    """Build deliveries, retrievals and queue tables from the event log.

    Each kind of record is read a column at a time: a pair is delivered at its first
    ``delivered`` record, retrieved at its first ``retrieved`` one, tried once per ``attempt``
    naming it. Only where the order of records decides a pair's end is it looked at:

    - an ``expanded`` record (a list or alias took the pair) counts only if the pair was not
      delivered before it, by a ``delivered`` record or an earlier ``expanded`` one, and a list's
      second copy counts as a duplicate only if it was; these records are walked in log order;
    - a pair never delivered ends ``bounced`` at its first ``bounced`` record, with that
      record's code, or else carries the code of its last ``deferred`` record (one after a
      bounce would not change it, and a delivery makes the code 250 whatever came before);
    - a list's copy is submitted when the message it copies was, up the chain of copies.
    """
    import numpy as np

    from .pairnumbers import NONE, MessageNumbers, PairNumbers, first_of, last_of, unless

    log = log_columns(records)
    made = log.positions("created")
    made_ids, made_values = log.at(MESSAGE_ID, made_at := made.tolist()), log.at(VALUES, made_at)
    submitted = log.array_at(TIME, made)  # floats (objects if the log keeps its times as given)
    if len(set(made_ids)) < len(made_ids):  # an id made twice (not in a run's log): as a dict of them would hold it
        last = dict(zip(made_ids, range(len(made_ids)), strict=True))  # id -> its last record, in the order first made
        kept = list(last.values())
        made_ids, made_values, submitted = list(last), take(made_values, kept), submitted[kept]
    del made, made_at
    messages = MessageNumbers(made_ids)

    added: dict[str, list[str]] = {}  # message id -> recipients aliases added, in order
    copy_of: dict[str, str] = {}  # a list's copy -> the message it copies
    expansions = log.rows("expanded")
    if expansions:
        message = messages.number
        known = {(mid, rcpt) for mid in {row[2] for row in expansions} if mid in message
                 for rcpt in made_values[message[mid]][3]}  # pairs of the ``to`` of each message expanded
        for _t, _e, mid, _n, (address, _via, targets, copy) in expansions:
            known.add((mid, address))
            if copy is not None:
                copy_of[copy] = mid
            else:
                for rcpt in targets:
                    if (mid, rcpt) not in known:
                        known.add((mid, rcpt))
                        added.setdefault(mid, []).append(rcpt)
        del known
        for m in sorted(message[mid] for mid in copy_of if mid in message):  # a copy is made after what it copies
            submitted[m] = submitted[message[copy_of[made_ids[m]]]]

    # the pairs: the recipients of each message (``to``, then those aliases added), in the order made;
    # what the other records say is gathered into arrays by pair number
    recipients: Iterable[Sequence[str]] = map(itemgetter(3), made_values)
    if added:
        recipients = list(recipients)
        for mid, rcpts in added.items():
            if mid in messages.number:
                m = messages.number[mid]
                recipients[m] = (*recipients[m], *rcpts)
    pairs = PairNumbers(messages, recipients)
    count = pairs.pairs
    del recipients, messages

    delivered = log.positions("delivered")
    first = first_of(pairs.of(*_named(log, delivered.tolist())), count)
    has_delivery = first < len(delivered)
    times = log.array_at(TIME, delivered)  # floats (objects if the log keeps its times as given)
    delivered_at = np.zeros(count, dtype=times.dtype)  # a time where has_delivery
    delivered_at[has_delivery] = times[first[has_delivery]]
    state = has_delivery.astype(np.int8)  # a number in _STATUSES
    code = np.full(count, "", dtype=object)
    code[has_delivery] = "250"
    if expansions:  # a list or alias took the pair, unless it was delivered before
        first_delivery = np.where(has_delivery, np.append(delivered, 0)[first], len(log))
        taken: dict[int, Any] = {}  # pair -> when a list or alias took it (before any delivery)
        copies = np.zeros(count, dtype=np.int64)  # a list's second copies of each pair
        named = pairs.of([row[2] for row in expansions], [row[4][0] for row in expansions]).tolist()
        for i, k, (time_s, _e, _m, _n, values) in zip(log.where("expanded"), named, expansions, strict=True):
            if k == NONE:
                continue
            if k not in taken and first_delivery[k] >= i:
                taken[k] = time_s
            elif values[3] is not None:
                copies[k] += 1  # a list got it again: a second copy (an alias's targets log theirs)
        took = np.array(list(taken), dtype=np.int64)
        delivered_at[took] = np.array(list(taken.values()), dtype=delivered_at.dtype)
        has_delivery[took], state[took], code[took] = True, _EXPANDED, "250"
        del first_delivery, named, taken
    del delivered, first, times

    got = log.positions("retrieved")
    got_mids = log.at(MESSAGE_ID, got_at := got.tolist())
    got_rcpts, devices, protocols = _fields(partial(log.at, VALUES), got_at, 0, 1, 2)
    got_times = log.array_at(TIME, got)
    first = first_of(pairs.of(got_mids, got_rcpts), count)
    has_retrieval = first < len(got)
    retrieved_at = np.zeros(count, dtype=got_times.dtype)  # a time where has_retrieval
    retrieved_at[has_retrieval] = got_times[first[has_retrieval]]
    del got, got_at, first

    attempts = pairs.of_each(*_named(log, log.where("attempt")))
    tries = np.bincount(attempts[attempts != NONE], minlength=count)
    tries[(tries == 0) & has_delivery] = 1  # delivered to a mailbox (or taken by a list) on the server it was at
    del attempts
    again = pairs.of(*_named(log, log.where("duplicate")))
    duplicates = np.bincount(again[again != NONE], minlength=count)
    if expansions:
        duplicates += copies

    deferred = log.where("deferred")  # the last deferral's code, unless a bounce or a delivery has one
    deferrals = log.at(VALUES, deferred)
    failed = np.repeat(_objects(list(map(itemgetter(1), deferrals))),
                       np.array(list(map(len, map(itemgetter(0), deferrals))), dtype=np.int64))
    last = last_of(unless(pairs.of_each(log.at(MESSAGE_ID, deferred), list(map(itemgetter(0), deferrals))),
                          has_delivery), count)
    code[last != NONE] = failed[last[last != NONE]]
    bounces = log.rows("bounced")
    first = first_of(unless(pairs.of([row[2] for row in bounces], [row[4][0] for row in bounces]), has_delivery),
                     count)
    bounced = first < len(bounces)
    state[bounced] = _BOUNCED
    code[bounced] = _objects([row[4][1] for row in bounces])[first[bounced]]  # the first bounce's
    del deferred, deferrals, failed, last, bounces, first, bounced

    owners = pairs.owner.tolist()
    submitted = submitted[pairs.owner]
    if pairs.named_twice:  # a pair named twice: every row of it as its numbered one
        rows = pairs.own_numbers()
        delivered_at, has_delivery, retrieved_at, has_retrieval, tries, state, code, duplicates = (
            column[rows] for column in (delivered_at, has_delivery, retrieved_at, has_retrieval, tries, state, code,
                                        duplicates))
    recipients = pairs.recipients
    del pairs
    kinds, senders, sizes_bytes, wires_bytes, abouts = _fields(partial(take, made_values), owners, 0, 1, 4, 5, 6)
    deliveries: Columns = {
        "message_id": take(made_ids, owners), "kind": kinds, "sender": senders, "recipient": recipients,
        "size_bytes": sizes_bytes, "wire_bytes": wires_bytes,
        "submitted_at": _time_column(submitted), "delivered_at": _time_column(delivered_at, has_delivery),
        "retrieved_at": _time_column(retrieved_at, has_retrieval), "attempts": tries.tolist(),
        "status": np.array(_STATUSES, dtype=object)[state].tolist(), "code": code.tolist(),
        "latency_s": _time_column(delivered_at - submitted, has_delivery),
        "duplicates": duplicates.tolist(), "about": [about or "" for about in abouts],
    }
    del abouts, owners, made_values, submitted, delivered_at, has_delivery, retrieved_at, has_retrieval, tries, state
    del code, duplicates
    retrievals: Columns = {"message_id": got_mids, "recipient": got_rcpts, "device": devices, "protocol": protocols,
                           "retrieved_at": _time_column(got_times)}
    changed = log.positions("enqueued", "dequeued")
    changed_at = log.array_at(TIME, changed)
    queues: Columns = {
        "time": _time_column(np.concatenate((np.zeros(len(servers), dtype=changed_at.dtype), changed_at))),
        "server": [*servers, *log.array_at(NODE, changed).tolist()],
        "queue_length": [0] * len(servers) + _fields(partial(log.at, VALUES), changed.tolist(), 0)[0],
    }
    return Tables({"deliveries": deliveries, "retrievals": retrievals, "queues": queues})


_STATUSES = ("pending", "delivered", "expanded", "bounced")
"""A pair's status by its number in :func:`derive`."""
_EXPANDED, _BOUNCED = 2, 3


def _named(log: LogColumns, positions: list[int]) -> tuple[list[str], list[Any]]:
    """The message ids and first fields (the recipient, or recipients) of the records at ``positions``."""
    return log.at(MESSAGE_ID, positions), _fields(partial(log.at, VALUES), positions, 0)[0]


def _fields(rows: Callable[[list[int]], list[Any]], keys: list[int], *fields: int) -> list[list[Any]]:
    """Fields ``fields`` of the rows (tuples) ``rows(keys)`` gives, a list each, made
    :data:`READ_RECORDS` keys at a time: each row is still in the processor's cache as its fields are read."""
    columns: list[list[Any]] = [[] for _ in fields]
    for start in range(0, len(keys), READ_RECORDS):
        part = rows(keys[start:start + READ_RECORDS])
        for column, field in zip(columns, fields, strict=True):
            column += map(itemgetter(field), part)
    return columns


def _time_column(values: Any, known: Any = None) -> FloatColumn | list[Any]:
    """A numpy array of times as a table's column, None where ``known`` (if given) is False: a
    :class:`FloatColumn` of ``float64`` times, or, for times kept as the log was given them (objects),
    a list of them."""
    import numpy as np

    if values.dtype == np.float64:
        return FloatColumn(values, known)
    if known is None:
        return list(values.tolist())
    column = np.full(len(values), None, dtype=object)
    column[known] = values[known]
    return list(column.tolist())


def _objects(values: Sequence[Any]) -> Any:
    """``values`` as a numpy array of objects (one a value, whatever each is)."""
    import numpy as np

    return np.fromiter(values, dtype=object, count=len(values))


def is_final_mail(kind: str, status: str) -> bool:
    """Whether a deliveries pair is mail to a final recipient: kind ``mail``, not a pair a list or
    alias took (status ``expanded``: its members' pairs are counted instead)."""
    return kind == "mail" and status != "expanded"


def final_mail(rows: Iterable[Row]) -> list[Row]:
    """The rows of the mail pairs of final recipients (:func:`is_final_mail`)."""
    return [r for r in rows if is_final_mail(r["kind"], r["status"])]


def final_mail_mask(deliveries: Mapping[str, Sequence[Any]]) -> Any:
    """Whether each pair of deliveries' columns is mail to a final recipient (:func:`is_final_mail`),
    as a numpy array of booleans."""
    return text_is(deliveries["kind"], "mail") & ~text_is(deliveries["status"], "expanded")  # column by column, in C


def final_mail_positions(deliveries: Mapping[str, Sequence[Any]]) -> list[int]:
    """The positions in deliveries' columns of the mail pairs of final recipients (:func:`is_final_mail`)."""
    import numpy as np

    positions: list[int] = np.flatnonzero(final_mail_mask(deliveries)).tolist()
    return positions


def stats(values: Sequence[float] | Any) -> dict[str, float | None]:
    """mean, p50, p90, p99 and max (linear-interpolated percentiles) of ``values`` (a sequence or a
    numpy array of floats); None when empty. Only the order statistics the percentiles read are
    found (:func:`_order_statistics`, linear time, where a sort takes n log n); the mean is
    ``math.fsum``'s correctly rounded sum, whatever the order of the values."""
    import numpy as np

    values = np.asarray(values, dtype=np.float64)
    if not len(values):
        return {"count": 0, "mean": None, "p50": None, "p90": None, "p99": None, "max": None}
    ordered = _order_statistics(values, (50, 90, 99))
    return {
        "count": len(values),
        "mean": math.fsum(values) / len(values),
        "p50": percentile(ordered, 50),
        "p90": percentile(ordered, 90),
        "p99": percentile(ordered, 99),
        "max": float(ordered[-1]),
    }


def _order_statistics(values: Any, quantiles: Sequence[float]) -> Any:
    """``values`` (a numpy array) partly ordered: at every place :func:`percentile` reads for
    ``quantiles``, and at the last, the value a stable sort puts there (a partition, linear
    time). Sorted whole, stably, if a zero is negative (``-0.0`` and ``0.0`` are equal, and a
    partition may swap them)."""
    import numpy as np

    if (np.signbit(values) & (values == 0)).any():
        return np.sort(values, kind="stable")
    last = len(values) - 1
    places = {last}
    for q in quantiles:
        lo = math.floor(last * q / 100.0)
        places |= {lo, min(lo + 1, last)}
    return np.partition(values, sorted(places))


def percentile(ordered: Sequence[float] | Any, q: float) -> float:
    """The q-th percentile of sorted values (a sequence or a numpy array), interpolating linearly
    (numpy's default)."""
    pos = (len(ordered) - 1) * q / 100.0
    lo = math.floor(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return float(ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo))


def _times(column: Sequence[float | None]) -> Any:
    """A table's column of times as a numpy array, NaN where a time is missing (None)."""
    import numpy as np

    return np.array(column, dtype=np.float64)


def text_is(column: Sequence[str], text: str) -> Any:
    """Whether each cell of a table's column of text is ``text``, as a numpy array of booleans
    (compared in C: the column's strings are a few objects, each shared by many cells)."""
    import numpy as np

    return np.fromiter(map(eq, column, repeat(text)), dtype=np.bool_, count=len(column))


@while_paused
def summarize(tables: Tables, records: Sequence[Record] | LogColumns, header: dict[str, Any]) -> dict[str, Any]:
    """The summary: counts of (message, recipient) pairs of kind mail, DSNs apart, latencies.

    A pair a list or alias took (status ``expanded``) is counted apart, as ``expanded`` (a key
    present only when there are some): the others count final recipients. ``duplicates`` counts
    every duplicate delivery of mail, to a list or alias too.
    """
    import numpy as np

    log = log_columns(records)
    d = tables.columns("deliveries")
    status = d["status"]
    final = final_mail_mask(d)
    mail = final.tobytes()  # a byte a pair, for compress
    of_kind_mail = text_is(d["kind"], "mail")
    by_status = Counter(compress(status, mail))
    counts = {
        "submitted": int(final.sum()),
        "delivered": by_status["delivered"],
        "bounced": by_status["bounced"],
        "pending": by_status["pending"],
        "duplicates": sum(compress(d["duplicates"], of_kind_mail.tobytes())),  # lists' too
        "messages": len(set(compress(d["message_id"], mail))),
        "bounces_sent": log.count("bounce_sent"),
        "warnings_sent": log.count("warning_sent"),
    }
    expanded = int((of_kind_mail & text_is(status, "expanded")).sum())
    if expanded:
        counts["expanded"] = expanded
    attempts = list(compress(d["attempts"], mail))
    peak = _peaks(tables.columns("queues"))
    delivered_mail = text_is(status, "delivered") & final
    times = _Times(d)
    retrieved = final & ~np.isnan(times.retrieved_at)
    summary = {
        **header,
        "counts": counts,
        "latency_s": stats(_times(d["latency_s"])[delivered_mail]),
        "retrieval_latency_s": stats((times.retrieved_at - times.delivered_at)[retrieved]),
        "end_to_end_latency_s": stats((times.retrieved_at - times.submitted_at)[retrieved]),
        "attempts": {
            "total": sum(attempts),
            "mean": (sum(attempts) / len(attempts)) if attempts else None,
            "max": max(attempts, default=0),
        },
        "peak_queue": peak,
        "retrieval_by_protocol": by_protocol(tables, log, times),
        "events": len(log),
    }
    refused = refusals(log)
    if refused:  # only where a capacity limit refused something, so other summaries stay as they were
        summary["refusals"] = refused
    return summary


def _peaks(queues: Columns) -> dict[str, int]:
    """Each server's longest queue (of the servers with a length of 0 or more), in name order."""
    import numpy as np

    servers: dict[str, int] = {}
    at = np.fromiter(map(servers.setdefault, queues["server"], map(len, repeat(servers))), dtype=np.int64,
                     count=len(queues["server"]))
    peak = np.full(len(servers), -1, dtype=np.int64)
    np.maximum.at(peak, at, np.asarray(queues["queue_length"], dtype=np.int64))
    return {server: value for server, value in sorted(zip(servers, peak.tolist(), strict=True)) if value >= 0}


class _Times:
    """The deliveries' columns of times the summary reads, as numpy arrays (made once for it and
    :func:`by_protocol`)."""

    __slots__ = ("delivered_at", "retrieved_at", "submitted_at")

    def __init__(self, deliveries: Columns) -> None:
        self.delivered_at, self.retrieved_at, self.submitted_at = (
            _times(deliveries[name]) for name in ("delivered_at", "retrieved_at", "submitted_at"))


def refusals(records: Sequence[Record] | LogColumns) -> dict[str, dict[str, int]]:
    """Per server (in name order), its ``refused`` records counted by reply (``"421 4.7.0"``)."""
    log = log_columns(records)
    counts: dict[str, dict[str, int]] = {}
    for _t, _e, _m, node, (_client, code, status, _why) in log.rows("refused"):
        by_code = counts.setdefault(node, {})
        reply = f"{code} {status}"
        by_code[reply] = by_code.get(reply, 0) + 1
    return {node: dict(sorted(by_code.items())) for node, by_code in sorted(counts.items())}


def by_protocol(tables: Tables, records: Sequence[Record] | LogColumns,
                times: _Times | None = None) -> dict[str, dict[str, Any]]:
    """Per access protocol: delivered mail pairs, how many reached a device and every device,
    retrieval latency (from delivery) and end-to-end latency (from submission). ``times``: the
    deliveries' times as :func:`summarize` made them (made here if not given).

    Every user with devices is numbered, so that a pair's protocol and device count are looked up
    in arrays; a pair's retrievals are counted by :func:`_retrievals_per_pair`."""
    import numpy as np

    log = log_columns(records)
    protocol_of = device_protocols(log)
    devices_of = Counter(values[0] for values in log.column(VALUES, log.rows("device")))
    protocols = sorted(set(protocol_of.values()))
    number = {protocol: n for n, protocol in enumerate(protocols)}
    users = {user: n for n, user in enumerate(protocol_of)}  # a user with devices -> its number
    nobody = len(users)  # the number of a recipient without devices
    protocol_by_user = np.array([*(number[p] for p in protocol_of.values()), -1], dtype=np.int64)
    devices_by_user = np.array([*(devices_of[user] for user in protocol_of), 0], dtype=np.int64)
    d, r = tables.columns("deliveries"), tables.columns("retrievals")
    times = _Times(d) if times is None else times
    mids, rcpts = d["message_id"], d["recipient"]
    user = np.fromiter(map(users.get, rcpts, repeat(nobody)), dtype=np.int64, count=len(rcpts))
    delivered_by = np.where(text_is(d["kind"], "mail") & text_is(d["status"], "delivered"), protocol_by_user[user], -1)
    copies = _retrievals_per_pair(r, mids, user, delivered_by >= 0, users)
    everywhere = copies >= devices_by_user[user]
    fetched = ~np.isnan(times.retrieved_at)
    out: dict[str, dict[str, Any]] = {}
    for code, protocol in enumerate(protocols):
        of_protocol = delivered_by == code
        delivered = int(of_protocol.sum())
        retrieved = of_protocol & fetched
        out[protocol] = {
            "users": sum(1 for p in protocol_of.values() if p == protocol),
            "delivered": delivered,
            "retrieved": int(retrieved.sum()),
            "retrievals": int(copies[of_protocol].sum()),
            "every_device_share": (int((everywhere & of_protocol).sum()) / delivered) if delivered else None,
            "retrieval_latency_s": stats((times.retrieved_at - times.delivered_at)[retrieved]),
            "end_to_end_latency_s": stats((times.retrieved_at - times.submitted_at)[retrieved]),
        }
    return out


RETRIEVALS_AT_A_TIME = 1_024
"""Retrievals :func:`_retrievals_per_pair` counts at a time, about (a user with more is counted alone)."""


def _retrievals_per_pair(retrievals: Columns, mids: Sequence[str], user: Any, wanted: Any,
                         users: Mapping[str, int]) -> Any:
    """How many rows of ``retrievals`` each pair has (a numpy array; 0 but for the ``wanted`` pairs):
    the pairs are (``mids``, the user numbered ``user`` in ``users``). The retrievals and the wanted
    pairs are grouped by user, and counted a group of users at a time (about
    :data:`RETRIEVALS_AT_A_TIME` retrievals), each group's (user, message) pairs in a Counter (a
    user alone, its message ids): a few MB at a time, where a dict of every recipient's retrieved
    messages took 15 MiB at 100k messages."""
    import numpy as np

    got = np.fromiter(map(users.get, retrievals["recipient"], repeat(len(users))), dtype=np.int32,
                      count=len(retrievals["recipient"]))
    ends = np.cumsum(np.bincount(got, minlength=len(users) + 1))[:len(users)]  # retrievals up to each user
    cuts = np.unique(np.searchsorted(ends, np.arange(RETRIEVALS_AT_A_TIME, ends[-1] if len(ends) else 0,
                                                     RETRIEVALS_AT_A_TIME)))  # the last user of each group
    firsts = np.r_[0, cuts + 1, len(users)]  # the first user of each group, and the end
    by_user = np.argsort(got, kind="stable").astype(np.int32)  # the retrievals grouped by user (those without
    rows_from: Any = np.searchsorted(got[by_user], firsts)  # devices last), and where each group's start
    pairs = np.flatnonzero(wanted)
    pairs = pairs[np.argsort(user[pairs], kind="stable")].astype(np.int32)
    pairs_from: Any = np.searchsorted(user[pairs], firsts)
    copies = np.zeros(len(mids), dtype=np.int64)
    for group in range(len(firsts) - 1):
        rows = by_user[rows_from[group]:rows_from[group + 1]].tolist()
        at = pairs[pairs_from[group]:pairs_from[group + 1]]
        if not rows or not len(at):
            continue
        if firsts[group + 1] - firsts[group] == 1:  # one user: its messages' ids are the keys (no tuple each)
            held: Counter[Any] = Counter(take(retrievals["message_id"], rows))
            copies[at] = list(map(held.get, take(mids, at.tolist()), repeat(0)))
        else:
            held = Counter(zip(got[rows].tolist(), take(retrievals["message_id"], rows), strict=True))
            copies[at] = list(map(held.get, zip(user[at].tolist(), take(mids, at.tolist()), strict=True), repeat(0)))
    return copies


def device_protocols(records: Sequence[Record] | LogColumns) -> dict[str, str]:
    """User address -> the access protocol of its devices, from the ``device`` records."""
    log = log_columns(records)
    return {values[0]: values[2] for values in log.column(VALUES, log.rows("device"))}  # rcpt -> protocol


# ---- writers ----------------------------------------------------------------------------------


def write_table(path: Path, columns: Sequence[str], data: Columns) -> None:
    """A CSV table of columns: None as an empty cell, floats as their exact shortest text
    (:mod:`simulator.csv_columns`, which writes what the csv module would)."""
    write_csv(path, columns, [data[name] for name in columns])


EVENT_CHUNK_RECORDS = 16_384
"""Records of events.csv made into text at a time: the detail texts of a whole log would take
about as much memory as the log itself."""


def write_events(path: Path, records: Sequence[Record] | LogColumns) -> None:
    """events.csv: each record's typed values as its ``detail`` text (:func:`eventkinds.detail_texts`),
    written :data:`EVENT_CHUNK_RECORDS` records at a time."""
    from .float_text import float_reprs  # (numpy and orjson: imported when a table is written)

    log = log_columns(records)
    details = DetailCells()
    with csv_file(path, EVENT_COLUMNS) as write:
        for start in range(0, len(log), EVENT_CHUNK_RECORDS):
            stop = start + EVENT_CHUNK_RECORDS
            events, values = log.span(EVENT, start, stop), log.span(VALUES, start, stop)
            times = float_reprs(log.array_at(TIME, slice(start, min(stop, len(log)))))  # no float object per time
            write([times, events, log.span(MESSAGE_ID, start, stop), log.span(NODE, start, stop),
                   details(events, values)], as_cells=(0, 1, 4))


def write_json(path: Path, data: dict[str, Any]) -> None:
    path.write_text(json.dumps(data, indent=2) + "\n")
