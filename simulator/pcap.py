"""Packet captures of the simulated sessions: a classic libpcap file Wireshark and tshark read.

Each :class:`~simulator.transcript.conversation.Conversation` becomes one TCP connection
between its nodes' IPv4 addresses (:func:`~simulator.transcript.conversation.run_addresses`,
labels inside the file: nothing is sent anywhere), framed as Ethernet II / IPv4 / TCP with
correct checksums:

- the three-way handshake starts at the session's ``t0`` (SYN, SYN-ACK ``d`` later, ACK ``2d``
  later; the options carry MSS 1460 and a window scale large enough that no transfer ever
  fills the window); a connect that fails is a lone SYN;
- each side's bytes go out at the times the conversation gives, cut into segments of at most
  the MSS; message data is spread evenly over the trace's transfer interval, its last segment
  leaving exactly when the transfer ends;
- a segment arrives ``d`` after it is sent; the receiver acknowledges it with its own next
  data when that leaves at the same moment, else with a pure ACK on every second segment or
  after a 40 ms delayed-ACK timer; FINs are acknowledged at once;
- the side the protocol says closes first sends FIN, the other answers FIN, the first ACKs; a
  session cut by an outage simply stops.

The sends are the transcripts' own (the protocol's dialogue layout placed from the session's
trace, :mod:`simulator.transcript`); the handshake takes the ``HANDSHAKE_D`` one-way delays
the layouts start the server's greeting after (:mod:`simulator.protocols.dialogue`).
Every packet is stamped with the simulated time its sender put it on the wire (nanosecond
pcap timestamps, seconds since simulated time 0), so the capture agrees with events.csv: the
server's ``250 ... queued as`` is at the ``accepted`` time, a submission's SYN at ``created``.
Packets are written in time order (ties: the order they were made within a connection, then
the order connections started).
"""

from __future__ import annotations

import hashlib
import heapq
import struct
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from .transcript.conversation import Conversation, Send, run_addresses

__all__ = ["MSS_BYTES", "conversation_packets", "write_pcap"]

MSS_BYTES = 1460
DELAYED_ACK_S = 0.040
WINDOW_FIELD = 0xFFFF
PCAP_MAGIC_NS = 0xA1B23C4D  # classic libpcap, nanosecond timestamps
LINKTYPE_ETHERNET = 1
SNAPLEN = 262144
FIN, SYN, PSH, ACK = 0x01, 0x02, 0x08, 0x10
_ARRIVE, _SEND, _TIMER = 0, 1, 2  # event priorities at one instant: arrivals first, timers last
_SYN_OPTIONS = struct.Struct("!BBHBBBB")
_TCP_HEADER = struct.Struct("!HHIIBBHHH")
_PSEUDO_HEADER = struct.Struct("!4s4sBBH")
_IP_HEADER = struct.Struct("!BBHHHBBH4s4s")
_CHECKSUM = struct.Struct("!H")
_RECORD_HEADER = struct.Struct("<IIII")


def _ns(time_s: float) -> int:
    return round(time_s * 1e9)


def _checksum(data: bytes) -> int:
    """The Internet checksum (RFC 1071) of ``data``."""
    if len(data) % 2:
        data += b"\0"
    value = int.from_bytes(data, "big")
    total = value % 0xFFFF
    if total == 0 and value:
        total = 0xFFFF
    return ~total & 0xFFFF


def _ip_bytes(address: str) -> bytes:
    return bytes(int(x) for x in address.split("."))


def _peer(side: str) -> str:
    """The other end of the connection from ``side`` (``C`` or ``S``)."""
    return "S" if side == "C" else "C"


def _mac(ip: bytes) -> bytes:
    return b"\x02\x00" + ip  # locally administered, derived from the address


class _Framer:
    """Ethernet/IPv4/TCP frames of one connection (addresses, ports, IP ids, ISNs)."""

    def __init__(self, conv: Conversation, addresses: dict[str, str], ip_ids: dict[bytes, int]) -> None:
        self.ip = {"C": _ip_bytes(addresses[conv.client]), "S": _ip_bytes(addresses[conv.server])}
        self.port = {"C": conv.client_port, "S": conv.port}
        self.ethernet = {side: _mac(self.ip[_peer(side)]) + _mac(self.ip[side]) + b"\x08\x00" for side in "CS"}
        self.ip_ids = ip_ids
        digest = hashlib.sha256(f"{conv.seq}:{conv.client}:{conv.server}:{conv.start_s!r}".encode()).digest()
        self.isn = {"C": int.from_bytes(digest[:4], "big"), "S": int.from_bytes(digest[4:8], "big")}

    def frame(self, side: str, seq: int, ack: int, flags: int, payload: bytes = b"", wscale: int = -1) -> bytes:
        peer = _peer(side)
        src, dst = self.ip[side], self.ip[peer]
        options = b""
        if flags & SYN:
            options = _SYN_OPTIONS.pack(2, 4, MSS_BYTES, 1, 3, 3, max(0, wscale))
        offset = (20 + len(options)) // 4
        seq_abs = (self.isn[side] + seq) & 0xFFFFFFFF
        ack_abs = (self.isn[peer] + ack) & 0xFFFFFFFF if flags & ACK else 0
        header = _TCP_HEADER.pack(self.port[side], self.port[peer], seq_abs, ack_abs, offset << 4, flags,
                                  WINDOW_FIELD, 0, 0) + options
        length = len(header) + len(payload)
        checksum = _checksum(_PSEUDO_HEADER.pack(src, dst, 0, 6, length) + header + payload)
        header = header[:16] + _CHECKSUM.pack(checksum) + header[18:]
        ident = self.ip_ids.get(src, 0)
        self.ip_ids[src] = (ident + 1) & 0xFFFF
        ip = _IP_HEADER.pack(0x45, 0, 20 + length, ident, 0x4000, 64, 6, 0, src, dst)
        ip = ip[:10] + _CHECKSUM.pack(_checksum(ip)) + ip[12:]
        return b"".join((self.ethernet[side], ip, header, payload))


def _window_scale(burst_bytes: int) -> int:
    """The smallest shift that makes the advertised window hold a burst of ``burst_bytes`` with
    room to spare (what the peer sends in one go may all be in flight at once)."""
    shift = 0
    while shift < 14 and (WINDOW_FIELD << shift) <= 2 * burst_bytes + 16 * MSS_BYTES:
        shift += 1
    return shift


class _Bulk:
    """A send whose bytes leave spread over an interval (message data)."""

    def __init__(self, send: Send) -> None:
        prefix, body, suffix = send.payload()
        self.stream = prefix + body + suffix
        self.start_s = send.time_s
        self.until_s = send.until_s if send.until_s is not None else send.time_s
        self.prefix_bytes, self.body_bytes = len(prefix), max(1, len(body))
        self.offset = 0
        self.waiting = True  # not yet past the moment the first segment's bytes are pushed

    def next_time_s(self) -> float:
        """When the segment starting at ``offset`` leaves: as its last byte is pushed."""
        end = min(len(self.stream), self.offset + MSS_BYTES)
        if end >= len(self.stream):
            return self.until_s
        share = min(1.0, max(0.0, (end - self.prefix_bytes) / self.body_bytes))
        return self.start_s + (self.until_s - self.start_s) * share


class _Connection:
    """Replays one conversation as TCP segments, yielding (ns, order, frame) in time order."""

    def __init__(self, conv: Conversation, addresses: dict[str, str], ip_ids: dict[bytes, int]) -> None:
        self.conv = conv
        self.d = conv.delay_s
        self.framer = _Framer(conv, addresses, ip_ids)
        burst = {"C": 0, "S": 0}  # the most a side ever has in flight: its peer's largest send
        for send in conv.sends:
            peer = _peer(send.side)
            burst[peer] = max(burst[peer], send.size_bytes)
        self.wscale = {side: _window_scale(n) for side, n in burst.items()}
        self.nxt = {"C": 0, "S": 0}  # relative sequence number each side sends next
        self.rcv = {"C": 0, "S": 0}  # relative sequence number each side expects next (its ACK)
        self.unacked = {"C": 0, "S": 0}  # segments received and not yet acknowledged
        self.timer = {"C": False, "S": False}
        self.fin_sent = {"C": False, "S": False}
        self.heap: list[tuple[int, int, int, float, str, tuple[Any, ...]]] = []
        self.sends_at: dict[tuple[str, int], int] = {}  # (side, ns) -> sends scheduled then
        self.count = 0
        self.out: list[tuple[int, int, bytes]] = []
        self.cut_ns = _ns(conv.cut_s) if conv.cut_s is not None else None

    def push(self, time_s: float, priority: int, kind: str, item: tuple[Any, ...]) -> None:
        ns = _ns(time_s)
        if priority == _SEND:
            key = (item[0], ns)
            self.sends_at[key] = self.sends_at.get(key, 0) + 1
        self.count += 1
        heapq.heappush(self.heap, (ns, priority, self.count, time_s, kind, item))

    def emit(self, time_s: float, side: str, flags: int, payload: bytes = b"") -> None:
        """Put one segment on the wire now; it reaches the peer ``d`` later."""
        frame = self.framer.frame(side, self.nxt[side], self.rcv[side], flags, payload, self.wscale[side])
        self.count += 1
        self.out.append((_ns(time_s), self.count, frame))
        used = len(payload) + (1 if flags & (SYN | FIN) else 0)
        self.nxt[side] += used
        if flags & ACK:
            self.unacked[side] = 0
        if used and not self.conv.connect_failed:
            self.push(time_s + self.d, _ARRIVE, "arrive", (_peer(side), self.nxt[side], flags))

    def packets(self) -> Iterator[tuple[int, int, bytes]]:
        conv = self.conv
        self.push(conv.start_s, _SEND, "syn", ("C",))
        if not conv.connect_failed:
            for send in conv.sends:
                self.push(send.time_s, _SEND, "bulk" if send.body is not None else "send", (send.side, send))
            if conv.closer and conv.close_s is not None:
                self.push(conv.close_s, _SEND, "close", (conv.closer,))
        while self.heap:
            ns, priority, _, time_s, kind, item = heapq.heappop(self.heap)
            if self.cut_ns is not None and ns >= self.cut_ns:
                break
            if priority == _SEND:
                self.sends_at[(item[0], ns)] -= 1
            _HANDLERS[kind](self, time_s, *item)
            yield from self.out
            self.out.clear()

    # ---- event handlers ---------------------------------------------------------------------

    def _on_syn(self, time_s: float, side: str) -> None:
        self.emit(time_s, side, SYN)

    def _on_send(self, time_s: float, side: str, send: Send) -> None:
        data = send.text.encode()
        for start in range(0, len(data), MSS_BYTES):
            last = start + MSS_BYTES >= len(data)
            self.emit(time_s, side, ACK | (PSH if last else 0), data[start:start + MSS_BYTES])

    def _on_bulk(self, time_s: float, side: str, send: Send | _Bulk) -> None:
        bulk = send if isinstance(send, _Bulk) else _Bulk(send)
        if bulk.waiting:
            bulk.waiting = False
            first_s = bulk.next_time_s()
            if _ns(first_s) > _ns(time_s):  # the first segment leaves once its bytes are pushed
                self.push(first_s, _SEND, "bulk", (side, bulk))
                return
        chunk = bulk.stream[bulk.offset:bulk.offset + MSS_BYTES]
        bulk.offset += len(chunk)
        last = bulk.offset >= len(bulk.stream)
        self.emit(time_s, side, ACK | (PSH if last else 0), chunk)
        if not last:
            self.push(bulk.next_time_s(), _SEND, "bulk", (side, bulk))

    def _on_close(self, time_s: float, side: str) -> None:
        if not self.fin_sent[side]:
            self.fin_sent[side] = True
            self.emit(time_s, side, FIN | ACK)

    def _on_arrive(self, time_s: float, side: str, end_seq: int, flags: int) -> None:
        self.rcv[side] = max(self.rcv[side], end_seq)
        if flags & SYN:
            self.emit(time_s, side, SYN | ACK if side == "S" else ACK)
            return
        if flags & FIN:
            if self.fin_sent[side]:
                self.emit(time_s, side, ACK)
            else:
                self._on_close(time_s, side)  # the peer closed first: answer with our FIN
            return
        self.unacked[side] += 1
        if self.sends_at.get((side, _ns(time_s)), 0) > 0:
            return  # what this side sends now carries the ACK
        if self.unacked[side] >= 2:
            self.emit(time_s, side, ACK)
        elif not self.timer[side]:
            self.timer[side] = True
            self.push(time_s + DELAYED_ACK_S, _TIMER, "timer", (side,))

    def _on_timer(self, time_s: float, side: str) -> None:
        self.timer[side] = False
        if self.unacked[side] > 0:
            self.emit(time_s, side, ACK)


# what each kind of scheduled event does (functions, not bound methods: no cycle keeps a finished
# connection's buffers alive until the garbage collector runs)
_HANDLERS: dict[str, Callable[..., None]] = {
    "syn": _Connection._on_syn, "send": _Connection._on_send, "bulk": _Connection._on_bulk,
    "close": _Connection._on_close, "arrive": _Connection._on_arrive, "timer": _Connection._on_timer,
}


def conversation_packets(conv: Conversation, addresses: dict[str, str],
                         ip_ids: dict[bytes, int] | None = None) -> Iterator[tuple[int, int, bytes]]:
    """The frames of one conversation as (timestamp ns, order, Ethernet frame), in time order."""
    return _Connection(conv, addresses, {} if ip_ids is None else ip_ids).packets()


def _numbered(packets: Iterator[tuple[int, int, bytes]], connection: int) -> Iterator[tuple[int, int, int, bytes]]:
    """A connection's packets as (ns, order within the connection, connection, frame): tuples that
    sort in the capture's order (time, then the order made within a connection, then the order
    connections started) and never tie."""
    for ns, order, frame in packets:
        yield ns, order, connection, frame


def write_pcap(path: str | Path, conversations: Sequence[Conversation], scenario: Any = None) -> Path:
    """Write every conversation into one libpcap file (nanosecond timestamps, Ethernet)."""
    out = Path(path)
    addresses = run_addresses(conversations, scenario)
    ip_ids: dict[bytes, int] = {}
    streams = [_numbered(conversation_packets(conv, addresses, ip_ids), i) for i, conv in enumerate(conversations)]
    record = _RECORD_HEADER.pack
    with open(out, "wb") as f:
        f.write(struct.pack("<IHHiIII", PCAP_MAGIC_NS, 2, 4, 0, 0, SNAPLEN, LINKTYPE_ETHERNET))
        for ns, _, _, frame in heapq.merge(*streams):
            seconds, nanos = divmod(ns, 1_000_000_000)
            f.write(record(seconds, nanos, len(frame), len(frame)) + frame)
    return out
