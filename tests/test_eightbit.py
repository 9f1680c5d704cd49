"""8BITMIME (RFC 6152): an 8-bit text body travels as it is when both ends of a hop advertise
8BITMIME (the server key ``eight_bit_mime``, default on), and quoted-printable otherwise, with
the hop's size (and so its transfer time ``T``) to match: ``wire - text + qp(text)``.

Timing expectations are the contract's: a relay session starting at ``t0`` is accepted at
``t0 + 4.5 RTT + T`` with ``T = 8 * hop_bytes / bottleneck``.
"""

from __future__ import annotations

import email
import email.policy
from typing import Any

import pytest

from simulator import load_scenario, run
from simulator.eventkinds import text_fields
from simulator.message import quoted_printable_bytes
from simulator.pcap import write_pcap
from simulator.protocols.trace import SmtpTrace
from simulator.runner import Result
from simulator.transcript.build import build_conversations
from simulator.transcript.conversation import Conversation

EXACT = {"abs": 1e-9}
TEXT = 3000  # scripted size: 3KB of text, no attachment

SCENARIO = """
name: eightbit
duration: 1h
network:
  links:
    - {between: [lan.a, mx.a], latency: 1ms}
    - {between: [lan.d, mx.d], latency: 2ms, bandwidth: 1Mbps}
    - {between: [mx.a, core], latency: 10ms, bandwidth: 8Mbps}
    - {between: [mx.d, core], latency: 10ms, bandwidth: 8Mbps}
    - {between: [core, mx.b], latency: 10ms}
    - {between: [core, mx.c], latency: 10ms}
servers:
  mx.a: {domains: [a.example]}
  mx.b: {domains: [b.example], eight_bit_mime: false}
  mx.c: {domains: [c.example]}
  mx.d: {domains: [d.example], eight_bit_mime: false}
users:
  - {address: x@a.example, at: lan.a}
  - {address: v@d.example, at: lan.d}
  - {address: z@b.example, at: mx.b}
  - {address: y@c.example, at: mx.c}
messages:
  - {at: 1m, from: x@a.example, to: [y@c.example], size: 3KB, eight_bit: true}
  - {at: 2m, from: x@a.example, to: [z@b.example], size: 3KB, eight_bit: true}
  - {at: 3m, from: x@a.example, to: [z@b.example], size: 3KB}
  - {at: 4m, from: v@d.example, to: [y@c.example], size: 3KB, eight_bit: true}
  - {at: 5m, from: x@a.example, to: [z@b.example], size: 3KB, attachment: 10KB, eight_bit: true}
"""


@pytest.fixture(scope="module")
def result() -> Result:
    return run(load_scenario(SCENARIO), trace=True)


@pytest.fixture(scope="module")
def convs(result: Result) -> list[Conversation]:
    return build_conversations(result.traces or [], result.records, result.scenario, result.end_time_s)


def created(result: Result, mid: str) -> dict[str, str]:
    return next(text_fields(e, d) for _, e, m, _, d in result.records if e == "created" and m == mid)


def hop_sizes(result: Result, mid: str) -> dict[str, int]:
    """Bytes each SMTP hop of ``mid`` moved, by protocol (submission / smtp)."""
    return {t.protocol: t.size_bytes for t in result.traces or () if isinstance(t, SmtpTrace) and t.message_id == mid}


def accepted(result: Result, mid: str, node: str) -> float:
    return next(t for t, e, m, n, _ in result.records if e == "accepted" and m == mid and n == node)


def attempt(result: Result, mid: str) -> float:
    return next(t for t, e, m, _, _ in result.records if e == "attempt" and m == mid)


def qp_wire(result: Result, mid: str) -> int:
    return int(created(result, mid)["wire"]) - TEXT + quoted_printable_bytes(TEXT)


def test_both_ends_eight_bit_the_body_travels_as_is(result: Result) -> None:
    wire = int(created(result, "m1")["wire"])
    assert hop_sizes(result, "m1") == {"submission": wire, "smtp": wire}
    t0, rtt = attempt(result, "m1"), 2 * 0.020
    assert accepted(result, "m1", "mx.c") == pytest.approx(t0 + 4.5 * rtt + 8 * wire / 8e6, **EXACT)


@pytest.mark.parametrize("mid", ["m2", "m5"])
def test_a_receiver_without_8bitmime_gets_quoted_printable(result: Result, mid: str) -> None:
    wire = int(created(result, mid)["wire"])
    sizes = hop_sizes(result, mid)
    assert sizes["submission"] == wire
    assert sizes["smtp"] == qp_wire(result, mid) > wire  # attachments are base64 either way
    t0, rtt = attempt(result, mid), 2 * 0.020
    assert accepted(result, mid, "mx.b") == pytest.approx(t0 + 4.5 * rtt + 8 * qp_wire(result, mid) / 8e6, **EXACT)


def test_a_seven_bit_body_is_never_reencoded(result: Result) -> None:
    wire = int(created(result, "m3")["wire"])
    assert hop_sizes(result, "m3") == {"submission": wire, "smtp": wire}


def test_a_client_without_8bitmime_encodes_too(result: Result) -> None:
    # v@d submits to mx.d (no 8BITMIME) and mx.d relays to mx.c as a client without it
    qp = qp_wire(result, "m4")
    assert hop_sizes(result, "m4") == {"submission": qp, "smtp": qp}
    created_at = next(t for t, e, m, _, _ in result.records if e == "created" and m == "m4")
    rtt = 2 * 0.002
    assert accepted(result, "m4", "mx.d") == pytest.approx(created_at + 4.5 * rtt + 8 * qp / 1e6, **EXACT)


def test_transcripts_show_the_negotiation_and_the_encoding(convs: list[Conversation]) -> None:
    def session(mid: str, protocol: str) -> list[tuple[str, str]]:
        (conv,) = [c for c in convs if c.message_ids == [mid] and c.protocol == protocol]
        return [(side, text) for _, side, text, _ in conv.lines()]

    to_c = session("m1", "smtp")
    assert ("S", "250-8BITMIME") in to_c and ("C", "Content-Transfer-Encoding: 8bit") in to_c
    assert any(side == "C" and text.endswith("BODY=8BITMIME") for side, text in to_c)
    to_b = session("m2", "smtp")
    assert ("S", "250-8BITMIME") not in to_b and ("C", "Content-Transfer-Encoding: quoted-printable") in to_b
    assert not any(text.endswith("BODY=8BITMIME") for _, text in to_b)
    seven = session("m3", "submission")
    assert ("S", "250-8BITMIME") in seven and ("C", "Content-Transfer-Encoding: 7bit") in seven
    assert not any(text.endswith("BODY=8BITMIME") for _, text in seven)


def test_the_encoded_body_is_seven_bit_and_decodes_to_eight_bit_text(convs: list[Conversation]) -> None:
    for mid, protocol, eight in (("m2", "submission", True), ("m2", "smtp", False), ("m5", "smtp", False)):
        (conv,) = [c for c in convs if c.message_ids == [mid] and c.protocol == protocol]
        raw = next(s.body for s in conv.sends if s.body is not None).render()
        assert (max(raw) >= 128) == eight
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        text = (msg.get_body(("plain",)) or msg).get_content()
        assert any(ord(c) > 127 for c in text)


def test_the_capture_carries_the_encoded_size(convs: list[Conversation], result: Result, tmp_path: Any) -> None:
    (conv,) = [c for c in convs if c.message_ids == ["m2"] and c.protocol == "smtp"]
    path = write_pcap(tmp_path / "m2.pcap", [conv])
    raw = path.read_bytes()
    payload = 0
    offset = 24
    while offset < len(raw):
        caplen = int.from_bytes(raw[offset + 8: offset + 12], "little")
        frame = raw[offset + 16: offset + 16 + caplen]
        offset += 16 + caplen
        header = (frame[34 + 12] >> 4) * 4
        if int.from_bytes(frame[36:38], "big") == 25:  # client to server
            payload += len(frame) - 34 - header
    commands = sum(len(s.text.encode()) for s in conv.sends if s.side == "C" and s.body is None)
    assert payload - commands == qp_wire(result, "m2") + len(b".\r\n")


@pytest.mark.parametrize(("share", "encoded"), [(1.0, True), (0.0, False)])
def test_the_traffic_key_sets_the_share_of_eight_bit_messages(share: float, encoded: bool) -> None:
    text = SCENARIO.split("messages:")[0] + f"""
traffic:
  - {{from: x@a.example, to: b.example, rate: 30/h, size: 2KB, eight_bit: {share}}}
"""
    traced = run(load_scenario(text), trace=True)
    relays = [t for t in traced.traces or () if isinstance(t, SmtpTrace) and t.protocol == "smtp"
              and not t.connect_failed]
    assert len(relays) >= 10
    wires: dict[str, Any] = {t.message_id: int(created(traced, t.message_id)["wire"]) for t in relays}
    assert all((t.size_bytes != wires[t.message_id]) == encoded for t in relays)
