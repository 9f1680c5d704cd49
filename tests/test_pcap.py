"""Packet captures (``simulator.pcap``, ``mailsim run --pcap``).

The capture of scenarios/wire.yaml (SMTP submission and relay with greylisting, a failed
connect, POP3, IMAP with IDLE and an outage that cuts it, webmail) is read back twice: by a
small parser here (framing, checksums, TCP sequence arithmetic, byte streams equal to the
transcripts' conversations, timestamps equal to events.csv) and by tshark, which must decode
SMTP, POP, IMAP and HTTP with no malformed packets and no TCP analysis warnings.
"""

from __future__ import annotations

import io
import shutil
import struct
import subprocess
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from simulator import load_scenario, run
from simulator.cli import main
from simulator.eventkinds import text_fields
from simulator.pcap import MSS_BYTES, write_pcap
from simulator.protocols.trace import SmtpTrace
from simulator.runner import Result
from simulator.transcript.build import build_conversations
from simulator.transcript.conversation import Conversation, node_addresses

WIRE = Path(__file__).resolve().parent.parent / "scenarios" / "wire.yaml"
TSHARK = shutil.which("tshark")
FIN, SYN, ACK = 0x01, 0x02, 0x10


@dataclass(frozen=True, slots=True)
class Packet:
    ns: int
    src: str
    dst: str
    sport: int
    dport: int
    seq: int
    ack: int
    flags: int
    window: int
    options: bytes
    payload: bytes

    @property
    def key(self) -> tuple[str, int, str, int]:
        """The connection, client side first (servers listen below 1024)."""
        if self.sport < 1024:
            return (self.dst, self.dport, self.src, self.sport)
        return (self.src, self.sport, self.dst, self.dport)

    @property
    def from_client(self) -> bool:
        return self.dport < 1024


def ones_complement_ok(data: bytes) -> bool:
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return total == 0xFFFF


def read_pcap(path: Path) -> list[Packet]:
    raw = path.read_bytes()
    magic, major, minor, _, _, _, linktype = struct.unpack_from("<IHHiIII", raw, 0)
    assert (magic, major, minor, linktype) == (0xA1B23C4D, 2, 4, 1)  # nanosecond pcap, Ethernet
    packets, offset = [], 24
    while offset < len(raw):
        seconds, nanos, caplen, length = struct.unpack_from("<IIII", raw, offset)
        frame = raw[offset + 16: offset + 16 + caplen]
        offset += 16 + caplen
        assert caplen == length == len(frame)
        assert frame[12:14] == b"\x08\x00" and frame[6:8] == b"\x02\x00" and frame[8:12] == frame[26:30]
        ip = frame[14:34]
        assert ip[0] == 0x45 and ip[9] == 6 and ones_complement_ok(ip)
        total = struct.unpack("!H", ip[2:4])[0]
        assert total == len(frame) - 14
        tcp = frame[34:]
        pseudo = ip[12:20] + struct.pack("!BBH", 0, 6, len(tcp))
        assert ones_complement_ok(pseudo + tcp)
        sport, dport, seq, ack, offset_byte, flags, window = struct.unpack("!HHIIBBH", tcp[:16])
        header = (offset_byte >> 4) * 4
        src, dst = ".".join(map(str, ip[12:16])), ".".join(map(str, ip[16:20]))
        packets.append(Packet(seconds * 10**9 + nanos, src, dst, sport, dport, seq, ack, flags, window,
                              tcp[20:header], tcp[header:]))
    return packets


@pytest.fixture(scope="module")
def capture(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Result, list[Conversation], Path]:
    scenario = load_scenario(WIRE)
    result = run(scenario, trace=True)
    convs = build_conversations(result.traces, result.records, scenario, result.end_time_s)
    path = write_pcap(tmp_path_factory.mktemp("pcap") / "capture.pcap", convs, scenario)
    return scenario, result, convs, path


@pytest.fixture(scope="module")
def packets(capture: Any) -> list[Packet]:
    return read_pcap(capture[3])


def connections(packets: list[Packet]) -> dict[tuple[str, int, str, int], list[Packet]]:
    out: dict[tuple[str, int, str, int], list[Packet]] = defaultdict(list)
    for p in packets:
        out[p.key].append(p)
    return out


def ns(time_s: float) -> int:
    return round(time_s * 1e9)


# ---- framing and TCP ------------------------------------------------------------------------------


def test_frames_are_valid_and_in_time_order(packets: list[Packet]) -> None:
    assert len(packets) > 200
    times = [p.ns for p in packets]
    assert times == sorted(times)
    assert max(len(p.payload) for p in packets) == MSS_BYTES  # full segments exist, none larger
    assert {p.dport for p in packets if p.from_client} == {25, 587, 110, 143, 80}


def test_packets_at_one_instant_go_in_the_order_made_then_the_order_connections_started(tmp_path: Path) -> None:
    """Two connections saying the same at the same moments: at each instant the first one's
    packet leads, though the second's frames sort first as bytes (its client's address is lower)."""
    convs = []
    for seq, client in enumerate(("zeta", "alpha")):
        conv = Conversation(seq=seq, protocol="pop3", client=client, server="mx", port=110, delay_s=0.01,
                            start_s=1.0, client_port=49152)
        conv.say(1.03, "S", ["+OK ready"])
        conv.say(1.04, "C", ["QUIT"])
        conv.close("S", 1.05)
        convs.append(conv)
    path = write_pcap(tmp_path / "tie.pcap", convs)
    addresses = node_addresses(["alpha", "mx", "zeta"])
    assert addresses["alpha"] < addresses["zeta"]
    got = read_pcap(path)
    assert len(got) > 8
    first_at: dict[int, str] = {}
    for packet in got:
        first_at.setdefault(packet.ns, packet.src if packet.from_client else packet.dst)
    assert len(first_at) > 4
    assert set(first_at.values()) == {addresses["zeta"]}  # the first connection, at every instant


def test_each_connection_is_real_tcp(packets: list[Packet], capture: Any) -> None:
    convs = capture[2]
    conns = connections(packets)
    assert len(conns) == len(convs)
    closed = 0
    for key, flow in conns.items():
        syn = flow[0]
        assert syn.flags == SYN and syn.from_client and syn.options[:4] == struct.pack("!BBH", 2, 4, MSS_BYTES)
        if len(flow) == 1:
            continue  # a connect that got no answer
        synack, third = flow[1], flow[2]
        assert synack.flags == SYN | ACK and synack.ack == (syn.seq + 1) % 2**32
        assert third.flags == ACK and third.ack == (synack.seq + 1) % 2**32 and not third.payload
        isn = {True: syn.seq, False: synack.seq}
        sent = {True: 1, False: 1}  # relative sequence numbers sent by client (True) and server
        for p in flow[1:] if len(flow) > 1 else []:
            side = p.from_client
            if p.flags & SYN:
                continue
            assert (p.seq - isn[side]) % 2**32 == sent[side], f"gap or overlap in {key}"
            assert (p.ack - isn[not side]) % 2**32 <= sent[not side], f"ACK of unseen data in {key}"
            sent[side] += len(p.payload) + (1 if p.flags & FIN else 0)
        fins = [p for p in flow if p.flags & FIN]
        if fins:
            closed += 1
            assert len(fins) == 2 and flow[-1].flags == ACK and not flow[-1].payload
            assert fins[0].from_client != fins[1].from_client
    assert closed >= 10


def test_streams_carry_the_conversations_bytes(packets: list[Packet], capture: Any) -> None:
    scenario, _, convs, _ = capture
    addresses = node_addresses(scenario.nodes())
    conns = connections(packets)
    for conv in convs:
        key = (addresses[conv.client], conv.client_port, addresses[conv.server], conv.port)
        for side in ("C", "S"):
            wanted = b"".join(b"".join(s.payload()) for s in conv.sends if s.side == side)
            got = b"".join(p.payload for p in conns[key] if p.from_client == (side == "C"))
            assert got == wanted, (conv.seq, side)


def test_message_data_is_spread_over_the_transfer(packets: list[Packet], capture: Any) -> None:
    scenario, result, convs, _ = capture
    addresses = node_addresses(scenario.nodes())
    (trace,) = [t for t in result.traces or () if isinstance(t, SmtpTrace) and t.message_id == "m3"
                and t.protocol == "submission"]
    (conv,) = [c for c in convs if c.seq == trace.seq]
    assert trace.data_start_s is not None and trace.data_end_s is not None
    key = (addresses[conv.client], conv.client_port, addresses[conv.server], conv.port)
    data = [p for p in connections(packets)[key] if p.from_client and p.payload
            and ns(trace.data_start_s) <= p.ns <= ns(trace.data_end_s)]
    assert sum(len(p.payload) for p in data) == trace.size_bytes + len(b".\r\n")
    assert len(data) == -(-(trace.size_bytes + 3) // MSS_BYTES)
    assert data[-1].ns == ns(trace.data_end_s) and data[-1].payload.endswith(b"\r\n.\r\n")
    assert data[0].ns > ns(trace.data_start_s) and len({p.ns for p in data}) == len(data)


def test_timestamps_match_the_event_log(packets: list[Packet], capture: Any) -> None:
    scenario, result, _, _ = capture
    addresses = node_addresses(scenario.nodes())
    by_time: dict[int, list[Packet]] = defaultdict(list)
    for p in packets:
        by_time[p.ns].append(p)
    checked = 0
    for time_s, name, mid, node, detail in result.records:
        f = text_fields(name, detail)
        if name == "accepted":  # the server's 250 after the data
            hits = [p for p in by_time[ns(time_s)] if p.src == addresses[node] and p.dst == addresses[f["from"]]
                    and p.payload.startswith(b"250 2.0.0 Ok: queued as")]
        elif name == "created" and f["kind"] == "mail":  # the user presses send: the submission's SYN
            hits = [p for p in by_time[ns(time_s)] if p.src == addresses[node] and p.flags == SYN and p.dport == 587]
        elif name == "retrieved":  # the device holds the message: it sends its next segment then
            hits = [p for p in by_time[ns(time_s)] if p.src == addresses[node] and p.from_client]
        elif name == "connect_failed":  # a lone SYN timeout_s before
            hits = [p for p in by_time[ns(time_s - 30.0)] if p.src == addresses[node] and p.flags == SYN]
        else:
            continue
        assert hits, (time_s, name, mid)
        checked += 1
    assert checked >= 14


def test_capture_of_chosen_messages_only(tmp_path: Path) -> None:
    args = ["run", str(WIRE), "-o", str(tmp_path), "--pcap", "--capture-messages", "m2", "--no-plots", "-q"]
    assert main(args, io.StringIO(), io.StringIO()) == 0
    packets = read_pcap(tmp_path / "capture.pcap")
    ports = sorted({p.dport for p in packets if p.flags == SYN})
    assert ports == [25, 110, 587]  # its submission, two relay attempts and the POP3 download
    assert sum(1 for p in packets if p.flags == SYN) == 4
    assert not (tmp_path / "transcripts.jsonl").exists()


# ---- tshark ---------------------------------------------------------------------------------------


def tshark(*args: str) -> str:
    assert TSHARK is not None
    done = subprocess.run([TSHARK, "-n", *args], capture_output=True, text=True, timeout=120, check=True)
    return done.stdout


needs_tshark = pytest.mark.skipif(TSHARK is None, reason="tshark is not installed (.ci/run installs it)")


@needs_tshark
def test_tshark_decodes_every_protocol_without_warnings(capture: Any) -> None:
    path = str(capture[3])
    expert = tshark("-r", path, "-q", "-z", "expert")
    assert "Errors (" not in expert and "Warnings (" not in expert
    assert "Connection establish request (SYN): server port 587" in expert
    flagged = tshark("-r", path, "-Y", "tcp.analysis.flags || _ws.malformed || _ws.expert.severity >= 0x00600000")
    assert flagged.strip() == ""
    rows = tshark("-r", path, "-Y", "smtp || pop || imap || http", "-T", "fields", "-E", "separator=|",
                  "-e", "smtp.req.command", "-e", "smtp.response.code", "-e", "pop.request.command",
                  "-e", "pop.response.indicator", "-e", "imap.request.command", "-e", "http.request.method",
                  "-e", "http.response.code", "-e", "imf.content.type")
    seen: dict[int, set[str]] = defaultdict(set)
    for row in rows.splitlines():
        for i, cell in enumerate(row.split("|")):
            seen[i].update(x for x in cell.split(",") if x)
    assert {"EHLO", "MAIL", "RCPT", "DATA", "QUIT"} <= seen[0]
    assert {"220", "250", "354", "450", "550", "221"} <= seen[1]
    assert {"USER", "PASS", "STAT", "RETR", "DELE", "QUIT"} <= seen[2] and "+OK" in seen[3]
    assert {"LOGIN", "SELECT", "IDLE", "FETCH"} <= seen[4]
    assert seen[5] == {"GET"} and seen[6] == {"200"}
    assert {"multipart/mixed; boundary=\"=_mailsim_m3\"", "text/plain; charset=utf-8"} <= seen[7]
    assert any(t.startswith("multipart/report; report-type=delivery-status") for t in seen[7])


@needs_tshark
def test_tshark_times_match_events_csv(capture: Any) -> None:
    scenario, result, _, path = capture
    addresses = node_addresses(scenario.nodes())
    rows = tshark("-r", str(path), "-Y", "smtp.response.code == 250 && smtp.rsp.parameter contains \"queued\"",
                  "-T", "fields", "-e", "frame.time_epoch", "-e", "ip.src")
    decoded = sorted((round(float(t) * 1e6), src) for t, src in (r.split("\t") for r in rows.splitlines()))
    expected = sorted((round(t * 1e6), addresses[node]) for t, e, _, node, _ in result.records if e == "accepted")
    assert decoded == expected and len(expected) == 7


def test_the_same_seed_gives_byte_identical_files(tmp_path: Path) -> None:
    outputs = []
    for name in ("one", "two"):
        folder = tmp_path / name
        args = ["run", str(WIRE), "-o", str(folder), "--pcap", "--transcripts", "--no-plots", "-q"]
        assert main(args, io.StringIO(), io.StringIO()) == 0
        outputs.append(((folder / "capture.pcap").read_bytes(), (folder / "transcripts.jsonl").read_bytes()))
    assert outputs[0] == outputs[1] and len(outputs[0][0]) > 100_000
