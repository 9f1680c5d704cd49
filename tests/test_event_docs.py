"""docs/events.md says what the log writes: every event, its detail keys, and the values of its
enumerated keys (codes, reasons, ...).

The tables of docs/events.md are parsed: in the ``detail`` column, the backticked names outside
parentheses are the keys, and the backticked words inside the parentheses after an enumerated
key are its documented values. Then the scenarios of ``scenarios/`` and one with random outages
of links and servers on slow links (cut sessions before and after acceptance, duplicates,
failed submissions of both kinds) are run, and every record is checked against the tables;
every documented event and key must also occur in these runs, so the tables list nothing
the code does not write.
"""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

import pytest
from conftest import run_yaml

from simulator import Result, load_scenario, run
from simulator.eventlog import fields

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "events.md"
# Keys whose documented values are the whole set of values the log may write.
ENUMERATED = ("code", "reason", "why", "accepted", "kind", "seen", "where")
SKIPPED_SCENARIOS = {"realistic.yaml"}  # slow, and it adds no event the others lack

CHAOS = """
name: chaos
seed: 4
duration: 4h
network:
  links:
    - {between: [lan.a, mx.a], latency: 1s}
    - {between: [mx.a, mx.b], latency: 1s}
    - {between: [lan.b, mx.b], latency: 1s}
servers:
  mx.a: {domains: [a.example]}
  mx.b: {domains: [b.example], max_message_size: 50KB}
defaults:
  retry: {policy: fixed, interval: 10m, give_up: 1h, warn_after: 20m}
users:
  - {address: ann@a.example, at: lan.a}
  - {address: bob@b.example, at: lan.b, access: {protocol: pop3, poll: 2m, devices: 2, keep: true}}
traffic:
  - {from: a.example, to: b.example, rate: 60/h, size: {choice: [[5KB, 9], [100KB, 1]]}}
messages:
  - {at: 5m, from: ann@a.example, to: [nobody@b.example], size: 1KB}
  - {at: 6m, from: ann@a.example, to: [nobody@a.example], size: 1KB}
outages:
  - {target: lan.a--mx.a, mtbf: 20m, mttr: 3m}
  - {target: mx.a--mx.b, mtbf: 20m, mttr: 3m}
  - {target: mx.b, mtbf: 40m, mttr: 1h}
"""

# Destination state: mail for a server that stays down, sent by a Postfix and by an Exim preset,
# so jobs are held without a connection for both reasons.
DEAD = """
name: dead-destination
seed: 1
duration: 1h
network:
  links:
    - {between: [mx.a, core], latency: 5ms}
    - {between: [mx.c, core], latency: 5ms}
    - {between: [core, mx.b], latency: 5ms}
servers:
  mx.a: {domains: [a.example], retry: {policy: postfix, give_up: 3h}}
  mx.c: {domains: [c.example], retry: {policy: exim, rule: "F,2h,15m", give_up: 2h}}
  mx.b: {domains: [b.example]}
users:
  - {address: ann@a.example, at: mx.a}
  - {address: cat@c.example, at: mx.c}
  - {address: bob@b.example, at: mx.b}
messages:
  - {at: 1m, from: ann@a.example, to: [bob@b.example], size: 1KB}
  - {at: 2m, from: ann@a.example, to: [bob@b.example], size: 1KB}
  - {at: 1m, from: cat@c.example, to: [bob@b.example], size: 1KB}
  - {at: 2m, from: cat@c.example, to: [bob@b.example], size: 1KB}
outages:
  - {target: mx.b, start: 0s, duration: 5h}
"""

# Capacity limits: mx.a's queue holds one message (452 to submissions and to mx.b's relay),
# mx.b takes one session at a time and two messages per client per 10 minutes (421), mx.c
# throttles at RCPT (450) and processes on one worker.
CAPACITY = """
name: capacity-events
duration: 20m
network:
  links:
    - {between: [lan.a, mx.a], latency: 5ms}
    - {between: [mx.a, mx.b], latency: 50ms}
    - {between: [lan.b, mx.b], latency: 5ms}
    - {between: [lan.c, mx.c], latency: 5ms}
servers:
  mx.a: {domains: [a.example], queue_limit: 1}
  mx.b: {domains: [b.example], max_inbound: 1, rate_limit: {messages: 2, per: 10m}}
  mx.c: {domains: [c.example], workers: 1, processing: 1s, rate_limit: {messages: 1, per: 10m, reply: rcpt}}
defaults:
  retry: {policy: fixed, interval: 5m}
users:
  - {group: {prefix: a, count: 3, domain: a.example}, at: lan.a}
  - {group: {prefix: b, count: 2, domain: b.example}, at: lan.b}
  - {group: {prefix: c, count: 2, domain: c.example}, at: lan.c}
messages:
  - {at: 0, from: a001@a.example, to: b001@b.example, size: 1KB}
  - {at: 0.1, from: a002@a.example, to: b002@b.example, size: 1KB}
  - {at: 0.2, from: a003@a.example, to: b001@b.example, size: 1KB}
  - {at: 0.3, from: a001@a.example, to: b002@b.example, size: 1KB}
  - {at: 0.1, from: b002@b.example, to: b001@b.example, size: 1KB}
  - {at: 200, from: b001@b.example, to: a001@a.example, size: 1KB}
  - {at: 3, from: a001@a.example, to: a003@a.example, size: 1KB}
  - {at: 0, from: c001@c.example, to: c002@c.example, size: 1KB}
  - {at: 1, from: c002@c.example, to: c001@c.example, size: 1KB}
"""


def _split_top(text: str) -> list[tuple[str, str]]:
    """``"`a` (x, `b`), `c`"`` -> [("a", "x, `b`"), ("c", "")]: each top-level backticked name
    with the text of the parentheses that follow it."""
    out: list[tuple[str, str]] = []
    depth = 0
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "(":
            depth += 1
            if depth == 1 and out:
                start = i + 1
        elif ch == ")":
            depth -= 1
            if depth == 0 and out and not out[-1][1]:
                out[-1] = (out[-1][0], text[start:i])
        elif ch == "`" and depth == 0:
            end = text.index("`", i + 1)
            out.append((text[i + 1:end], ""))
            i = end
        i += 1
    return out


def documented() -> dict[str, dict[str, set[str] | None]]:
    """event -> key -> its documented values (None: not an enumerated key, any value)."""
    events: dict[str, dict[str, set[str] | None]] = {}
    section = DOC.read_text().split("## Events", 1)[1].split("## A message's life", 1)[0]
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 5 or not re.fullmatch(r"`[a-z_]+`", cells[0]):
            continue
        keys: dict[str, set[str] | None] = {}
        for key, note in _split_top(cells[3]):
            values = set(re.findall(r"`([^`]+)`", note))
            keys[key] = values if key in ENUMERATED and values else None
        events[cells[0].strip("`")] = keys
    return events


@pytest.fixture(scope="module")
def results() -> list[Result]:
    paths = sorted(p for p in (ROOT / "scenarios").glob("*.yaml") if p.name not in SKIPPED_SCENARIOS)
    return [run(load_scenario(p)) for p in paths] + [run_yaml(CHAOS), run_yaml(DEAD), run_yaml(CAPACITY)]


def test_the_tables_parse() -> None:
    docs = documented()
    assert docs["bounced"]["reason"] == {"refused", "expired", "submission"}
    assert docs["server_down"] == {}
    assert set(docs["created"]) >= {"kind", "from", "sender", "to", "size", "wire", "about", "code"}


def test_every_record_is_documented(results: list[Result]) -> None:
    docs = documented()
    for result in results:
        for time_s, event, _mid, _node, detail in result.records:
            assert event in docs, f"{result.scenario.name}: event {event!r} is not in docs/events.md"
            for key, value in fields(detail).items():
                assert key in docs[event], f"{event}: key {key!r} ({detail}) is not documented"
                allowed = docs[event][key]
                if allowed is not None and not (event == "bounced" and key == "code"):
                    assert value in allowed, f"{event}: {key}={value} at {time_s} ({result.scenario.name}) " \
                                             f"is not among the documented {sorted(allowed)}"


def test_a_bounce_on_expiry_carries_the_last_failures_code(results: list[Result]) -> None:
    """bounced's code is a refusal's (550, 552, 554), or on expiry one of deferred's codes."""
    docs = documented()
    refusals, deferrals = docs["bounced"]["code"], docs["deferred"]["code"]
    assert refusals and deferrals
    for result in results:
        for _t, event, _mid, _node, detail in result.records:
            if event == "bounced":
                f = fields(detail)
                assert f["code"] in (deferrals if f["reason"] == "expired" else refusals), detail


def test_every_documented_event_key_and_value_occurs(results: list[Result]) -> None:
    seen: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for result in results:
        for _t, event, _mid, _node, detail in result.records:
            seen[event][""].add("")
            for key, value in fields(detail).items():
                seen[event][key].add(value)
    for event, keys in documented().items():
        assert event in seen, f"docs/events.md documents {event!r}, which no run wrote"
        for key, values in keys.items():
            assert key in seen[event], f"{event}: documented key {key!r} never written"
            if values is not None and not (event == "bounced" and key == "code"):
                missing = values - seen[event][key]
                assert not missing, f"{event}: {key} values {missing} never written"


def test_submit_failed_codes(results: list[Result]) -> None:
    """421 when the home server does not answer (30 s after the try) or refuses at the greeting,
    451 when a session is cut, 452 and 450 when a capacity limit defers the recipients."""
    codes = {fields(d)["code"] for r in results for _t, e, _m, _n, d in r.records if e == "submit_failed"}
    assert codes == {"421", "451", "452", "450"}
