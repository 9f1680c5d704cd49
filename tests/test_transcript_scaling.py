"""Transcripts and packet captures cost the same per session and per message however big the run.

Work is counted, not timed: the Python lines executed (``sys.settrace`` line events, one per
line and one per pass of a loop or comprehension) while turning a run's traces into
conversations, transcripts and a capture. Four readers (IMAP with IDLE, IMAP polling with NOOP,
POP3 and webmail) each get every one of ``n`` scripted messages, so their mailboxes grow with
``n``. Work per unit (a session or a message a session moved) must stay flat from ``n`` to
``4 n``: a lookup that scans a whole mailbox for every round or session (as counting EXISTS by
a scan did) makes it grow with ``n``, which at a hundred thousand messages is hours.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from simulator import run
from simulator.pcap import write_pcap
from simulator.protocols.trace import SmtpTrace
from simulator.runner import Result
from simulator.scenario import scenario_from_dict
from simulator.transcript.build import build_conversations
from simulator.transcript.content import mail_date
from simulator.transcript.conversation import Conversation
from simulator.transcript.jsonl import write_transcripts

READERS = ("idle@home.example", "noop@home.example", "pop@home.example", "web@home.example")
SIZES = (100, 400)
FLAT = 1.15  # work per unit may grow by this factor from n to 4n (linear work: about 1.0)


def scenario(messages: int) -> Any:
    """One sender mailing all four readers a small message every minute."""
    return scenario_from_dict({
        "name": f"scale-{messages}", "seed": 1, "duration": f"{messages * 60 + 3600}s",
        "network": {"links": [
            {"between": ["office", "mx.corp"], "latency": "2ms", "bandwidth": "1Gbps"},
            {"between": ["mx.corp", "mx.home"], "latency": "20ms", "bandwidth": "1Gbps"},
            {"between": ["homes", "mx.home"], "latency": "10ms", "bandwidth": "1Gbps"}]},
        "servers": {"mx.corp": {"domains": ["corp.example"]}, "mx.home": {"domains": ["home.example"]}},
        "users": [
            {"address": "boss@corp.example", "at": "office"},
            {"address": READERS[0], "at": "homes", "access": {"protocol": "imap"}},
            {"address": READERS[1], "at": "homes", "access": {"protocol": "imap", "idle": False, "poll": "10m"}},
            {"address": READERS[2], "at": "homes", "access": {"protocol": "pop3", "poll": "10m"}},
            {"address": READERS[3], "at": "homes", "access": {"protocol": "http", "poll": "10m"}}],
        "messages": [{"at": f"{60 * i + 30}s", "from": "boss@corp.example", "to": list(READERS), "size": "2KB"}
                     for i in range(messages)],
    })


def lines_run(work: Callable[..., Any], *args: Any) -> tuple[int, Any]:
    """How many Python lines ``work(*args)`` executes, and what it returns (caches emptied first)."""
    mail_date.cache_clear()
    count = 0

    def tracer(frame: Any, event: str, arg: Any) -> Any:
        nonlocal count
        count += event == "line"
        return tracer

    previous = sys.gettrace()
    sys.settrace(tracer)
    try:
        out = work(*args)
    finally:
        sys.settrace(previous)
    return count, out


def units(conversations: list[Conversation]) -> int:
    """Sessions plus the messages they moved."""
    return sum(1 + len(c.message_ids) for c in conversations)


def write_wire(folder: Path, n: int, conversations: list[Conversation], scenario: Any) -> None:
    write_transcripts(folder / f"t{n}.jsonl", conversations, scenario)
    write_pcap(folder / f"c{n}.pcap", conversations, scenario)


@pytest.fixture(scope="module")
def runs() -> dict[int, tuple[Any, Result]]:
    out = {}
    for n in SIZES:
        s = scenario(n)
        out[n] = (s, run(s, trace=True))
    return out


def test_the_readers_mailboxes_grow_with_the_run(runs: dict[int, tuple[Any, Result]]) -> None:
    for n, (_, result) in runs.items():
        retrieved = result.tables.retrievals
        for reader in READERS:
            assert sum(1 for r in retrieved if r["recipient"] == reader) == n


def test_retrieval_sessions_cost_the_same_per_message_at_any_mailbox_size(
        runs: dict[int, tuple[Any, Result]]) -> None:
    per_unit = {}
    for n, (s, result) in runs.items():
        assert result.traces is not None
        retrieval = [t for t in result.traces if not isinstance(t, SmtpTrace)]
        work, conversations = lines_run(build_conversations, retrieval, result.records, s, result.end_time_s)
        assert {c.protocol for c in conversations} == {"imap", "pop3", "http"}
        assert units(conversations) > len(READERS) * n
        per_unit[n] = work / units(conversations)
    small, large = SIZES
    assert per_unit[large] <= FLAT * per_unit[small], per_unit


def test_transcripts_and_capture_cost_the_same_per_session_at_any_size(
        runs: dict[int, tuple[Any, Result]], tmp_path: Path) -> None:
    per_unit = {}
    for n, (s, result) in runs.items():
        assert result.traces is not None
        conversations = build_conversations(result.traces, result.records, s, result.end_time_s)
        work, _ = lines_run(write_wire, tmp_path, n, conversations, s)
        assert (tmp_path / f"c{n}.pcap").stat().st_size > 1000 * n  # every message's bytes, at least
        per_unit[n] = work / units(conversations)
    small, large = SIZES
    assert per_unit[large] <= FLAT * per_unit[small], per_unit
