"""A transcript's client side, replayed as written against a real SMTP server (aiosmtpd on
127.0.0.1, an ephemeral port), is accepted: every reply has the code the transcript shows,
and the server receives the envelope (MAIL FROM with SIZE= and BODY=, each RCPT TO) and the
message data the transcript wrote. Groups of client lines sent at one instant are sent
together (PIPELINING); ``*`` lines are notes and are not sent.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from simulator import load_scenario, run
from simulator.transcript.build import build_conversations
from simulator.transcript.conversation import Conversation

pytest.importorskip("aiosmtpd")
from aiosmtpd.smtp import SMTP

WIRE = Path(__file__).resolve().parent.parent / "scenarios" / "wire.yaml"
TIMEOUT_S = 5.0

DSN_OVER_SMTP = """
name: dsn-over-smtp
duration: 10m
network:
  links:
    - {between: [lan.a, mx.a], latency: 1ms}
    - {between: [mx.a, mx.b], latency: 10ms}
    - {between: [mx.b, mx.c], latency: 10ms}
servers:
  mx.a: {domains: [a.example]}
  mx.b: {relay_for: [b.example]}
  mx.c: {domains: [b.example]}
dns:
  b.example: [{host: mx.b, preference: 10}]   # mx.b accepts for b.example and relays to mx.c
users:
  - {address: x@a.example, at: lan.a}
  - {address: y@b.example, at: mx.c}
messages:
  - {at: 1m, from: x@a.example, to: [nobody@b.example], size: 2KB}   # mx.c: 550, so mx.b bounces over SMTP
"""


class Recorder:
    """An aiosmtpd handler that keeps what it was given."""

    def __init__(self) -> None:
        self.envelopes: list[dict[str, Any]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.envelopes.append({"mail_from": envelope.mail_from, "rcpt_tos": list(envelope.rcpt_tos),
                               "mail_options": list(envelope.mail_options), "content": bytes(envelope.content)})
        return "250 2.0.0 Ok: queued"


@contextmanager
def smtp_server() -> Iterator[tuple[int, Recorder]]:
    """aiosmtpd listening on 127.0.0.1 (an ephemeral port) in a thread of its own."""
    loop = asyncio.new_event_loop()
    handler = Recorder()
    ready = threading.Event()
    state: dict[str, Any] = {}

    def serve() -> None:
        asyncio.set_event_loop(loop)
        server = loop.run_until_complete(
            loop.create_server(lambda: SMTP(handler, hostname="replay.test", timeout=TIMEOUT_S), "127.0.0.1", 0))
        state["port"] = server.sockets[0].getsockname()[1]
        ready.set()
        loop.run_forever()
        server.close()
        loop.run_until_complete(server.wait_closed())
        loop.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    assert ready.wait(TIMEOUT_S), "aiosmtpd did not start"
    try:
        yield state["port"], handler
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(TIMEOUT_S)


def steps(conv: Conversation) -> list[tuple[str, list[str]]]:
    """The transcript as groups of consecutive lines one side sent at one instant."""
    out: list[tuple[str, float, list[str]]] = []
    for time_s, side, text, _ in conv.lines():
        if side == "*":
            continue
        if out and out[-1][0] == side and out[-1][1] == time_s:
            out[-1][2].append(text)
        else:
            out.append((side, time_s, [text]))
    return [(side, lines) for side, _, lines in out]


def read_reply(stream: Any) -> list[str]:
    lines = []
    while True:
        line = stream.readline().decode("utf-8", errors="replace").rstrip("\r\n")
        assert line, "the server closed the connection"
        lines.append(line)
        if len(line) < 4 or line[3] == " ":
            return lines


def replay(conv: Conversation, port: int) -> list[tuple[str, str]]:
    """Send the client's lines as written; returns (expected code, got code) for every reply."""
    pairs = []
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT_S) as sock:
        stream = sock.makefile("rb")
        for side, lines in steps(conv):
            if side == "C":
                sock.sendall("".join(f"{line}\r\n" for line in lines).encode("utf-8"))
                continue
            expected = [line[:3] for line in lines if len(line) == 3 or line[3] == " "]
            for code in expected:
                got = read_reply(stream)
                pairs.append((code, got[-1][:3]))
    return pairs


@pytest.fixture(scope="module")
def wire_convs() -> list[Conversation]:
    scenario = load_scenario(WIRE)
    result = run(scenario, trace=True)
    return build_conversations(result.traces or [], result.records, scenario, result.end_time_s)


def one(convs: list[Conversation], mid: str, protocol: str, accepted: bool = True) -> Conversation:
    found = [c for c in convs if c.message_ids == [mid] and c.protocol == protocol and not c.connect_failed
             and any(text.startswith("250 2.0.0 Ok: queued") for _, _, text, _ in c.lines()) == accepted]
    return found[-1]


def sent_lines(conv: Conversation) -> list[str]:
    return [text for _, side, text, _ in conv.lines() if side == "C"]


@pytest.mark.parametrize(("mid", "protocol"), [("m2", "submission"), ("m2", "smtp"), ("m3", "submission")])
def test_a_real_server_accepts_the_transcript_as_written(wire_convs: list[Conversation], mid: str,
                                                         protocol: str) -> None:
    conv = one(wire_convs, mid, protocol)
    with smtp_server() as (port, handler):
        pairs = replay(conv, port)
    assert pairs and all(expected == got for expected, got in pairs), pairs
    assert [p[0] for p in pairs][-2:] == ["250", "221"]  # the message was queued, then goodbye
    (envelope,) = handler.envelopes
    lines = sent_lines(conv)
    mail = next(line for line in lines if line.startswith("MAIL FROM:"))
    assert envelope["mail_from"] == mail.split("<", 1)[1].split(">", 1)[0]
    assert envelope["rcpt_tos"] == [line[9:-1] for line in lines if line.startswith("RCPT TO:<")]
    assert sorted(envelope["mail_options"]) == sorted(mail.split(">", 1)[1].split())
    data = lines[lines.index("EHLO " + conv.client) + 1:]
    body = [line for line in data if not line.startswith(("MAIL FROM:", "RCPT TO:", "DATA", "QUIT"))][:-1]
    assert envelope["content"] == "".join(f"{line}\r\n" for line in body).encode("utf-8")


def test_a_greylisted_attempt_replays_up_to_its_quit(wire_convs: list[Conversation]) -> None:
    conv = one(wire_convs, "m1", "smtp", accepted=False)
    with smtp_server() as (port, handler):
        pairs = replay(conv, port)
    # aiosmtpd has no greylist: it accepts the RCPT the simulated server deferred
    assert pairs[:4] == [("220", "220"), ("250", "250"), ("250", "250"), ("450", "250")]
    assert pairs[-1] == ("221", "221") and not handler.envelopes


def test_a_bounce_crosses_smtp_with_the_null_sender() -> None:
    scenario = load_scenario(DSN_OVER_SMTP)
    result = run(scenario, trace=True)
    convs = build_conversations(result.traces or [], result.records, scenario, result.end_time_s)
    (conv,) = [c for c in convs if c.protocol == "smtp" and c.message_ids and c.message_ids[0].startswith("d")]
    assert sent_lines(conv)[1].startswith("MAIL FROM:<> SIZE=")
    with smtp_server() as (port, handler):
        pairs = replay(conv, port)
    assert all(expected == got for expected, got in pairs), pairs
    (envelope,) = handler.envelopes
    assert envelope["mail_from"] == "<>" and envelope["rcpt_tos"] == ["x@a.example"]  # aiosmtpd writes <> so
    content = envelope["content"].decode()
    assert "Content-Type: multipart/report; report-type=delivery-status" in content
    assert "Final-Recipient: rfc822; nobody@b.example" in content and "Status: 5.1.1" in content
