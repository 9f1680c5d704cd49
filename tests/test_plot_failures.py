"""Plots do not hide failures: latency CDFs count bounced and pending pairs, and the queue plot
shades link outages anywhere on a server's paths to the servers it relays to.

Every expectation is computed from the run's own tables (deliveries.csv rows) or from the
scenario's timings, and read back from the figure objects (legend texts, gids, patches).
"""

from __future__ import annotations

import math
from typing import Any

import pytest
from conftest import run_yaml

from simulator import Result, cutoffs, plots

# beta.example's only link to the core breaks at 5m for the whole run: its two messages sent
# before get through, the rest bounce after give_up (20m) or are still pending at `until`.
# gamma.example is fine; delta.example's server is reachable but every address is unknown.
SCENARIO = """
name: failures
seed: 5
duration: 2h
until: 2h
network:
  links:
    - {between: [lan.a, mx.a], latency: 1ms}
    - {between: [mx.a, core], latency: 10ms}
    - {between: [core, mx.b], latency: 15ms}
    - {between: [lan.b, mx.b], latency: 2ms}
    - {between: [core, mx.c], latency: 20ms}
    - {between: [lan.c, mx.c], latency: 1ms}
    - {between: [core, mx.d], latency: 5ms}
servers:
  mx.a: {domains: [alpha.example]}
  mx.b: {domains: [beta.example]}
  mx.c: {domains: [gamma.example]}
  mx.d: {domains: [delta.example]}
defaults:
  retry: {policy: fixed, interval: 5m, give_up: 20m}
users:
  - {address: ann@alpha.example, at: lan.a}
  - {address: bob@beta.example, at: lan.b, access: {protocol: pop3, poll: 5m}}
  - {address: cy@gamma.example, at: lan.c, access: {protocol: imap}}
  - {address: dee@delta.example, at: lan.c, access: {protocol: http, poll: 5m}}
messages:
  - {at: 1m, from: ann@alpha.example, to: [bob@beta.example], size: 2KB}
  - {at: 2m, from: ann@alpha.example, to: [bob@beta.example, cy@gamma.example], size: 2KB}
  - {at: 10m, from: ann@alpha.example, to: [bob@beta.example], size: 2KB}
  - {at: 20m, from: ann@alpha.example, to: [bob@beta.example], size: 2KB}
  - {at: 30m, from: ann@alpha.example, to: [bob@beta.example, cy@gamma.example], size: 2KB}
  - {at: 1h50m, from: ann@alpha.example, to: [bob@beta.example], size: 2KB}
  - {at: 40m, from: ann@alpha.example, to: [nobody@delta.example], size: 2KB}
  - {at: 41m, from: ann@alpha.example, to: [nobody2@delta.example], size: 2KB}
outages:
  - {target: core--mx.b, start: 5m, duration: 1d}
  - {target: mx.c, start: 1h, duration: 5m}
"""


@pytest.fixture(scope="module")
def result() -> Result:
    return run_yaml(SCENARIO)


def _mail(result: Result, **filters: object) -> list[dict[str, Any]]:
    return [r for r in result.tables.deliveries
            if r["kind"] == "mail" and all(r[k] == v for k, v in filters.items())]


def _domain_rows(result: Result, domain: str) -> list[dict[str, Any]]:
    return [r for r in _mail(result) if r["recipient"].endswith("@" + domain)]


def _legend(fig: Any) -> list[str]:
    return [t.get_text() for ax in fig.axes if ax.get_legend() for t in ax.get_legend().get_texts()]


def _entry(fig: Any, prefix: str) -> str:
    found = [t for t in _legend(fig) if t.startswith(prefix)]
    assert len(found) == 1, (prefix, _legend(fig))
    return found[0]


def _gid(fig: Any, gid: str) -> Any:
    found = [a for ax in fig.axes for a in ax.get_children() if a.get_gid() == gid]
    assert len(found) == 1, f"expected one artist {gid!r}, found {len(found)}"
    return found[0]


def _counts(rows: list[dict[str, Any]]) -> dict[str, int]:
    return {status: sum(r["status"] == status for r in rows) for status in ("delivered", "bounced", "pending")}


def test_the_scenario_has_each_kind_of_failure(result: Result) -> None:
    beta = _counts(_domain_rows(result, "beta.example"))
    assert beta["delivered"] == 2 and beta["bounced"] >= 3 and beta["pending"] >= 1
    assert _counts(_domain_rows(result, "delta.example")) == {"delivered": 0, "bounced": 2, "pending": 0}


@pytest.mark.parametrize("domain", ["beta.example", "gamma.example", "delta.example"])
def test_domain_legend_counts_every_pair_by_its_fate(result: Result, domain: str) -> None:
    fig = result.plot_latency("domain")
    rows = _domain_rows(result, domain)
    c = _counts(rows)
    text = _entry(fig, f"{domain}:")
    if c["delivered"] == len(rows):
        assert text.startswith(f"{domain}: all {len(rows)} delivered\n")
    else:
        assert text.startswith(f"{domain}: {c['delivered']} delivered, {c['bounced']} bounced, {c['pending']} pending")
    if 0 < c["delivered"] < len(rows):
        assert f"\nof the {c['delivered']} delivered: p50 " in text


def test_domain_curve_levels_off_at_the_delivered_share(result: Result) -> None:
    fig = result.plot_latency("domain")
    for domain in ("beta.example", "delta.example"):
        rows = _domain_rows(result, domain)
        delivered = sorted(r["latency_s"] for r in rows if r["status"] == "delivered")
        line = _gid(fig, f"cdf:{domain}")
        assert list(line.get_ydata()) == pytest.approx([(i + 1) / len(rows) for i in range(len(delivered))])
        plateau = _gid(fig, f"plateau:{domain}")
        assert list(plateau.get_ydata()) == pytest.approx([len(delivered) / len(rows)] * 2)
        assert plateau.get_xdata()[-1] == pytest.approx(plateau.axes.get_xlim()[1])
        assert plateau.get_linestyle() == ":"
    with pytest.raises(AssertionError):  # every pair to gamma got there: no plateau below 1
        _gid(fig, "plateau:gamma.example")
    assert "dotted: the rest never did" in fig.axes[0].get_legend().get_title().get_text()
    assert fig.axes[0].get_ylabel() == "share of all (message, recipient) pairs"


def test_domain_with_nothing_delivered_draws_no_percentiles(result: Result) -> None:
    fig = result.plot_latency("domain")
    assert "p50" not in _entry(fig, "delta.example:")
    with pytest.raises(AssertionError):
        _gid(fig, "p50:delta.example")


def test_percentile_markers_of_a_failing_domain_sit_on_its_curve(result: Result) -> None:
    fig = result.plot_latency("domain")
    rows = _domain_rows(result, "beta.example")
    delivered = sorted(r["latency_s"] for r in rows if r["status"] == "delivered")
    marker = _gid(fig, "p50:beta.example")
    assert marker.get_xdata()[0] == pytest.approx((delivered[0] + delivered[1]) / 2)
    assert marker.get_ydata()[0] == pytest.approx(0.5 * len(delivered) / len(rows))


def test_overall_legend_counts_bounced_pending_and_unread(result: Result) -> None:
    fig = result.plot_latency()
    c = result.summary["counts"]
    text = _entry(fig, "delivery: submitted to mailbox:")
    assert text.startswith(f"delivery: submitted to mailbox: {c['delivered']} delivered, {c['bounced']} bounced, "
                           f"{c['pending']} pending\n")
    mail = _mail(result)
    retrieved = sum(r["retrieved_at"] is not None for r in mail)
    unread = sum(r["status"] == "delivered" and r["retrieved_at"] is None for r in mail)
    text = _entry(fig, "end to end: submitted to first device:")
    assert f"{retrieved} retrieved, {unread} in mailbox, {c['bounced']} bounced, {c['pending']} pending" in text


def test_protocol_legend_counts_the_pairs_of_its_users(result: Result) -> None:
    fig = result.plot_latency("protocol")
    users = {"pop3": "bob@beta.example", "imap": "cy@gamma.example"}
    for protocol, address in users.items():
        rows = _mail(result, recipient=address)
        retrieved = sum(r["retrieved_at"] is not None for r in rows)
        unread = sum(r["status"] == "delivered" and r["retrieved_at"] is None for r in rows)
        c = _counts(rows)
        text = _entry(fig, f"{protocol}: end to end:")
        if retrieved == len(rows):
            assert text.startswith(f"{protocol}: end to end: all {retrieved} retrieved\n")
        else:
            assert text.startswith(f"{protocol}: end to end: {retrieved} retrieved, {unread} in mailbox, "
                                   f"{c['bounced']} bounced, {c['pending']} pending")
        line = _gid(fig, f"cdf:{protocol}: end to end")
        assert line.get_ydata()[-1] == pytest.approx(retrieved / len(rows))
    # nobody@delta.example is no user: its bounces are in no protocol's counts
    assert not [t for t in _legend(fig) if t.startswith("http: end to end") and "bounced" in t and "0 bounced" not in t]


def test_cdf_figure_counts_missing_values() -> None:
    fig = plots.cdf_figure({"run": [1.0, 2.0, float("nan"), None, 3.0], "clean": [1.0, 4.0]})  # type: ignore[list-item]
    assert _entry(fig, "run:").startswith("run: 3 with a value, 2 missing\n")
    assert _entry(fig, "clean (n=2):")
    assert list(_gid(fig, "cdf:run").get_ydata()) == pytest.approx([0.2, 0.4, 0.6])
    assert list(_gid(fig, "cdf:clean").get_ydata()) == pytest.approx([0.5, 1.0])


# ---- the queue plot's shading ---------------------------------------------------------------


def _spans(fig: Any, gid: str) -> list[tuple[float, float]]:
    patches = [p for ax in fig.axes for p in ax.patches if p.get_gid() == gid]
    return sorted((p.get_bbox().x0, p.get_bbox().x1) for p in patches)


def test_queue_plot_shades_a_link_outage_beyond_the_servers_own_links(result: Result) -> None:
    fig = result.plot_queues()
    scale, _unit = plots.time_scale(result.end_time_s)
    outage_start = 5 * 60 / scale
    end = result.end_time_s / scale
    # core--mx.b is not a link of mx.a, but it cuts mx.a off from mx.b, where it relays to
    assert _spans(fig, "cut:mx.a") == [pytest.approx((outage_start, end))]
    assert _spans(fig, "cut:mx.b") == [pytest.approx((outage_start, end))]  # its own link
    # mx.c and mx.d relay nothing to mx.b: the outage does not concern their queues
    assert _spans(fig, "cut:mx.c") == [] and _spans(fig, "cut:mx.d") == []
    assert _spans(fig, "down:mx.c") == [pytest.approx((60 * 60 / scale, 65 * 60 / scale))]
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert "links down cut it off from a server it relays to, or its own link down" in legend


LINKS = [("a", "r1"), ("r1", "b"), ("a", "r2"), ("r2", "b"), ("b", "c")]


def test_link_cutoffs_needs_every_parallel_path_down() -> None:
    spans = [("r1--b", 10.0, 50.0), ("r2--b", 30.0, 70.0), ("b", 0.0, 100.0)]  # "b": a server outage, ignored
    got = cutoffs.link_cutoffs(spans, LINKS, {"a": ["b"], "b": [], "c": ["a"]})
    assert got["a"] == [(30.0, 50.0)]  # only while both paths to b are down
    assert got["c"] == [(30.0, 50.0)]
    assert got["b"] == [(10.0, 70.0)]  # an end of both links, though it relays to nobody


def test_link_cutoffs_merges_adjacent_spans_and_ignores_unrelated_links() -> None:
    spans = [("b--c", 0.0, 10.0), ("b--c", 10.0, 20.0), ("a--r1", 5.0, 15.0)]
    got = cutoffs.link_cutoffs(spans, LINKS, {"a": ["b"], "c": ["b"]})
    assert got["a"] == [(5.0, 15.0)]  # an end of a--r1, though b stays reachable through r2
    assert got["c"] == [(0.0, 20.0)]
    assert math.isclose(sum(e - s for s, e in got["c"]), 20.0)


def test_destinations_are_the_hosts_attempts_tried(result: Result) -> None:
    got = cutoffs.destinations(result.records)
    assert got == {"mx.a": {"mx.b", "mx.c", "mx.d"}}
