"""servers.csv and the summary's most loaded link and server, checked against the event log.

Counts per bin are compared with the records they come from; open inbound sessions with the
intervals the log implies on a world where every session succeeds (a submission from its
``created`` to the home server's ``accepted``, a relay from the sender's ``attempt`` to the
receiver's ``accepted``); the queue with queues.csv.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from conftest import run_yaml

from simulator import loads
from simulator.runner import Result, run
from simulator.scenario import load_scenario

SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"

BUSY = """
name: busy
seed: 5
duration: 20m
network:
  links:
    - {between: [office, mx.a], latency: 2ms, bandwidth: 2Mbps}
    - {between: [mx.a, mx.b], latency: 15ms, bandwidth: 1Mbps}
servers:
  mx.a: {domains: [a.example]}
  mx.b: {domains: [b.example]}
users:
  - {group: {prefix: u, count: 5, domain: a.example}, at: office}
  - {group: {prefix: v, count: 5, domain: b.example}, at: mx.b}
traffic:
  - {from: a.example, to: b.example, rate: 120/h, size: {lognormal: {median: 200KB, sigma: 1}}}
"""


def bin_of(time_s: float, result: Result) -> int:
    count = len({r["time"] for r in result.server_rows})
    return min(int(time_s // result.bin_s), count - 1)


def by_bin(result: Result, server: str) -> list[dict[str, Any]]:
    return [r for r in result.server_rows if r["server"] == server]


@pytest.fixture(scope="module")
def busy() -> Result:
    return run_yaml(BUSY)


def test_sessions_follow_the_intervals_the_log_implies(busy: Result) -> None:
    opened: dict[str, list[tuple[float, float]]] = {"mx.a": [], "mx.b": []}
    created = {m: t for t, e, m, _n, _v in busy.records if e == "created"}
    attempts: dict[str, list[float]] = {}
    for t, e, m, node, _v in busy.records:
        if e == "attempt":
            attempts.setdefault(m, []).append(t)
        elif e == "accepted":
            start = created[m] if node == "mx.a" else attempts[m].pop(0)
            opened[node].append((start, t))
    assert not any(e in ("session_cut", "connect_failed", "submit_failed") for _t, e, *_ in busy.records)
    assert len(opened["mx.b"]) > 20
    for server, spans in opened.items():
        rows = by_bin(busy, server)
        for k, row in enumerate(rows):
            lo, hi = row["time"], row["time"] + row["duration_s"]
            # the level's maximum in [lo, hi): at lo, or just after an opening inside
            moments = [lo] + [s for s, _ in spans if lo <= s < hi]
            expected = max(sum(1 for s, e in spans if s <= m < e) for m in moments)
            assert row["sessions_max"] == expected, (server, k)
    assert max(r["sessions_max"] for r in by_bin(busy, "mx.b")) >= 2  # sessions overlap: the count is not trivial


def test_counts_per_bin_are_the_records_of_the_bin(busy: Result) -> None:
    expected: Counter[tuple[str, str, int]] = Counter()
    for t, e, _m, node, _v in busy.records:
        if e in ("accepted", "delivered", "sent"):
            expected[(node, e, bin_of(t, busy))] += 1
    got: Counter[tuple[str, str, int]] = Counter()
    for server in ("mx.a", "mx.b"):
        for k, row in enumerate(by_bin(busy, server)):
            for column in ("accepted", "delivered", "sent"):
                if row[column]:
                    got[(server, column, k)] = row[column]
    assert got == expected
    assert sum(r["delivered"] for r in busy.server_rows) == busy.summary["counts"]["delivered"]


def test_queue_max_and_end_of_bin_follow_queues_csv(busy: Result) -> None:
    for server in ("mx.a", "mx.b"):
        changes = [(r["time"], r["queue_length"]) for r in busy.tables.queues if r["server"] == server]
        for row in by_bin(busy, server):
            lo, hi = row["time"], row["time"] + row["duration_s"]
            before = [q for t, q in changes if t < lo]
            inside = [q for t, q in changes if lo <= t < hi] if hi < busy.end_time_s else \
                [q for t, q in changes if lo <= t]
            start = before[-1] if before else 0
            assert row["queue_max"] == max([start, *inside])
            assert row["queue_end"] == (inside[-1] if inside else start)
    assert max(r["queue_max"] for r in by_bin(busy, "mx.a")) == busy.summary["peak_queue"]["mx.a"]


def test_refusals_are_counted_at_the_host_that_refused() -> None:
    """Greylisting: each 450 to a relay counts at the greylisting host, by its code."""
    result = run(load_scenario(SCENARIOS / "greylisting.yaml"))
    hosts: Counter[tuple[str, str]] = Counter()
    for _t, e, _m, _node, v in result.records:
        if e == "rcpt_deferred":
            hosts[(v[0], v[2])] += 1
        elif e == "connect_failed":
            hosts[(v[0], v[1])] += 1
    assert hosts, "the scenario greylists"
    got: Counter[tuple[str, str]] = Counter()
    for row in result.server_rows:
        for code in loads.REFUSAL_CODES:
            if row[f"refused_{code}"]:
                got[(row["server"], code)] += row[f"refused_{code}"]
    assert got == hosts


def test_a_down_server_counts_the_connections_it_did_not_answer() -> None:
    result = run(load_scenario(SCENARIOS / "outage-retry.yaml"))
    failed = Counter(v[0] for _t, e, _m, _n, v in result.records if e == "connect_failed")
    assert failed["mx.gamma"] > 0
    for server in ("mx.beta", "mx.gamma"):
        assert sum(r["refused_421"] for r in result.server_rows if r["server"] == server) == failed[server]


def test_the_summary_names_the_most_loaded_link_and_server(busy: Result) -> None:
    found = busy.summary["loads"]
    top = max((r for r in busy.link_rows if r["utilisation"] is not None), key=lambda r: r["utilisation"])
    assert found["bin_s"] == busy.bin_s
    assert found["most_loaded_link"] == {"link": top["link"], "direction": top["direction"],
                                         "utilisation": top["utilisation"], "at_s": top["time"]}
    assert found["most_loaded_link"]["link"] == "mx.a--mx.b"  # 1 Mbit/s: the bottleneck
    peaks = [(max(r["queue_max"], r["sessions_max"]), r["server"]) for r in busy.server_rows]
    server = found["most_loaded_server"]
    assert server["peak"] == max(peaks)[0] and server["by"] in ("queue", "sessions")
    column = "queue_max" if server["by"] == "queue" else "sessions_max"
    assert any(r["server"] == server["server"] and r["time"] == server["at_s"] and r[column] == server["peak"]
               for r in busy.server_rows)


def test_a_given_bin_width_is_kept(busy: Result) -> None:
    scenario = load_scenario(BUSY)
    result = run(scenario, bin_s=90.0)
    times = sorted({r["time"] for r in result.link_rows})
    assert result.bin_s == 90.0 and times[:3] == [0.0, 90.0, 180.0]
    assert len(times) == -(-result.end_time_s // 90)
    total = sum(r["bytes"] for r in result.link_rows)
    assert total == pytest.approx(sum(r["bytes"] for r in busy.link_rows), rel=1e-9)  # the same bits, binned anew
    assert busy.bin_s == 10.0  # the default for a run of about 25 min: 300 bins of 10 s at most
    with pytest.raises(ValueError, match="positive"):
        run(scenario, bin_s=0.0)
    with pytest.raises(ValueError, match="use a width of at least"):  # a million rows and more, refused at once
        run(scenario, bin_s=1e-6)


def test_same_seed_same_load_tables(tmp_path: Path) -> None:
    scenario = load_scenario(BUSY)
    for name, seed in (("one", 1), ("two", 1), ("other", 2)):
        run(scenario, seed=seed).save(tmp_path / name, with_plots=False)
    for table in ("links.csv", "servers.csv"):
        assert (tmp_path / "one" / table).read_bytes() == (tmp_path / "two" / table).read_bytes()
    assert (tmp_path / "one" / "links.csv").read_bytes() != (tmp_path / "other" / "links.csv").read_bytes()


def test_load_reads_the_tables_back(busy: Result, tmp_path: Path) -> None:
    busy.save(tmp_path / "r", with_plots=False)
    loaded = Result.load(tmp_path / "r")
    assert loaded.link_rows == busy.link_rows
    assert loaded.server_rows == busy.server_rows
    assert loaded.summary == busy.summary
    assert loaded.bin_s == busy.bin_s
    assert list(loaded.links.columns) == list(loads.LINK_COLUMNS)
    assert loaded.servers["sessions_max"].dtype == "int64"
    assert loaded.links["utilisation"].max() == busy.summary["loads"]["most_loaded_link"]["utilisation"]


def test_refusals_at_submission_and_at_a_remote_host_count_at_the_refusing_server() -> None:
    """nobody@a.example is refused (550) by alice's own server at submission; nobody@b.example by
    mx.b, whose 550 reaches mx.a's delivery job: one refusal at each, in the bin it happened."""
    result = run_yaml("""
        name: refusals
        duration: 1m
        network:
          links:
            - {between: [office, mx.a], latency: 5ms}
            - {between: [mx.a, mx.b], latency: 20ms}
        servers:
          mx.a: {domains: [a.example]}
          mx.b: {domains: [b.example]}
        users:
          - {address: alice@a.example, at: office}
          - {address: bob@b.example, at: mx.b}
        messages:
          - {at: 10s, from: alice@a.example, to: [nobody@a.example], size: 1KB}
          - {at: 40s, from: alice@a.example, to: [nobody@b.example], size: 1KB}
        """)
    refused = {(r["server"], r["time"]): r["refused_550"] for r in result.server_rows if r["refused_550"]}
    bounced = [(t, v[2], v[4]) for t, e, _m, _n, v in result.records if e == "bounced"]
    assert [(reason, host) for _t, reason, host in bounced] == [("submission", None), ("refused", "mx.b")]
    assert refused == {("mx.a", bounced[0][0] // result.bin_s * result.bin_s): 1,
                       ("mx.b", bounced[1][0] // result.bin_s * result.bin_s): 1}


def test_retrieved_mail_flows_from_the_server_to_the_reader() -> None:
    """One 100 KB message: relayed mx.a->mx.b, then fetched by bob's device over mx.b->home."""
    result = run_yaml("""
        name: fetch
        duration: 1m
        network:
          links:
            - {between: [mx.a, mx.b], latency: 20ms, bandwidth: 10Mbps}
            - {between: [home, mx.b], latency: 10ms, bandwidth: 1Mbps}
        servers:
          mx.a: {domains: [a.example]}
          mx.b: {domains: [b.example]}
        users:
          - {address: alice@a.example, at: mx.a}
          - {address: bob@b.example, at: home, access: {protocol: pop3, poll: 1m}}
        messages:
          - {at: 1s, from: alice@a.example, to: [bob@b.example], size: 100KB}
        """)
    wire = next(v[5] for _t, e, _m, _n, v in result.records if e == "created")
    carried = Counter()
    for r in result.link_rows:
        carried[r["direction"]] += r["bytes"]
    assert result.tables.retrievals
    assert carried == pytest.approx({"mx.a->mx.b": wire, "mx.b->mx.a": 0.0, "home->mx.b": 0.0, "mx.b->home": wire})


def test_a_folder_without_load_tables_still_loads(busy: Result, tmp_path: Path) -> None:
    """A folder of an older mailsim (no links.csv, servers.csv, no summary loads) loads and plots."""
    old = Result(busy.scenario, busy.seed, busy.end_time_s, busy.records)
    folder = old.save(tmp_path / "old", with_plots=False)
    assert not (folder / "links.csv").exists() and not (folder / "servers.csv").exists()
    loaded = Result.load(folder)
    assert "loads" not in loaded.summary and loaded.summary["counts"] == busy.summary["counts"]
    assert "links" not in loaded.figures() and "queue_length" in loaded.figures()
    with pytest.raises(ValueError, match="older mailsim"):
        loaded.link_rows  # noqa: B018


# ---- server capacity ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def limited() -> Result:
    """Every limit on, with outages: workers, max_inbound, rate limits (both replies), queue limits."""
    from test_capacity import world

    text = world(
        mx_a="{workers: 2, processing: {exponential: {mean: 2s}}, destination_concurrency: 2, concurrency: 3, "
             "queue_limit: 6, max_inbound: 3}",
        mx_b="{workers: 1, processing: 1s, max_inbound: 2, rate_limit: {messages: 20, per: 30m}}",
        backup="{relay_for: [b.example], queue_limit: 2, rate_limit: {messages: 5, per: 10m, reply: rcpt}}",
        outages="outages:\n  - {target: mx.b, mtbf: 20m, mttr: 5m}\n")
    scenario = load_scenario(text).override({"traffic": [
        {"from": "a.example", "to": "b.example", "rate": "60/h", "size": "20KB"},
        {"from": "b.example", "to": "a.example", "rate": "20/h", "size": "20KB"}]})
    return run(scenario, seed=3, bin_s=60.0)


def test_refusals_by_limit_are_the_refused_records(limited: Result) -> None:
    expected = Counter((node, v[3]) for _t, e, _m, node, v in limited.records if e == "refused")
    assert {why for _node, why in expected} == set(loads.LIMITS)  # every limit refused something
    got: Counter[tuple[str, str]] = Counter()
    for row in limited.server_rows:
        for why in loads.LIMITS:
            got[(row["server"], why)] += row[f"refused_{why}"]
    assert +got == expected


def test_busy_workers_follow_processing_and_stay_within_the_workers(limited: Result) -> None:
    spans: dict[str, list[tuple[float, float]]] = {}
    started: dict[tuple[str, str], list[float]] = {}
    for t, e, m, node, _v in limited.records:
        if e == "processing":
            started.setdefault((node, m), []).append(t)
        elif e == "processed":
            spans.setdefault(node, []).append((started[(node, m)].pop(0), t))
    for server, workers in (("mx.a", 2), ("mx.b", 1)):
        rows = by_bin(limited, server)
        assert max(r["workers_busy_max"] for r in rows) == workers  # the workers were all busy at times
        for row in rows:
            lo, hi = row["time"], row["time"] + row["duration_s"]
            moments = [lo] + [s for s, _ in spans[server] if lo <= s < hi]
            assert row["workers_busy_max"] == max(sum(1 for s, e in spans[server] if s <= m < e) for m in moments)


def test_max_inbound_holds_and_is_reached_when_it_refuses(limited: Result) -> None:
    for server, limit in (("mx.a", 3), ("mx.b", 2)):
        rows = by_bin(limited, server)
        assert max(r["sessions_max"] for r in rows) <= limit
        for row in rows:
            if row["refused_max_inbound"]:
                assert row["sessions_max"] == limit
    assert sum(r["refused_max_inbound"] for r in limited.server_rows) > 0


# ---- the reductions servers.csv is counted with -------------------------------------------------


def test_a_running_sum_adds_each_groups_steps_in_log_order() -> None:
    import numpy as np

    groups, steps = np.array([1, 0, 1, 0, 1, 2]), np.array([1, 1, 1, -1, -1, 1])
    assert loads._running_sum(groups, steps).tolist() == [1, 1, 2, 0, 1, 1]
    assert loads._running_sum(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)).tolist() == []


def test_a_level_per_cell_is_its_maximum_and_its_last_value_in_log_order() -> None:
    import numpy as np

    maxima, last = loads._per_bin(np.array([2, 0, 2, 2]), np.array([5, 1, 3, 4]), 4)
    assert maxima.tolist() == [1, 0, 5, 0]
    assert last.tolist() == [1, None, 4, None]


def test_the_author_of_a_refused_submission_is_found_far_back() -> None:
    """The refused message was made 300 messages before its refusal: the look back widens until it
    finds its ``created`` record; other messages' authors are not read."""
    from simulator.logcolumns import log_columns

    def made(i: int, author: str) -> tuple[Any, ...]:
        return (float(i), "created", f"m{i}", "office", ("mail", author, author, ("x@a.example",), 10, 10, None, None))

    records = [made(0, "alice@a.example"), *(made(i, "bob@b.example") for i in range(1, 301)),
               (301.0, "bounced", "m0", "office", ("x@a.example", "550", "submission", "-", None)),
               (302.0, "bounced", "m7", "mx.a", ("x@a.example", "550", "refused", "-", "mx.b"))]
    assert loads._submission_authors(log_columns(records)) == {"m0": "alice@a.example"}
