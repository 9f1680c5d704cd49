"""A single self-contained HTML report of a run, to share it: summary tables and the plots.

The page has no external assets: styles are inline and every plot is a PNG embedded as a
base64 ``data:`` URI. It holds no timestamp, so the same result gives the same file.
"""

from __future__ import annotations

import base64
import html
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from . import __version__
from .load_summary import most_loaded_lines
from .plots import short_duration
from .results import final_mail, stats
from .wording import counted

__all__ = ["render_report", "write_report"]

MAX_PROBLEM_ROWS = 25

CAPTIONS: dict[str, str] = {
    "latency_cdf": "Delivery latency (submitted to mailbox) and end-to-end latency (to the first device), over all "
                   "mail pairs: bounced, pending and unread pairs keep a curve below 1.",
    "latency_by_domain": "Delivery latency per destination domain, over all its mail pairs: a curve levels off at "
                         "the share delivered.",
    "latency_by_protocol": "End-to-end latency and waiting in the mailbox per retrieval protocol, over all mail "
                           "pairs to its users.",
    "queue_length": "Outgoing queue length of each server; red: the server down, grey: links down that cut it off "
                    "from a server it relays to.",
    "attempts": "Delivery attempts per mail (message, recipient) pair, by final status.",
    "time_breakdown": "Where the time went: queue wait, SMTP sessions, waiting in the mailbox.",
    "topology": "The network: servers, users' sites, links with one-way latency and bandwidth.",
    "links": "Utilisation of each limited link per direction, per time bin (links.csv).",
    "servers": "Outgoing queue and open inbound sessions of each server, the maximum of each time bin (servers.csv).",
}

_STYLE = """
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:2em auto;max-width:1150px;color:#222;
padding:0 1em}
h1{font-size:1.6em;margin-bottom:.2em}h2{font-size:1.25em;margin-top:1.8em;border-bottom:1px solid #ccc}
table{border-collapse:collapse;margin:.6em 0;font-size:.92em}
th,td{border:1px solid #ccc;padding:.25em .6em;text-align:right}th{background:#f2f2f2}
td.l,th.l{text-align:left}.muted{color:#666;font-size:.9em}
figure{margin:1.2em 0}figure img{max-width:100%;border:1px solid #ddd}figcaption{color:#555;font-size:.9em}
pre{background:#f7f7f7;padding:.8em;overflow:auto;font-size:.85em}
""".strip()


def _e(value: object) -> str:
    return html.escape(str(value))


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    return f'<span title="{seconds!r} s">{_e(short_duration(seconds))}</span>'


def _table(header: Sequence[str], rows: Iterable[Sequence[str]], left: int = 1) -> str:
    """An HTML table; cells are already HTML; the first ``left`` columns are left-aligned."""
    head = "".join(f'<th class="{"l" if i < left else ""}">{_e(h)}</th>' for i, h in enumerate(header))
    body = "".join(
        "<tr>" + "".join(f'<td class="{"l" if i < left else ""}">{c}</td>' for i, c in enumerate(row)) + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _counts(summary: Mapping[str, Any]) -> str:
    c = summary["counts"]
    labels: tuple[tuple[str, str], ...] = (
        ("submitted", "mail (message, recipient) pairs submitted"), ("delivered", "delivered"),
        ("bounced", "bounced"), ("pending", "still pending at the end"), ("duplicates", "duplicate deliveries"),
        ("messages", "mail messages"), ("bounces_sent", "bounces (DSNs) sent"),
        ("warnings_sent", "delay warnings sent"))
    if "expanded" in c:
        labels += (("expanded", "pairs taken by mailing lists and aliases (their members counted above)"),)
    return _table(("count", "value"), ((_e(label), _e(c.get(key, 0))) for key, label in labels))


def _latencies(summary: Mapping[str, Any]) -> str:
    rows = []
    for key, label in (("latency_s", "delivery: submitted to mailbox"),
                       ("retrieval_latency_s", "retrieval: mailbox to first device"),
                       ("end_to_end_latency_s", "end to end: submitted to first device")):
        st = summary.get(key) or {}
        rows.append((_e(label), _e(st.get("count", 0)),
                     *(_duration(st.get(q)) for q in ("mean", "p50", "p90", "p99", "max"))))
    return _table(("latency", "pairs", "mean", "p50", "p90", "p99", "max"), rows)


def _by_domain(deliveries: Sequence[Mapping[str, Any]]) -> str:
    groups: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for r in final_mail(deliveries):
        groups[r["recipient"].rpartition("@")[2]].append(r)
    rows = []
    for domain, items in sorted(groups.items()):
        latency = stats([r["latency_s"] for r in items if r["status"] == "delivered"])
        rows.append((_e(domain), _e(len(items)), *(_e(sum(r["status"] == s for r in items))
                                                   for s in ("delivered", "bounced", "pending")),
                     _duration(latency["p50"]), _duration(latency["p99"]), _duration(latency["max"])))
    return _table(("destination domain", "pairs", "delivered", "bounced", "pending", "p50", "p99", "max"), rows)


def _by_protocol(summary: Mapping[str, Any]) -> str:
    per = summary.get("retrieval_by_protocol") or {}
    if not per:
        return '<p class="muted">No user reads mail with a device in this run.</p>'
    rows = []
    for protocol, p in per.items():
        wait, e2e = p["retrieval_latency_s"], p["end_to_end_latency_s"]
        share = "-" if p["every_device_share"] is None else f"{p['every_device_share']:.0%}"
        rows.append((_e(protocol), _e(p["users"]), _e(p["delivered"]), _e(p["retrieved"]), _e(p["retrievals"]),
                     _e(share), _duration(wait["p50"]), _duration(wait["p99"]), _duration(e2e["p50"]),
                     _duration(e2e["p99"])))
    return _table(("protocol", "users", "mail pairs delivered", "retrieved", "device retrievals",
                   "on every device", "mailbox wait p50", "p99", "end to end p50", "p99"), rows)


def _problems(deliveries: Sequence[Mapping[str, Any]]) -> str:
    bad = [r for r in final_mail(deliveries) if r["status"] != "delivered"]
    if not bad:
        return '<p class="muted">Every mail pair was delivered.</p>'
    rows = [(_e(r["message_id"]), _e(r["recipient"]), _e(r["status"]), _e(r["code"]), _e(r["attempts"]),
             _duration(r["submitted_at"])) for r in bad[:MAX_PROBLEM_ROWS]]
    more = len(bad) - len(rows)
    note = f'<p class="muted">... and {more} more (see deliveries.csv).</p>' if more > 0 else ""
    hint = ('<p class="muted">Draw one message\'s journey with <code>mailsim plot DIR --message ID</code>.</p>')
    return _table(("message", "recipient", "status", "code", "attempts", "submitted at"), rows, left=3) + note + hint


def _queues(summary: Mapping[str, Any]) -> str:
    peaks = summary.get("peak_queue", {})
    return _table(("server", "peak queue (messages)"), ((_e(k), _e(v)) for k, v in peaks.items()))


def _figures(images: Mapping[str, bytes]) -> str:
    parts = []
    for name, png in images.items():
        data = base64.b64encode(png).decode("ascii")
        caption = CAPTIONS.get(name, name)
        parts.append(f'<figure id="{_e(name)}"><img alt="{_e(caption)}" src="data:image/png;base64,{data}">'
                     f"<figcaption>{_e(caption)}</figcaption></figure>")
    return "\n".join(parts) or '<p class="muted">No plots.</p>'


def _loads(summary: Mapping[str, Any]) -> str:
    lines = [line.strip() for line in most_loaded_lines(summary.get("loads"))]
    if not lines:
        return '<p class="muted">no load tables in this result</p>'
    return "".join(f"<p>{_e(line)}</p>" for line in lines)


def render_report(result: Any, images: Mapping[str, bytes]) -> str:
    """The report page for ``result`` (a :class:`simulator.runner.Result`) with ``images`` (name -> PNG)."""
    s = result.summary
    t = result.tables
    a = s["attempts"]
    mean_attempts = "-" if a.get("mean") is None else f"{a['mean']:.3f}"
    sections = [
        ("Counts", _counts(s)),
        ("Latency", _latencies(s)),
        ("By destination domain", _by_domain(t.deliveries)),
        ("Retrieval by protocol", _by_protocol(s)),
        ("Attempts and queues", _table(("attempts", "value"), (("total", _e(a.get("total", 0))),
                                                               ("mean per pair", _e(mean_attempts)),
                                                               ("max", _e(a.get("max", 0))))) + _queues(s)),
        ("Where capacity runs out", _loads(s)),
        ("Mail not delivered", _problems(t.deliveries)),
        ("Plots", _figures(images)),
        ("Effective scenario", f"<details><summary>scenario.yaml</summary><pre>"
                               f"{_e(result.scenario.to_effective_yaml())}</pre></details>"),
    ]
    body = "\n".join(f"<h2>{_e(title)}</h2>\n{content}" for title, content in sections)
    return (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        f'<meta name="mailsim-run-id" content="{_e(s["run_id"])}">\n'
        f"<title>mailsim report: {_e(s['name'])}</title>\n<style>{_STYLE}</style>\n</head>\n<body>\n"
        f"<h1>mailsim report: {_e(s['name'])}</h1>\n{_partial(s)}"
        f'<p class="muted">seed {_e(s["seed"])}; simulated {_e(short_duration(s["end_time_s"]))} '
        f"({s['end_time_s']:.3f} s); {_e(counted(s['events'], 'event'))}; mailsim {_e(__version__)}, "
        f"run {_e(s['run_id'])}. "
        "Times are simulated; hover a duration for its exact value in seconds.</p>\n"
        f"{body}\n</body>\n</html>\n"
    )


def _partial(s: Mapping[str, Any]) -> str:
    """The banner of a run interrupted before its end (empty for a whole run)."""
    if not s.get("partial"):
        return ""
    return ('<p class="partial" style="border:2px solid #c60;padding:.5em">Partial result: the run was interrupted '
            f"at simulated {_e(short_duration(s['end_time_s']))} ({s['end_time_s']:.3f} s). Every table covers the "
            "simulation up to then; mail neither delivered nor bounced by then is pending.</p>\n")


def write_report(result: Any, path: Path, images: Mapping[str, bytes]) -> Path:
    """Write the report to ``path`` (its folder created if needed); returns the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_report(result, images), encoding="utf-8")
    return path
