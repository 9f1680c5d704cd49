"""Tables and summary derived from the event log, and the writers of the result folder.

Every function here is a pure function of the log's records (plus the scenario for the
summary's header): nothing reaches back into the simulation. Times are written as Python's
shortest exact float text (sub-microsecond precision), so the same seed gives identical files.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from operator import itemgetter
from pathlib import Path
from typing import Any, TypeVar

from .collector import with_fewer_collections
from .csv_columns import cell as cell  # the text of one CSV cell, for readers of results
from .csv_columns import columns_of, write_csv
from .eventkinds import detail_texts
from .eventlog import Record
from .logcolumns import LogColumns, log_columns

DELIVERY_COLUMNS = (
    "message_id", "kind", "sender", "recipient", "size_bytes", "wire_bytes", "submitted_at",
    "delivered_at", "retrieved_at", "attempts", "status", "code", "latency_s", "duplicates", "about",
)
RETRIEVAL_COLUMNS = ("message_id", "recipient", "device", "protocol", "retrieved_at")
Row = TypeVar("Row", bound=Mapping[str, Any])

QUEUE_COLUMNS = ("time", "server", "queue_length")
EVENT_COLUMNS = ("time", "event", "message_id", "node", "detail")


@dataclass(slots=True)
class _Pair:
    """What the log says about one (message, recipient)."""

    delivered_at: float | None = None
    bounced_at: float | None = None
    code: str = ""
    duplicates: int = 0
    expanded: bool = False  # a list or alias took it (delivered_at is when)


Columns = dict[str, list[Any]]
"""A table as one list per column, by column name."""

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


_PAIR_EVENTS = ("created", "delivered", "expanded", "duplicate", "bounced", "deferred")
"""The records whose order decides a pair's end; ``attempt`` and ``retrieved`` records are counted apart."""


@with_fewer_collections
def derive(records: Sequence[Record] | LogColumns, servers: Sequence[str] = ()) -> Tables:
    """Build deliveries, retrievals and queue tables from the event log.

    Only the records that decide how a pair ended (``created``, ``delivered``, ``expanded``,
    ``duplicate``, ``bounced``, ``deferred``) are walked in order; the attempts and the first
    retrieval of each pair, the retrievals and the queue changes are read a column at a time.
    """
    log = log_columns(records)
    times, mids, nodes, values = log.times, log.message_ids, log.nodes, log.values
    messages: dict[str, tuple[Any, ...]] = {}
    created_at: dict[str, float] = {}
    pairs: dict[tuple[str, str], _Pair] = {}
    added: dict[str, list[str]] = {}  # message id -> recipients aliases added, in order
    copy_of: dict[str, str] = {}  # a list's copy -> the message it copies

    def pair(mid: str, rcpt: str) -> _Pair:
        p = pairs.get((mid, rcpt))
        if p is None:
            p = pairs[(mid, rcpt)] = _Pair()
        return p

    for i in log.where(*_PAIR_EVENTS):
        event, mid, v = log.events[i], mids[i], values[i]
        if event == "delivered":
            p = pair(mid, v[0])
            if p.delivered_at is None:
                p.delivered_at = times[i]
                p.code = "250"
        elif event == "created":
            messages[mid] = v
            created_at[mid] = created_at[copy_of[mid]] if mid in copy_of else times[i]  # a copy: the author's time
            for rcpt in v[3]:  # to
                pair(mid, rcpt)
        elif event == "expanded":
            address, targets, copy = v[0], v[2], v[3]  # rcpt, via, to, copy
            p = pair(mid, address)
            if p.delivered_at is None:
                p.delivered_at, p.expanded, p.code = times[i], True, "250"
            elif copy is not None:
                p.duplicates += 1  # a list got it again: a second copy (an alias's targets log theirs)
            if copy is not None:
                copy_of[copy] = mid
            else:
                for rcpt in targets:
                    if (mid, rcpt) not in pairs:
                        pair(mid, rcpt)
                        added.setdefault(mid, []).append(rcpt)
        elif event == "duplicate":
            pair(mid, v[0]).duplicates += 1
        elif event == "bounced":
            p = pair(mid, v[0])
            if p.bounced_at is None and p.delivered_at is None:
                p.bounced_at = times[i]
                p.code = v[1]
        else:  # deferred
            for rcpt in v[0]:
                p = pair(mid, rcpt)
                if p.delivered_at is None and p.bounced_at is None:
                    p.code = v[1]

    attempts = Counter((mids[i], rcpt) for i in log.where("attempt") for rcpt in values[i][0])
    got = log.where("retrieved")
    got_mids, got_values, got_times = [mids[i] for i in got], [values[i] for i in got], [times[i] for i in got]
    got_rcpts = list(map(itemgetter(0), got_values))
    # the first retrieval of each pair: later ones, set first in the reversed order, are overwritten
    first_retrieved = dict(zip(zip(reversed(got_mids), reversed(got_rcpts), strict=True), reversed(got_times),
                               strict=True))

    rows: list[tuple[Any, ...]] = []
    for mid, (kind, author, _sender, to, size, wire, about, _code) in messages.items():
        submitted = created_at[mid]
        about = about or ""
        for rcpt in (*to, *added[mid]) if mid in added else to:
            p = pairs[(mid, rcpt)]
            delivered = p.delivered_at
            tries = attempts.get((mid, rcpt), 0)
            if p.expanded:
                status = "expanded"
            elif delivered is not None:
                status = "delivered"
            elif p.bounced_at is not None:
                status = "bounced"
            else:
                status = "pending"
            if delivered is not None and tries == 0:
                tries = 1  # delivered to a mailbox (or taken by a list) on the server it was at
            rows.append((mid, kind, author, rcpt, size, wire, submitted, delivered, first_retrieved.get((mid, rcpt)),
                         tries, status, p.code, None if delivered is None else delivered - submitted, p.duplicates,
                         about))
    deliveries = _columns(DELIVERY_COLUMNS, rows)
    retrievals: Columns = {"message_id": got_mids, "recipient": got_rcpts,
                           "device": list(map(itemgetter(1), got_values)),
                           "protocol": list(map(itemgetter(2), got_values)), "retrieved_at": got_times}
    changed = log.where("enqueued", "dequeued")
    queues: Columns = {"time": [0.0] * len(servers) + [times[i] for i in changed],
                       "server": [*servers, *(nodes[i] for i in changed)],
                       "queue_length": [0] * len(servers) + [values[i][0] for i in changed]}
    return Tables({"deliveries": deliveries, "retrievals": retrievals, "queues": queues})


def _columns(names: Sequence[str], rows: Sequence[tuple[Any, ...]]) -> Columns:
    """Row tuples (in ``names``' order) as columns."""
    if not rows:
        return {name: [] for name in names}
    return {name: list(map(itemgetter(k), rows)) for k, name in enumerate(names)}  # no iterator per row


def final_mail(rows: Iterable[Row]) -> list[Row]:
    """The mail pairs of final recipients: kind ``mail``, without the pairs a list or alias took
    (status ``expanded``: its members' pairs are counted instead)."""
    return [r for r in rows if r["kind"] == "mail" and r["status"] != "expanded"]


def final_mail_positions(deliveries: Columns) -> list[int]:
    """The positions in deliveries' columns of the mail pairs of final recipients (:func:`final_mail`)."""
    return [i for i, (kind, status) in enumerate(zip(deliveries["kind"], deliveries["status"], strict=True))
            if kind == "mail" and status != "expanded"]


def stats(values: Sequence[float]) -> dict[str, float | None]:
    """mean, p50, p90, p99 and max (linear-interpolated percentiles); None when empty."""
    if not values:
        return {"count": 0, "mean": None, "p50": None, "p90": None, "p99": None, "max": None}
    ordered = sorted(values)
    return {
        "count": len(ordered),
        "mean": math.fsum(ordered) / len(ordered),
        "p50": percentile(ordered, 50),
        "p90": percentile(ordered, 90),
        "p99": percentile(ordered, 99),
        "max": ordered[-1],
    }


def percentile(ordered: Sequence[float], q: float) -> float:
    """The q-th percentile of sorted values, interpolating linearly (numpy's default)."""
    pos = (len(ordered) - 1) * q / 100.0
    lo = math.floor(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


@with_fewer_collections
def summarize(tables: Tables, records: Sequence[Record] | LogColumns, header: dict[str, Any]) -> dict[str, Any]:
    """The summary: counts of (message, recipient) pairs of kind mail, DSNs apart, latencies.

    A pair a list or alias took (status ``expanded``) is counted apart, as ``expanded`` (a key
    present only when there are some): the others count final recipients. ``duplicates`` counts
    every duplicate delivery of mail, to a list or alias too.
    """
    log = log_columns(records)
    d = tables.columns("deliveries")
    mail = final_mail_positions(d)
    status, kind = d["status"], d["kind"]
    delivered_at, retrieved_at, submitted_at = d["delivered_at"], d["retrieved_at"], d["submitted_at"]
    by_status = Counter(status[i] for i in mail)
    expanded = sum(1 for k, s in zip(kind, status, strict=True) if k == "mail" and s == "expanded")
    counts = {
        "submitted": len(mail),
        "delivered": by_status["delivered"],
        "bounced": by_status["bounced"],
        "pending": by_status["pending"],
        "duplicates": sum(n for k, n in zip(kind, d["duplicates"], strict=True) if k == "mail"),  # lists' too
        "messages": len({d["message_id"][i] for i in mail}),
        "bounces_sent": log.count("bounce_sent"),
        "warnings_sent": log.count("warning_sent"),
    }
    if expanded:
        counts["expanded"] = expanded
    attempts = [d["attempts"][i] for i in mail]
    q = tables.columns("queues")
    peak: dict[str, int] = {}
    for server, length in zip(q["server"], q["queue_length"], strict=True):
        if length >= peak.get(server, 0):
            peak[server] = length
    retrieved = [i for i in mail if retrieved_at[i] is not None]
    summary = {
        **header,
        "counts": counts,
        "latency_s": stats([d["latency_s"][i] for i in mail if status[i] == "delivered"]),
        "retrieval_latency_s": stats([retrieved_at[i] - delivered_at[i] for i in retrieved]),
        "end_to_end_latency_s": stats([retrieved_at[i] - submitted_at[i] for i in retrieved]),
        "attempts": {
            "total": sum(attempts),
            "mean": (sum(attempts) / len(attempts)) if attempts else None,
            "max": max(attempts, default=0),
        },
        "peak_queue": dict(sorted(peak.items())),
        "retrieval_by_protocol": by_protocol(tables, log),
        "events": len(log),
    }
    refused = refusals(log)
    if refused:  # only where a capacity limit refused something, so other summaries stay as they were
        summary["refusals"] = refused
    return summary


def refusals(records: Sequence[Record] | LogColumns) -> dict[str, dict[str, int]]:
    """Per server (in name order), its ``refused`` records counted by reply (``"421 4.7.0"``)."""
    log = log_columns(records)
    counts: dict[str, dict[str, int]] = {}
    for i in log.where("refused"):
        _client, code, status, _why = log.values[i]
        by_code = counts.setdefault(log.nodes[i], {})
        reply = f"{code} {status}"
        by_code[reply] = by_code.get(reply, 0) + 1
    return {node: dict(sorted(by_code.items())) for node, by_code in sorted(counts.items())}


def by_protocol(tables: Tables, records: Sequence[Record] | LogColumns) -> dict[str, dict[str, Any]]:
    """Per access protocol: delivered mail pairs, how many reached a device and every device,
    retrieval latency (from delivery) and end-to-end latency (from submission)."""
    log = log_columns(records)
    protocol_of = device_protocols(log)
    devices_of = Counter(log.values[i][0] for i in log.where("device"))
    r = tables.columns("retrievals")
    holders = Counter(zip(r["message_id"], r["recipient"], strict=True))
    d = tables.columns("deliveries")
    mids, rcpts, delivered_at, retrieved_at, submitted_at = (
        d["message_id"], d["recipient"], d["delivered_at"], d["retrieved_at"], d["submitted_at"])
    delivered_by: dict[str, list[int]] = {}
    for i, (kind, status, rcpt) in enumerate(zip(d["kind"], d["status"], rcpts, strict=True)):
        if kind == "mail" and status == "delivered" and rcpt in protocol_of:
            delivered_by.setdefault(protocol_of[rcpt], []).append(i)
    out: dict[str, dict[str, Any]] = {}
    for protocol in sorted(set(protocol_of.values())):
        rows = delivered_by.get(protocol, [])
        got = [i for i in rows if retrieved_at[i] is not None]
        copies = [holders.get((mids[i], rcpts[i]), 0) for i in rows]
        everywhere = sum(n >= devices_of[rcpts[i]] for i, n in zip(rows, copies, strict=True))
        out[protocol] = {
            "users": sum(1 for p in protocol_of.values() if p == protocol),
            "delivered": len(rows),
            "retrieved": len(got),
            "retrievals": sum(copies),
            "every_device_share": (everywhere / len(rows)) if rows else None,
            "retrieval_latency_s": stats([retrieved_at[i] - delivered_at[i] for i in got]),
            "end_to_end_latency_s": stats([retrieved_at[i] - submitted_at[i] for i in got]),
        }
    return out


def device_protocols(records: Sequence[Record] | LogColumns) -> dict[str, str]:
    """User address -> the access protocol of its devices, from the ``device`` records."""
    log = log_columns(records)
    return {log.values[i][0]: log.values[i][2] for i in log.where("device")}  # rcpt -> protocol


# ---- writers ----------------------------------------------------------------------------------


def write_rows(path: Path, columns: Sequence[str], rows: Iterable[dict[str, Any]]) -> None:
    """A CSV table of rows (dicts keyed by column name); see :func:`write_table`."""
    write_csv(path, columns, columns_of(rows, columns))


def write_table(path: Path, columns: Sequence[str], data: Columns) -> None:
    """A CSV table of columns: None as an empty cell, floats as their exact shortest text
    (:mod:`simulator.csv_columns`, which writes what the csv module would)."""
    write_csv(path, columns, [data[name] for name in columns])


def write_events(path: Path, records: Sequence[Record] | LogColumns) -> None:
    """events.csv: each record's typed values as its ``detail`` text (:func:`eventkinds.detail_texts`)."""
    log = log_columns(records)
    details = detail_texts(log.events, log.values, log.groups)
    write_csv(path, EVENT_COLUMNS, [log.times, log.events, log.message_ids, log.nodes, details])


def write_json(path: Path, data: dict[str, Any]) -> None:
    path.write_text(json.dumps(data, indent=2) + "\n")
