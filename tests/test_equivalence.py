"""Results pinned to reference files: the delivered and retrieved times of every scenario in
``scenarios/`` and of seeded random worlds with outages, exactly as the code that wrote
``tests/golden/`` computed them.

This guards rebuilds of the delivery core: whatever moves inside, each (message, recipient)
pair must end the same way at the same time, to the last bit of the float, and each device
must retrieve each message at the same time. A change that is *meant* to change results
regenerates the files on purpose and says why in its commit:

    MAILSIM_REGENERATE_GOLDEN=1 python -m pytest tests/test_equivalence.py
"""

from __future__ import annotations

import csv
import gzip
import io
import os
import random
from pathlib import Path

import pytest

from simulator import load_scenario, run

ROOT = Path(__file__).parent.parent
GOLDEN = Path(__file__).parent / "golden"
SCENARIOS = sorted((ROOT / "scenarios").glob("*.yaml"))
REGENERATE = os.environ.get("MAILSIM_REGENERATE_GOLDEN") == "1"


def random_world(index: int) -> str:
    """A small contended world with scheduled and random outages of servers and links, drawn
    from a generator seeded by ``index`` (so the same index is always the same world)."""
    draw = random.Random(1000 + index)
    pipelining = draw.choice(["true", "false"])
    latency_ms = draw.randint(0, 40)
    bandwidth_mbps = draw.randint(1, 50)
    rate_per_h = draw.randint(5, 40)
    policy = draw.choice(["{policy: fixed}", "{policy: backoff, initial: 5m, factor: 2, max: 1h}",
                          "{policy: fixed, interval: 10m, give_up: 3h, warn_after: 1h}"])
    return f"""
name: random-world-{index}
seed: {draw.randint(1, 10**6)}
duration: 3h
network:
  links:
    - {{between: [lan.a, mx.a], latency: 1ms, bandwidth: 100Mbps}}
    - {{between: [mx.a, core], latency: {latency_ms}ms, bandwidth: {bandwidth_mbps}Mbps}}
    - {{between: [core, mx.b], latency: {latency_ms}ms, bandwidth: {bandwidth_mbps}Mbps}}
    - {{between: [core, backup.b], latency: 3ms}}
    - {{between: [lan.b, mx.b], latency: 2ms, bandwidth: 20Mbps}}
servers:
  mx.a: {{domains: [a.test], concurrency: 3, retry: {policy}}}
  mx.b: {{domains: [b.test], pipelining: {pipelining}, retry: {policy}}}
  backup.b: {{relay_for: [b.test], retry: {policy}}}
dns:
  b.test: [{{host: mx.b, preference: 10}}, {{host: backup.b, preference: 20}}]
users:
  - {{group: {{prefix: a, count: 6, domain: a.test}}, at: lan.a, access: {{protocol: http, poll: 7m, devices: 2}}}}
  - {{group: {{prefix: b, count: 6, domain: b.test}}, at: lan.b, access: {{protocol: pop3, poll: 5m}}}}
  - {{group: {{prefix: c, count: 4, domain: b.test}}, at: lan.b, access: {{protocol: imap, devices: 2}}}}
  - {{group: {{prefix: d, count: 3, domain: b.test}}, at: mx.b,
     access: {{protocol: imap, idle: false, poll: 4m, devices: 2}}}}
traffic:
  - {{from: a.test, to: b.test, rate: {rate_per_h}/h, recipients: {{choice: [[1, 3], [2, 1]]}},
     size: {{lognormal: {{median: 200KB, sigma: 1.5}}}}}}
  - {{from: b.test, to: a.test, rate: {rate_per_h}/h, size: 20KB}}
messages:
  - {{at: 10m, from: a001@a.test, to: [nobody@b.test, b001@b.test], size: 5KB}}
outages:
  - {{target: mx.b, start: {draw.randint(5, 60)}m, duration: {draw.randint(10, 90)}m}}
  - {{target: mx.a--core, start: {draw.randint(30, 120)}m, duration: {draw.randint(1, 30)}m}}
  - {{target: backup.b, mtbf: 2h, mttr: 15m}}
  - {{target: core--mx.b, mtbf: 3h, mttr: 10m}}
"""


WORLDS: dict[str, tuple[str | Path, ...]] = {p.stem: (p,) for p in SCENARIOS}
WORLDS.update({f"random-{i}": (random_world(i),) for i in range(6)})


def outcome(source: str | Path) -> str:
    """Every pair's and every retrieval's end, as CSV text with full-precision times."""
    result = run(load_scenario(source))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["message_id", "recipient", "device", "status", "attempts", "delivered_at", "retrieved_at"])
    for row in result.tables.deliveries:
        delivered = row["delivered_at"]
        writer.writerow([row["message_id"], row["recipient"], "", row["status"], row["attempts"],
                         "" if delivered is None else repr(float(delivered)), ""])
    for row in result.tables.retrievals:
        writer.writerow([row["message_id"], row["recipient"], row["device"], "", "", "",
                         repr(float(row["retrieved_at"]))])
    return out.getvalue()


@pytest.mark.parametrize("name", sorted(WORLDS))
def test_outcomes_match_the_reference(name: str) -> None:
    text = outcome(WORLDS[name][0])
    path = GOLDEN / f"{name}.csv.gz"
    if REGENERATE:
        GOLDEN.mkdir(exist_ok=True)
        path.write_bytes(gzip.compress(text.encode(), mtime=0))
    expected = gzip.decompress(path.read_bytes()).decode()
    if text != expected:
        got, want = text.splitlines(), expected.splitlines()
        first = next((i for i, (a, b) in enumerate(zip(got, want, strict=False)) if a != b), min(len(got), len(want)))
        pytest.fail(f"{name}: {len(got)} lines against {len(want)} in the reference; first difference at line "
                    f"{first + 1}:\n  got  {got[first] if first < len(got) else '(end)'}\n"
                    f"  want {want[first] if first < len(want) else '(end)'}")


def test_random_worlds_have_outages_and_retrievals() -> None:
    """The random worlds exercise what the reference is for: cut sessions, retries, and every
    retrieval protocol."""
    texts = [outcome(WORLDS[f"random-{i}"][0]) for i in range(2)]
    for text in texts:
        rows = list(csv.DictReader(io.StringIO(text)))
        assert any(r["attempts"] not in ("", "1") for r in rows)  # some pair needed a retry
        assert sum(1 for r in rows if r["device"]) > 50


@pytest.mark.parametrize("name", sorted(WORLDS))
def test_tracing_changes_no_record(name: str) -> None:
    """A traced run (what ``trace`` and ``capture`` read) is the same run: every record of its log,
    in order, equals the untraced run's. Sessions keep one path whether they record or not."""
    source = WORLDS[name][0]
    plain = run(load_scenario(source))
    traced = run(load_scenario(source), trace=True)
    assert traced.traces, "the traced run recorded no session"
    assert list(traced.records) == list(plain.records)
