"""Tables and summary derived from the event log, and the writers of the result folder.

Every function here is a pure function of the log's records (plus the scenario for the
summary's header): nothing reaches back into the simulation. Times are written as Python's
shortest exact float text (sub-microsecond precision), so the same seed gives identical files.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from operator import itemgetter
from pathlib import Path
from typing import Any, TypeVar

from .eventkinds import detail_text
from .eventlog import Record

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

    attempts: int = 0
    delivered_at: float | None = None
    bounced_at: float | None = None
    retrieved_at: float | None = None
    code: str = ""
    duplicates: int = 0
    expanded: bool = False  # a list or alias took it (delivered_at is when)


@dataclass(slots=True)
class Tables:
    """The derived tables, as lists of rows (dicts keyed by column name)."""

    deliveries: list[dict[str, Any]] = field(default_factory=list)
    retrievals: list[dict[str, Any]] = field(default_factory=list)
    queues: list[dict[str, Any]] = field(default_factory=list)


def derive(records: Iterable[Record], servers: Sequence[str] = ()) -> Tables:
    """Build deliveries, retrievals and queue tables from the event log."""
    messages: dict[str, tuple[Any, ...]] = {}
    created_at: dict[str, float] = {}
    pairs: dict[tuple[str, str], _Pair] = {}
    added: dict[str, list[str]] = {}  # message id -> recipients aliases added, in order
    copy_of: dict[str, str] = {}  # a list's copy -> the message it copies
    tables = Tables()
    tables.queues = [{"time": 0.0, "server": s, "queue_length": 0} for s in servers]

    def pair(mid: str, rcpt: str) -> _Pair:
        p = pairs.get((mid, rcpt))
        if p is None:
            p = pairs[(mid, rcpt)] = _Pair()
        return p

    for time_s, event, mid, node, values in records:
        if event == "created":
            messages[mid] = values
            created_at[mid] = created_at[copy_of[mid]] if mid in copy_of else time_s  # a copy: the author's time
            for rcpt in values[3]:  # to
                pair(mid, rcpt)
        elif event == "attempt":
            for rcpt in values[0]:  # rcpts
                pair(mid, rcpt).attempts += 1
        elif event == "delivered":
            p = pair(mid, values[0])
            if p.delivered_at is None:
                p.delivered_at = time_s
                p.code = "250"
        elif event == "expanded":
            address, targets, copy = values[0], values[2], values[3]  # rcpt, via, to, copy
            p = pair(mid, address)
            if p.delivered_at is None:
                p.delivered_at, p.expanded, p.code = time_s, True, "250"
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
            pair(mid, values[0]).duplicates += 1
        elif event == "bounced":
            rcpt, code = values[0], values[1]
            p = pair(mid, rcpt)
            if p.bounced_at is None and p.delivered_at is None:
                p.bounced_at = time_s
                p.code = code
        elif event == "deferred":
            rcpts, code = values[0], values[1]
            for rcpt in rcpts:
                p = pair(mid, rcpt)
                if p.delivered_at is None and p.bounced_at is None:
                    p.code = code
        elif event == "retrieved":
            rcpt, device, protocol = values[0], values[1], values[2]
            p = pair(mid, rcpt)
            if p.retrieved_at is None:
                p.retrieved_at = time_s
            tables.retrievals.append({
                "message_id": mid, "recipient": rcpt, "device": device, "protocol": protocol, "retrieved_at": time_s,
            })
        elif event in ("enqueued", "dequeued"):
            tables.queues.append({"time": time_s, "server": node, "queue_length": values[0]})

    for mid, (kind, author, _sender, to, size, wire, about, _code) in messages.items():
        submitted = created_at[mid]
        for rcpt in (*to, *added[mid]) if mid in added else to:
            p = pairs[(mid, rcpt)]
            if p.expanded:
                status = "expanded"
            elif p.delivered_at is not None:
                status = "delivered"
            elif p.bounced_at is not None:
                status = "bounced"
            else:
                status = "pending"
            attempts = p.attempts
            if status in ("delivered", "expanded") and attempts == 0:
                attempts = 1  # delivered to a mailbox (or taken by a list) on the server it was at
            tables.deliveries.append({
                "message_id": mid, "kind": kind, "sender": author, "recipient": rcpt,
                "size_bytes": size, "wire_bytes": wire, "submitted_at": submitted,
                "delivered_at": p.delivered_at, "retrieved_at": p.retrieved_at, "attempts": attempts,
                "status": status, "code": p.code,
                "latency_s": None if p.delivered_at is None else p.delivered_at - submitted,
                "duplicates": p.duplicates, "about": about or "",
            })
    return tables


def final_mail(rows: Iterable[Row]) -> list[Row]:
    """The mail pairs of final recipients: kind ``mail``, without the pairs a list or alias took
    (status ``expanded``: its members' pairs are counted instead)."""
    return [r for r in rows if r["kind"] == "mail" and r["status"] != "expanded"]


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


def summarize(tables: Tables, records: Sequence[Record], header: dict[str, Any]) -> dict[str, Any]:
    """The summary: counts of (message, recipient) pairs of kind mail, DSNs apart, latencies.

    A pair a list or alias took (status ``expanded``) is counted apart, as ``expanded`` (a key
    present only when there are some): the others count final recipients. ``duplicates`` counts
    every duplicate delivery of mail, to a list or alias too.
    """
    mail = final_mail(tables.deliveries)
    expanded = sum(r["kind"] == "mail" and r["status"] == "expanded" for r in tables.deliveries)
    counts = {
        "submitted": len(mail),
        "delivered": sum(r["status"] == "delivered" for r in mail),
        "bounced": sum(r["status"] == "bounced" for r in mail),
        "pending": sum(r["status"] == "pending" for r in mail),
        "duplicates": sum(r["duplicates"] for r in tables.deliveries if r["kind"] == "mail"),  # lists' too
        "messages": len({r["message_id"] for r in mail}),
        "bounces_sent": sum(1 for r in records if r[1] == "bounce_sent"),
        "warnings_sent": sum(1 for r in records if r[1] == "warning_sent"),
    }
    if expanded:
        counts["expanded"] = expanded
    delivered = [r for r in mail if r["status"] == "delivered"]
    attempts = [r["attempts"] for r in mail]
    peak: dict[str, int] = {}
    for row in tables.queues:
        peak[row["server"]] = max(peak.get(row["server"], 0), row["queue_length"])
    retrieved = [r for r in mail if r["retrieved_at"] is not None]
    summary = {
        **header,
        "counts": counts,
        "latency_s": stats([r["latency_s"] for r in delivered]),
        "retrieval_latency_s": stats([r["retrieved_at"] - r["delivered_at"] for r in retrieved]),
        "end_to_end_latency_s": stats([r["retrieved_at"] - r["submitted_at"] for r in retrieved]),
        "attempts": {
            "total": sum(attempts),
            "mean": (sum(attempts) / len(attempts)) if attempts else None,
            "max": max(attempts, default=0),
        },
        "peak_queue": dict(sorted(peak.items())),
        "retrieval_by_protocol": by_protocol(tables, records),
        "events": len(records),
    }
    refused = refusals(records)
    if refused:  # only where a capacity limit refused something, so other summaries stay as they were
        summary["refusals"] = refused
    return summary


def refusals(records: Iterable[Record]) -> dict[str, dict[str, int]]:
    """Per server (in name order), its ``refused`` records counted by reply (``"421 4.7.0"``)."""
    counts: dict[str, dict[str, int]] = {}
    for _, event, _, node, values in records:
        if event == "refused":
            _client, code, status, _why = values
            by_code = counts.setdefault(node, {})
            reply = f"{code} {status}"
            by_code[reply] = by_code.get(reply, 0) + 1
    return {node: dict(sorted(by_code.items())) for node, by_code in sorted(counts.items())}


def by_protocol(tables: Tables, records: Sequence[Record]) -> dict[str, dict[str, Any]]:
    """Per access protocol: delivered mail pairs, how many reached a device and every device,
    retrieval latency (from delivery) and end-to-end latency (from submission)."""
    protocol_of = device_protocols(records)
    devices_of: dict[str, int] = {}
    for _t, event, _mid, _node, values in records:
        if event == "device":
            rcpt = values[0]
            devices_of[rcpt] = devices_of.get(rcpt, 0) + 1
    holders: dict[tuple[str, str], int] = {}
    for row in tables.retrievals:
        key = (row["message_id"], row["recipient"])
        holders[key] = holders.get(key, 0) + 1
    out: dict[str, dict[str, Any]] = {}
    for protocol in sorted(set(protocol_of.values())):
        rows = [r for r in tables.deliveries
                if r["kind"] == "mail" and r["status"] == "delivered" and protocol_of.get(r["recipient"]) == protocol]
        got = [r for r in rows if r["retrieved_at"] is not None]
        everywhere = sum(holders.get((r["message_id"], r["recipient"]), 0) >= devices_of[r["recipient"]] for r in rows)
        out[protocol] = {
            "users": sum(1 for p in protocol_of.values() if p == protocol),
            "delivered": len(rows),
            "retrieved": len(got),
            "retrievals": sum(holders.get((r["message_id"], r["recipient"]), 0) for r in rows),
            "every_device_share": (everywhere / len(rows)) if rows else None,
            "retrieval_latency_s": stats([r["retrieved_at"] - r["delivered_at"] for r in got]),
            "end_to_end_latency_s": stats([r["retrieved_at"] - r["submitted_at"] for r in got]),
        }
    return out


def device_protocols(records: Iterable[Record]) -> dict[str, str]:
    """User address -> the access protocol of its devices, from the ``device`` records."""
    return {r[4][0]: r[4][2] for r in records if r[1] == "device"}  # rcpt -> protocol


# ---- writers ----------------------------------------------------------------------------------


def cell(value: Any) -> str:
    """CSV text of a value: empty for None, exact shortest text for floats."""
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value)
    return str(value)


def write_rows(path: Path, columns: Sequence[str], rows: Iterable[dict[str, Any]]) -> None:
    """A CSV table; the csv module writes None as an empty cell and floats as their exact
    shortest text, which is what :func:`cell` would give."""
    with open(path, "w", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows(map(itemgetter(*columns), rows))


def event_rows(records: Iterable[Record]) -> Iterator[tuple[float, str, str, str, str]]:
    """The records in their readable form: each record's typed values as its ``detail`` text."""
    return ((t, e, m, n, detail_text(e, v)) for t, e, m, n, v in records)


def write_events(path: Path, records: Iterable[Record]) -> None:
    with open(path, "w", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(EVENT_COLUMNS)
        writer.writerows(event_rows(records))  # times as repr: the csv module writes floats that way


def write_json(path: Path, data: dict[str, Any]) -> None:
    path.write_text(json.dumps(data, indent=2) + "\n")
