"""Transcripts (``simulator.transcript``, ``mailsim run --transcripts``, ``mailsim trace``).

Every time is checked against the timing contract's arithmetic (SCENARIO.md): with ``d`` the
path's one-way delay and ``T = 8 * bytes / bandwidth``, an SMTP session starting at ``t0`` has
the server's 220 at ``t0 + 3d`` (the handshake's last ACK arrives then), EHLO at ``t0 + 4d``,
... and the ``250 ... queued as`` at ``t0 + 4.5 RTT + T`` (pipelined) or ``(5.5 + n) RTT + T``.
The scenario is scenarios/wire.yaml: scripted messages, spaced so that no transfers overlap.
"""

from __future__ import annotations

import email
import email.policy
import io
import itertools
import json
import quopri
from pathlib import Path
from typing import Any

import pytest

from simulator import load_scenario, run
from simulator.cli import main
from simulator.cli_trace import format_session
from simulator.eventkinds import text_fields
from simulator.message import quoted_printable_bytes
from simulator.protocols.trace import SmtpTrace
from simulator.runner import Result
from simulator.transcript.build import build_conversations
from simulator.transcript.conversation import Conversation, node_addresses
from simulator.transcript.jsonl import read_transcripts, session_record

WIRE = Path(__file__).resolve().parent.parent / "scenarios" / "wire.yaml"
US = 1e-6  # "agree with the timing contract to the microsecond"
EXACT = {"abs": 1e-9}


@pytest.fixture(scope="module")
def wire() -> tuple[Any, Result, list[Conversation]]:
    scenario = load_scenario(WIRE)
    result = run(scenario, trace=True)
    return scenario, result, build_conversations(result.traces, result.records, scenario, result.end_time_s)


def latency(scenario: Any, *nodes: str) -> float:
    """One-way delay along the given chain of nodes."""
    return sum(scenario.link(a, b).latency_s for a, b in itertools.pairwise(nodes))


def bandwidth(scenario: Any, *nodes: str) -> float:
    return min(scenario.link(a, b).bandwidth_bps for a, b in itertools.pairwise(nodes))


def event(result: Result, name: str, mid: str = "", node: str = "") -> list[tuple[float, dict[str, str]]]:
    return [(t, text_fields(e, d)) for t, e, m, n, d in result.records
            if e == name and (not mid or m == mid) and (not node or n == node)]


def sessions(convs: list[Conversation], mid: str, protocol: str) -> list[Conversation]:
    return [c for c in convs if mid in c.message_ids and c.protocol == protocol]


def at(conv: Conversation, side: str, prefix: str, nth: int = 0) -> float:
    """The time of the ``nth`` line of ``side`` starting with ``prefix``."""
    times = [t for t, s, text, _ in conv.lines() if s == side and text.startswith(prefix)]
    assert len(times) > nth, f"no {side} line {prefix!r} in session {conv.seq}"
    return times[nth]


def texts(conv: Conversation, side: str) -> list[str]:
    return [text for _, s, text, _ in conv.lines() if s == side]


def wire_bytes(result: Result, mid: str) -> int:
    return int(event(result, "created", mid)[0][1]["wire"])


# ---- SMTP ----------------------------------------------------------------------------------------


def test_pipelined_submission_lines_follow_the_contract(wire: Any) -> None:
    scenario, result, convs = wire
    (conv,) = sessions(convs, "m1", "submission")
    d = latency(scenario, "office.alpha", "mx.alpha")
    size = wire_bytes(result, "m1")
    xfer = 8 * size / bandwidth(scenario, "office.alpha", "mx.alpha")
    t0 = event(result, "created", "m1")[0][0]
    assert conv.start_s == t0 and conv.port == 587
    expected = [("S", "220 mx.alpha", 3 * d), ("C", "EHLO office.alpha", 4 * d), ("S", "250-mx.alpha", 5 * d),
                ("S", "250-PIPELINING", 5 * d), ("S", "250 ENHANCEDSTATUSCODES", 5 * d),
                ("C", f"MAIL FROM:<alice@alpha.example> SIZE={size}", 6 * d),
                ("C", "RCPT TO:<bob@beta.example>", 6 * d),
                ("C", "DATA", 6 * d), ("S", "250 2.1.0", 7 * d), ("S", "250 2.1.5", 7 * d), ("S", "354 ", 7 * d),
                ("C", "Date: ", 8 * d), ("C", ".", 8 * d + xfer), ("S", "250 2.0.0 Ok: queued as", 9 * d + xfer),
                ("C", "QUIT", 10 * d + xfer), ("S", "221 ", 11 * d + xfer)]
    for side, prefix, offset in expected:
        assert at(conv, side, prefix) == pytest.approx(t0 + offset, **EXACT), prefix
    accepted = [t for t, f in event(result, "accepted", "m1", "mx.alpha")]
    assert at(conv, "S", "250 2.0.0 Ok: queued as") == pytest.approx(accepted[0], abs=US)
    assert at(conv, "S", "250 2.0.0") == pytest.approx(t0 + 4.5 * 2 * d + xfer, **EXACT)  # the contract's formula


def test_greylisted_relay_one_command_at_a_time(wire: Any) -> None:
    scenario, result, convs = wire
    first, second = sessions(convs, "m1", "smtp")
    d = latency(scenario, "mx.alpha", "core", "mx.beta")
    t0 = first.start_s
    assert t0 == pytest.approx(event(result, "attempt", "m1")[0][0], **EXACT)
    ehlo = [t for t in texts(first, "S") if t.startswith("250")][:4]
    assert "250-PIPELINING" not in ehlo and "250-8BITMIME" not in ehlo  # mx.beta: pipelining and 8BITMIME off
    assert at(first, "C", "MAIL FROM:") == pytest.approx(t0 + 6 * d, **EXACT)
    assert at(first, "C", "RCPT TO:<bob@beta.example>") == pytest.approx(t0 + 8 * d, **EXACT)
    assert at(first, "S", "450 4.7.1 <bob@beta.example>") == pytest.approx(t0 + 9 * d, **EXACT)
    assert "DATA" not in texts(first, "C")
    deferred = event(result, "rcpt_deferred", "m1")[0]
    assert deferred[1]["code"] == "450"
    assert at(first, "C", "QUIT") == pytest.approx(deferred[0], abs=US)  # the client knows at t0 + 5 RTT
    # the retry passes: n = 1 recipient, one command at a time, accepted at t0 + (5.5 + n) RTT + T
    t1 = second.start_s
    xfer = 8 * wire_bytes(result, "m1") / bandwidth(scenario, "mx.alpha", "core", "mx.beta")
    assert at(second, "S", "250 2.1.5") == pytest.approx(t1 + 9 * d, **EXACT)
    assert at(second, "C", "DATA") == pytest.approx(t1 + 10 * d, **EXACT)
    assert at(second, "S", "354 ") == pytest.approx(t1 + 11 * d, **EXACT)
    queued = at(second, "S", "250 2.0.0 Ok: queued as")
    assert queued == pytest.approx(t1 + (5.5 + 1) * 2 * d + xfer, **EXACT)
    assert queued == pytest.approx(event(result, "accepted", "m1", "mx.beta")[0][0], abs=US)


def test_eight_bit_body_travels_as_is_or_quoted_printable(wire: Any) -> None:
    _, result, convs = wire
    size = wire_bytes(result, "m2")
    (submission,) = sessions(convs, "m2", "submission")
    assert f"MAIL FROM:<alice@alpha.example> SIZE={size} BODY=8BITMIME" in texts(submission, "C")
    assert "250-8BITMIME" in texts(submission, "S")
    assert "Content-Transfer-Encoding: 8bit" in texts(submission, "C")
    relay = sessions(convs, "m2", "smtp")[-1]
    qp_size = size - 3000 + quoted_printable_bytes(3000)  # scripted text body of 3KB
    assert f"MAIL FROM:<alice@alpha.example> SIZE={qp_size}" in texts(relay, "C")
    assert "Content-Transfer-Encoding: quoted-printable" in texts(relay, "C")
    body = next(s.body for s in relay.sends if s.body is not None)
    assert body is not None and body.size == qp_size
    raw = body.render()
    assert max(raw) < 128  # 7-bit clean on the wire
    text = email.message_from_bytes(raw, policy=email.policy.default).get_content()
    assert any(ord(c) > 127 for c in text)  # decodes to the 8-bit text
    assert quopri.decodestring(raw.split(b"\r\n\r\n", 2)[-1]).decode("utf-8")


def test_message_data_is_exactly_the_bytes_each_hop_moved(wire: Any) -> None:
    _, result, convs = wire
    checked = 0
    for conv in convs:
        trace_sizes = {t.seq: t.size_bytes for t in result.traces or () if isinstance(t, SmtpTrace)}
        for send in conv.sends:
            if send.body is None:
                continue
            raw = send.body.render()
            assert len(raw) == send.body.size
            if conv.protocol in ("smtp", "submission"):
                assert send.body.size == trace_sizes[conv.seq]
            assert raw.endswith(b"\r\n")
            for line in raw.split(b"\r\n")[:-1]:
                assert len(line) <= 998 and not line.startswith(b".")
            msg = email.message_from_bytes(raw, policy=email.policy.default)
            assert msg["Message-ID"] and msg["From"]
            checked += 1
    assert checked >= 8
    (submission,) = sessions(convs, "m3", "submission")
    raw = next(s.body for s in submission.sends if s.body is not None).render()
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert msg.get_content_type() == "multipart/mixed"
    (attachment,) = list(msg.iter_attachments())
    assert len(attachment.get_content()) == 40_000  # the scripted 40KB, base64-decoded


def test_dsn_is_an_rfc3464_multipart_report(wire: Any) -> None:
    _, result, convs = wire
    (bounce,) = event(result, "bounce_sent", "m4")
    dsn = bounce[1]["dsn"]
    (retrieval,) = [c for c in convs if dsn in c.message_ids]
    lines = texts(retrieval, "S")
    assert "Final-Recipient: rfc822; nobody@beta.example" in lines
    assert "Action: failed" in lines and "Status: 5.1.1" in lines
    raw = next(s.body for s in retrieval.sends if s.body is not None).render()
    assert len(raw) == wire_bytes(result, dsn)
    msg = email.message_from_bytes(raw, policy=email.policy.compat32)
    assert msg.get_content_type() == "multipart/report"
    assert msg.get_param("report-type") == "delivery-status"
    human, status, headers = msg.get_payload()
    assert (human.get_content_type(), status.get_content_type(), headers.get_content_type()) == (
        "text/plain", "message/delivery-status", "text/rfc822-headers")
    per_message, per_recipient = status.get_payload()
    assert per_message["Reporting-MTA"] == "dns; mx.alpha"
    assert per_recipient["Status"] == "5.1.1" and per_recipient["Action"] == "failed"
    assert "Message-ID: <m4@alpha.example>" in headers.get_payload()
    assert msg["From"].startswith("MAILER-DAEMON@mx.alpha")


def test_failed_connect_is_noted_with_its_timeout(wire: Any) -> None:
    _, result, convs = wire
    (failed,) = [c for c in convs if c.connect_failed]
    (connect_failed,) = event(result, "connect_failed")
    notes = [(t, text) for t, side, text, _ in failed.lines() if side == "*"]
    assert notes[0] == (failed.start_s, "SYN to mx.beta port 25: no answer")
    assert notes[1][0] == pytest.approx(connect_failed[0], abs=US)
    assert notes[1][1] == "connect timed out after 30 s"
    assert not failed.sends


# ---- retrieval -----------------------------------------------------------------------------------


def test_pop3_session_lines_and_times(wire: Any) -> None:
    scenario, result, convs = wire
    (conv,) = sessions(convs, "m2", "pop3")
    d = latency(scenario, "home.beta", "mx.beta")
    t0 = conv.start_s
    client = texts(conv, "C")
    assert client[:4] == ["USER carol@beta.example", 'PASS "********"', "STAT", "RETR 1"]
    assert client[-2:] == ["DELE 1", "QUIT"]
    assert at(conv, "C", "RETR 1") == pytest.approx(t0 + 10 * d, **EXACT)
    size = wire_bytes(result, "m2")
    assert f"+OK 1 {size}" in texts(conv, "S") and f"+OK {size} octets" in texts(conv, "S")
    (retrieved,) = event(result, "retrieved", "m2")
    xfer = 8 * size / bandwidth(scenario, "home.beta", "mx.beta")
    assert retrieved[0] == pytest.approx(t0 + 6 * 2 * d + xfer, **EXACT)  # the contract's POP3 row
    assert at(conv, "S", ".") + d == pytest.approx(retrieved[0], abs=US)
    assert at(conv, "C", "DELE 1") == pytest.approx(retrieved[0], abs=US)


def test_imap_idle_session_lines_and_times(wire: Any) -> None:
    scenario, result, convs = wire
    mine = sessions(convs, "m1", "imap")
    assert len(mine) == 1
    conv = mine[0]
    d = latency(scenario, "home.beta", "mx.beta")
    delivered = event(result, "delivered", "m1")[0][0]
    assert at(conv, "S", "* 1 EXISTS") == pytest.approx(delivered, **EXACT)
    assert at(conv, "C", "DONE") == pytest.approx(delivered + d, **EXACT)
    fetch = at(conv, "C", "a4 UID FETCH 1 (FLAGS BODY[])")
    assert fetch == pytest.approx(delivered + 3 * d, **EXACT)
    (retrieved,) = event(result, "retrieved", "m1")
    xfer = 8 * wire_bytes(result, "m1") / bandwidth(scenario, "home.beta", "mx.beta")
    assert retrieved[0] == pytest.approx(delivered + 2.5 * 2 * d + xfer, **EXACT)  # the contract's IDLE row
    assert at(conv, "S", "a4 OK UID FETCH completed") + d == pytest.approx(retrieved[0], abs=US)
    assert at(conv, "C", "a5 IDLE") == pytest.approx(retrieved[0], abs=US)
    # the outage at 8m cuts the session; the device reconnects in a new one
    assert conv.cut_s == 480.0 and texts(conv, "*")[-1] == "session cut by an outage"
    bob = [c for c in convs if c.protocol == "imap" and c.user == "bob@beta.example"]
    assert len(bob) == 2 and bob[1].start_s >= 540.0


def test_webmail_lines_and_times(wire: Any) -> None:
    scenario, result, convs = wire
    (conv,) = sessions(convs, "m3", "http")
    d = latency(scenario, "home.beta", "mx.beta")
    t0 = conv.start_s
    client = texts(conv, "C")
    assert client[0] == "GET /api/inbox?unread=1 HTTP/1.1" and "GET /api/messages/m3 HTTP/1.1" in client
    assert at(conv, "C", "GET /api/inbox") == pytest.approx(t0 + 2 * d, **EXACT)
    assert at(conv, "C", "GET /api/messages/m3") == pytest.approx(t0 + 4 * d, **EXACT)
    assert texts(conv, "S").count("HTTP/1.1 200 OK") == 2
    (retrieved,) = event(result, "retrieved", "m3")
    xfer = 8 * wire_bytes(result, "m3") / bandwidth(scenario, "home.beta", "mx.beta")
    assert retrieved[0] == pytest.approx(t0 + 3 * 2 * d + xfer, **EXACT)  # the contract's HTTP row
    assert conv.close_s == pytest.approx(retrieved[0], abs=US) and conv.closer == "C"


IDLE_YAML = """
name: idle
duration: 3h
network:
  links:
    - {between: [a, mx.a], latency: 1ms}
    - {between: [b, mx.b], latency: 4ms}
    - {between: [mx.a, mx.b], latency: 10ms}
servers:
  mx.a: {domains: [a.example]}
  mx.b: {domains: [b.example]}
users:
  - {address: x@a.example, at: a}
  - {address: y@b.example, at: b}
messages:
  - {at: 1m, from: x@a.example, to: [y@b.example], size: 1KB}
  - {at: 2h, from: x@a.example, to: [y@b.example], size: 1KB}
"""


def test_idle_is_reissued_every_29_minutes() -> None:
    scenario = load_scenario(IDLE_YAML)
    result = run(scenario, trace=True)
    convs = build_conversations(result.traces, result.records, scenario, result.end_time_s)
    (conv,) = [c for c in convs if c.protocol == "imap" and c.user == "y@b.example"]
    d = 0.004
    first_idle = at(conv, "C", "a5 IDLE")  # after fetching the first message
    second_exists = at(conv, "S", "* 2 EXISTS")
    dones = [t for t, s, text, _ in conv.lines() if s == "C" and text == "DONE"]
    reissues = [t for t in dones if first_idle < t < second_exists]
    assert reissues == pytest.approx([first_idle + 1740 * k for k in range(1, len(reissues) + 1)], **EXACT)
    assert len(reissues) == int((second_exists - first_idle) // 1740)
    idling = [t for t, s, text, _ in conv.lines() if s == "S" and text == "+ idling" and first_idle < t < second_exists]
    assert idling == pytest.approx([t + 3 * d for t in [first_idle - 2 * d, *reissues]], **EXACT)


# ---- files and the CLI ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wire")
    code = main(["run", str(WIRE), "-o", str(out), "--transcripts", "--no-plots", "-q"], io.StringIO(), io.StringIO())
    assert code == 0
    return out


def test_transcripts_file_has_every_session_in_time_order(folder: Path, wire: Any) -> None:
    _, result, convs = wire
    saved = read_transcripts(folder / "transcripts.jsonl")
    assert len(saved) == len(convs) == len(result.traces or ())
    assert [s["start"] for s in saved] == sorted(s["start"] for s in saved)
    for session in saved:
        times = [line[0] for line in session["lines"]]
        assert times == sorted(times)
        assert {line[1] for line in session["lines"]} <= {"C", "S", "*"}
        assert session["client_ip"].startswith("10.") and session["port"] in (25, 587, 110, 143, 80)
    first = json.loads((folder / "transcripts.jsonl").read_text().splitlines()[0])
    assert first["session"] == saved[0]["session"]


def test_trace_command_prints_a_message_in_order(folder: Path) -> None:
    out, err = io.StringIO(), io.StringIO()
    assert main(["trace", str(folder), "--message", "m2"], out, err) == 0
    text = out.getvalue()
    assert text.startswith("m2: 4 sessions (submission, smtp, pop3)")
    headings = [line for line in text.splitlines() if line.startswith("-- session")]
    starts = [float(h.rsplit(", ", 1)[1].split(" ..")[0]) for h in headings]
    assert starts == sorted(starts) and len(headings) == 4
    assert "450 4.7.1 <carol@beta.example>" in text and "BODY=8BITMIME" in text and "DELE 1" in text
    times = [float(line.split()[0]) for line in text.splitlines()[1:] if line[:16].strip().replace(".", "").isdigit()]
    assert times == sorted(times)


def test_trace_command_notes_dsns(folder: Path) -> None:
    out = io.StringIO()
    assert main(["trace", str(folder), "--message", "m4"], out, io.StringIO()) == 0
    assert "550 5.1.1 <nobody@beta.example>" in out.getvalue()
    assert "delivery status notifications about m4: d5" in out.getvalue()


def test_a_session_shows_only_the_lines_about_the_message() -> None:
    scenario = load_scenario(IDLE_YAML)
    result = run(scenario, trace=True)
    convs = build_conversations(result.traces, result.records, scenario, result.end_time_s)
    (conv,) = [c for c in convs if c.protocol == "imap" and c.user == "y@b.example"]
    assert conv.message_ids == ["m1", "m2"]
    session = session_record(conv, node_addresses(scenario.nodes()))
    mine = "\n".join(format_session(session, "m1"))
    assert "* 1 EXISTS" in mine and "* 2 EXISTS" not in mine and "lines about other messages" in mine
    assert "a1 LOGIN y@b.example" in mine  # the session's own lines stay
    everything = "\n".join(format_session(session, "m1", full=True))
    assert "* 2 EXISTS" in everything and "lines about other messages" not in everything


@pytest.mark.parametrize("make", ["missing folder", "no transcripts", "unknown message"])
def test_trace_command_bad_input_exits_2(make: str, folder: Path, tmp_path: Path) -> None:
    target, mid = folder, "m1"
    if make == "missing folder":
        target = tmp_path / "nowhere"
    elif make == "no transcripts":
        target = tmp_path
    else:
        mid = "m999"
    err = io.StringIO()
    assert main(["trace", str(target), "--message", mid], io.StringIO(), err) == 2
    assert err.getvalue().startswith("error: ")


def test_capture_messages_limits_the_recorded_sessions(tmp_path: Path) -> None:
    args = ["run", str(WIRE), "-o", str(tmp_path), "--transcripts", "--capture-messages", "m2", "--no-plots", "-q"]
    assert main(args, io.StringIO(), io.StringIO()) == 0
    saved = read_transcripts(tmp_path / "transcripts.jsonl")
    assert saved and all(s["messages"] == ["m2"] for s in saved)
    assert [s["protocol"] for s in saved] == ["submission", "smtp", "smtp", "pop3"]
    err = io.StringIO()
    assert main(["run", str(WIRE), "-o", str(tmp_path), "--capture-messages", "m2", "-q"], io.StringIO(), err) == 2


def test_wire_files_need_a_traced_run(tmp_path: Path) -> None:
    result = run(load_scenario(WIRE))
    assert result.traces is None
    with pytest.raises(ValueError, match="trace=True"):
        result.write_wire(tmp_path)


def test_a_message_over_the_size_limit_is_refused_after_mail_from() -> None:
    text = IDLE_YAML.replace("mx.b: {domains: [b.example]}", "mx.b: {domains: [b.example], max_message_size: 5KB}")
    text = text.replace("size: 1KB}\n  - {at: 2h", "size: 8KB}\n  - {at: 2h")
    scenario = load_scenario(text)
    result = run(scenario, trace=True)
    convs = build_conversations(result.traces or [], result.records, scenario, result.end_time_s)
    (conv,) = sessions(convs, "m1", "smtp")
    d, t0 = 0.010, conv.start_s
    client, server = texts(conv, "C"), texts(conv, "S")
    assert "250-SIZE 5000" in server and client[1].startswith("MAIL FROM:<x@a.example> SIZE=")
    assert server[-4:-1] == ["552 5.3.4 Message size exceeds fixed limit", "503 5.5.1 Error: need MAIL command",
                             "554 5.5.1 Error: no valid recipients"]
    (bounced,) = event(result, "bounced", "m1")
    assert bounced[1]["code"] == "552"
    assert at(conv, "C", "QUIT") == pytest.approx(t0 + 4 * 2 * d, **EXACT) == pytest.approx(bounced[0], abs=US)
    assert not any(s.body for s in conv.sends)
