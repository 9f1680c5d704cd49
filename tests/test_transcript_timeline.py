"""Transcripts and the event log tell one timeline: in seeded random worlds with outages, every
moment a transcript shows that the simulation also logged is at exactly the logged time.

A transcript's lines are the protocol's dialogue layout placed from what each session recorded
(:mod:`simulator.protocols.dialogue`); the simulation waited on the same layout. So, to the last
bit of the float: the server's ``250 ... queued as`` is at the ``accepted`` (and ``sent``) time;
the client's first line after a permanent refusal is at the refusal's ``bounced`` time (it
learns of it then, and goes on); a connect's time-out note is at ``connect_failed`` /
``submit_failed``; a cut is at ``session_cut`` / ``submit_failed``; and an IMAP IDLE's
``* N EXISTS`` leaves the server at the message's ``delivered`` time.
"""

from __future__ import annotations

import random
import re
from collections import Counter
from itertools import pairwise
from typing import Any

import pytest

from simulator import load_scenario, run
from simulator.eventkinds import text_fields
from simulator.protocols import smtp
from simulator.protocols.dialogue import lay_out, span_d
from simulator.runner import Result
from simulator.transcript.build import build_conversations
from simulator.transcript.conversation import Conversation


def world(index: int) -> str:
    """A small world with outages (two of them cutting a large message's relay and submission), a
    server without PIPELINING, a size limit, unknown and greylisted recipients and every retrieval
    protocol; drawn from a generator seeded by ``index``."""
    draw = random.Random(7000 + index)
    return f"""
name: timeline-{index}
seed: {draw.randint(1, 10**6)}
duration: 90m
network:
  links:
    - {{between: [lan.a, mx.a], latency: {draw.randint(1, 5)}ms, bandwidth: 100Mbps}}
    - {{between: [mx.a, core], latency: {draw.randint(0, 30)}.{draw.randint(0, 999):03d}ms, bandwidth: 8Mbps}}
    - {{between: [core, mx.b], latency: {draw.randint(1, 30)}.{draw.randint(0, 999):03d}ms, bandwidth: 5Mbps}}
    - {{between: [core, mx.c], latency: {draw.randint(1, 9)}ms}}
    - {{between: [lan.b, mx.b], latency: 2ms, bandwidth: 20Mbps}}
servers:
  mx.a: {{domains: [a.test], retry: {{policy: fixed, interval: 5m}}}}
  mx.b: {{domains: [b.test], pipelining: false, max_message_size: 400KB, eight_bit_mime: false}}
  mx.c: {{domains: [c.test], greylisting: {{delay: 2m}}}}
users:
  - {{group: {{prefix: a, count: 4, domain: a.test}}, at: lan.a, access: {{protocol: http, poll: 6m}}}}
  - {{group: {{prefix: b, count: 4, domain: b.test}}, at: lan.b, access: {{protocol: imap, devices: 2}}}}
  - {{group: {{prefix: p, count: 2, domain: b.test}}, at: lan.b, access: {{protocol: pop3, poll: 5m}}}}
  - {{group: {{prefix: c, count: 3, domain: c.test}}, at: mx.c, access: {{protocol: imap, idle: false, poll: 4m}}}}
traffic:
  - {{from: a.test, to: b.test, rate: 40/h, recipients: {{choice: [[1, 2], [3, 1]]}},
     size: {{lognormal: {{median: 100KB, sigma: 1.2}}}}, eight_bit: 0.3}}
  - {{from: a.test, to: c.test, rate: 20/h, recipients: 2, size: 30KB}}
  - {{from: b.test, to: a.test, rate: 20/h, size: 20KB}}
messages:
  - {{at: 3m, from: a001@a.test, to: [nobody@b.test, b001@b.test, none@b.test], size: 5KB}}
  - {{at: 4m, from: a002@a.test, to: [nobody@c.test, c001@c.test], size: 5KB}}
  - {{at: 5m, from: a003@a.test, to: [nobody@b.test, none@b.test], size: 5KB}}
  - {{at: 6m, from: a001@a.test, to: [b002@b.test, b003@b.test], size: 900KB}}
  - {{at: 7m, from: a001@a.test, to: [c001@c.test], size: 9MB}}
  - {{at: 8m, from: a002@a.test, to: [c002@c.test], size: 9MB}}
outages:
  - {{target: mx.b, start: {draw.randint(10, 40)}m, duration: {draw.randint(2, 15)}m}}
  - {{target: mx.a--core, start: {draw.randint(20, 60)}m, duration: {draw.randint(1, 10)}m}}
  - {{target: core--mx.c, start: 425s, duration: 1m}}
  - {{target: lan.a--mx.a, start: 480.3s, duration: 30s}}
  - {{target: core--mx.c, mtbf: 40m, mttr: 4m}}
  - {{target: lan.b--mx.b, mtbf: 30m, mttr: 2m}}
"""


@pytest.fixture(scope="module", params=range(4), ids=lambda i: f"world-{i}")
def traced(request: pytest.FixtureRequest) -> tuple[Result, list[Conversation]]:
    scenario = load_scenario(world(request.param))
    result = run(scenario, trace=True)
    assert result.traces is not None
    return result, build_conversations(result.traces, result.records, scenario, result.end_time_s)


def records(result: Result, *events: str) -> list[tuple[float, str, str, dict[str, str]]]:
    return [(t, m, node, text_fields(e, d)) for t, e, m, node, d in result.records if e in events]


def smtp_convs(convs: list[Conversation]) -> list[Conversation]:
    return [c for c in convs if c.protocol in ("smtp", "submission")]


def test_the_250_for_the_data_is_sent_at_the_logged_acceptance(traced: Any) -> None:
    result, convs = traced
    shown = Counter((c.message_ids[0], c.client, c.server, t) for c in smtp_convs(convs)
                    for t, side, text, _ in c.lines() if side == "S" and "Ok: queued as" in text)
    accepted = Counter((m, f["from"], node, t) for t, m, node, f in records(result, "accepted"))
    sent = Counter((m, node, f["host"], t) for t, m, node, f in records(result, "sent"))
    submissions = sum(n for (m, client, _, _), n in accepted.items() if not client.startswith("mx."))
    assert sum(sent.values()) >= 30 and submissions >= 30
    assert shown == accepted
    assert not sent - accepted  # a relay's sent is its acceptance, as the receiving server logged it


def test_the_client_goes_on_the_moment_the_log_says_it_learned_of_a_refusal(traced: Any) -> None:
    result, convs = traced
    learned: set[tuple[str, str, float]] = set()
    refused_rcpts: set[tuple[str, str, str, float]] = set()
    for conv in smtp_convs(convs):
        lines = conv.lines()
        mid = conv.message_ids[0]
        for i, (_, side, text, _) in enumerate(lines):
            if side != "S" or not re.match(r"5(50|52|54) ", text) or "no valid recipients" in text:
                continue
            after = [t for t, s, _, _ in lines[i + 1:] if s == "C"]
            if not after:  # cut before the client heard it
                continue
            learned.add((mid, conv.client, after[0]))
            if "<" in text:  # a RCPT's reply names its recipient (MAIL's 552 refuses them all)
                refused_rcpts.add((mid, conv.client, text.split("<", 1)[1].split(">", 1)[0], after[0]))
    bounced = [(m, node, f["rcpt"], t) for t, m, node, f in records(result, "bounced")
               if f["reason"] in ("refused", "submission")]
    codes = {f["code"] for _, _, _, f in records(result, "bounced") if f["reason"] == "refused"}
    assert len(bounced) >= 6 and codes == {"550", "552"}
    assert learned == {(m, node, t) for m, node, _, t in bounced}
    assert refused_rcpts and refused_rcpts <= set(bounced)


def test_a_connect_timeout_and_a_cut_are_where_the_log_has_them(traced: Any) -> None:
    result, convs = traced
    timed_out = Counter((c.message_ids[0], c.client, c.server, t) for c in smtp_convs(convs)
                        for t, _, text, _ in c.lines() if text.startswith("connect timed out"))
    logged = Counter((m, node, f["host"], t) for t, m, node, f in records(result, "connect_failed"))
    logged += Counter((m, node, f["host"], t) for t, m, node, f in records(result, "submit_failed")
                      if f["code"] == "421")
    assert sum(logged.values()) >= 3
    assert timed_out == logged
    cut = Counter((c.message_ids[0], c.client, c.server, c.cut_s) for c in smtp_convs(convs) if c.cut_s is not None)
    logged_cuts = Counter((m, node, f["host"], t) for t, m, node, f in records(result, "session_cut", "submit_failed")
                          if f.get("code", "451") == "451" and "host" in f)
    assert sum(logged_cuts.values()) >= 1
    assert cut == logged_cuts


def test_idle_exists_leaves_the_server_as_the_message_is_delivered(traced: Any) -> None:
    result, convs = traced
    delivered = {(f["rcpt"], t) for t, _, _, f in records(result, "delivered")}
    woken = []
    for conv in convs:
        lines = conv.lines()
        woken += [(conv.user, t) for (t, side, text, _), (_, _, after, _) in pairwise(lines)
                  if conv.protocol == "imap" and side == "S" and re.fullmatch(r"\* \d+ EXISTS", text)
                  and after == "DONE"]
    assert len(woken) >= 20
    assert set(woken) <= delivered


@pytest.mark.parametrize("pipelining", [True, False])
@pytest.mark.parametrize("rcpt_count", [1, 2, 5])
def test_a_session_of_one_transfer_waits_exactly_as_long_as_its_laid_out_stretches(pipelining: bool,
                                                                                   rcpt_count: int) -> None:
    """The lead-in the simulation waits is the sum of the stretches the transcript lays out:
    from the SYN, the data starts where the last stretch ends (RFC 5321's commands before DATA)."""
    dialogue = smtp.layout(pipelining, rcpt_count)
    placed, data_at = lay_out(dialogue.stretches, 0.0, 1.0)
    assert dialogue.lead_in_d == span_d(dialogue.stretches) == data_at == (8 if pipelining else 10 + 2 * rcpt_count)
    says = [line.says for _, line in placed]
    assert says.count("rcpt") == says.count("rcpt_reply") == rcpt_count and says[-1] == "data_reply"
    assert all(t1 <= t2 for (t1, _), (t2, _) in pairwise(placed))
