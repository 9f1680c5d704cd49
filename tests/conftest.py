"""Shared test helpers: run a scenario given as YAML text, and read its rows and events.

Kept small and generic on purpose: every test module may use these.

- ``run_yaml(text, seed=None, overrides=None) -> Result``: load (dedented) YAML text, or a plain
  mapping dumped to YAML, and simulate it.
- ``rows(result, kind=..., status=..., recipient=..., message_id=...)``: rows of deliveries.csv.
- ``row(result, **filters)``: the one row matching the filters (fails if not exactly one).
- ``events(result, name=None, message_id=None, node=None)``: ``Event`` records with parsed details.
- ``mail_id(result, recipient)``: the id of the (one) mail message addressed to ``recipient``.
- ``TOL``: the tolerance for "exact" contract times (float sums of a few terms).
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pytest
import yaml

from simulator import Result, load_scenario, run
from simulator.eventkinds import text_fields

# Times built from a handful of float additions agree with hand arithmetic far below 1e-9 s.
TOL = {"abs": 1e-9, "rel": 1e-12}


def exact(value: float) -> Any:
    """``pytest.approx`` with the tolerance used for contract times."""
    return pytest.approx(value, **TOL)


def run_yaml(
    text: str | Mapping[str, Any], seed: int | None = None, overrides: Mapping[str, object] | None = None
) -> Result:
    """Simulate the scenario written as YAML ``text`` (dedented first) or given as a plain mapping."""
    if not isinstance(text, str):
        text = yaml.safe_dump(dict(text), sort_keys=False)
    scenario = load_scenario(textwrap.dedent(text))
    if overrides:
        scenario = scenario.override(dict(overrides))
    return run(scenario, seed=seed)


@dataclass(frozen=True, slots=True)
class Event:
    """One event-log record with its fields in ``f``, as events.csv writes them."""

    time: float
    name: str
    message_id: str
    node: str
    f: dict[str, str]


def events(result: Result, name: str | None = None, message_id: str | None = None,
           node: str | None = None) -> list[Event]:
    """Records of the run, optionally only one event type, message and node; in log order."""
    out = []
    for time_s, event, mid, where, detail in result.records:
        if name is not None and event != name:
            continue
        if message_id is not None and mid != message_id:
            continue
        if node is not None and where != node:
            continue
        out.append(Event(time_s, event, mid, where, text_fields(event, detail)))
    return out


def rows(result: Result, **filters: object) -> list[dict[str, Any]]:
    """Rows of deliveries.csv whose columns equal every given filter (``kind="mail"``, ...)."""
    return [r for r in result.tables.deliveries if all(r[k] == v for k, v in filters.items())]


def row(result: Result, **filters: object) -> dict[str, Any]:
    """The single deliveries row matching ``filters``."""
    found = rows(result, **filters)
    assert len(found) == 1, f"expected one row for {filters}, got {len(found)}"
    return found[0]


def mail_id(result: Result, recipient: str) -> str:
    """The id of the one mail message with ``recipient`` among its recipients."""
    return row(result, kind="mail", recipient=recipient)["message_id"]


def assert_conserved(result: Result, allow_pending: bool = False) -> None:
    """Nothing lost, nothing invented: the invariants every finished run must satisfy.

    - every (message, recipient) of a created message (and every target an alias added to it)
      has exactly one row, ending delivered, bounced or pending, or expanded by a list or alias,
      and the summary's counts of final recipients add up;
    - a delivered row has its ``delivered`` event at ``delivered_at``; a bounced row its
      ``bounced`` event; a non-submission bounce of mail names a DSN that exists;
    - DSNs are only about mail (never a DSN about a DSN; a list's copy of a DSN is about it);
    - a duplicate delivery only follows a session cut after the server had accepted;
    - without ``allow_pending`` (no ``until``), nothing is pending and every queue ends empty.
    """
    table = result.tables.deliveries
    created = {e.message_id: e for e in events(result, "created")}
    expansions = events(result, "expanded")
    expanded = {}  # (message, list or alias) -> its first expansion
    for e in expansions:
        expanded.setdefault((e.message_id, e.f["rcpt"]), e)
    copies = {e.f["copy"] for e in expansions if "copy" in e.f}  # a list's; an alias makes none
    added = [(e.message_id, rcpt) for e in expansions if "copy" not in e.f for rcpt in e.f["to"].split(",")]
    pairs = {(mid, rcpt) for mid, e in created.items() for rcpt in e.f["to"].split(",")}
    assert sorted((r["message_id"], r["recipient"]) for r in table) == sorted(pairs | set(added))
    assert all(r["status"] in ("delivered", "bounced", "pending", "expanded") for r in table)
    assert all((r["status"] == "expanded") == ((r["message_id"], r["recipient"]) in expanded) for r in table)
    mail = [r for r in table if r["kind"] == "mail" and r["status"] != "expanded"]
    counts = result.summary["counts"]
    assert counts["submitted"] == len(mail) == counts["delivered"] + counts["bounced"] + counts["pending"]
    assert counts.get("expanded", 0) == sum(r["kind"] == "mail" and r["status"] == "expanded" for r in table)
    assert counts["pending"] == sum(r["status"] == "pending" for r in mail)
    for kind, key in (("bounce", "bounces_sent"), ("warning", "warnings_sent")):  # DSNs, not lists' copies of them
        dsns = {r["message_id"] for r in table if r["kind"] == kind and r["message_id"] not in copies}
        assert counts[key] == len(dsns)

    delivered_at: dict[tuple[str, str], list[float]] = {}
    for e in events(result, "delivered"):
        delivered_at.setdefault((e.message_id, e.f["rcpt"]), []).append(e.time)
    bounced = {}
    for e in events(result, "bounced"):
        bounced.setdefault((e.message_id, e.f["rcpt"]), e)
    kinds = {mid: e.f["kind"] for mid, e in created.items()}
    for r in table:
        key = (r["message_id"], r["recipient"])
        if r["status"] == "delivered":
            assert delivered_at.get(key, [None])[0] == r["delivered_at"], key
            assert len(delivered_at[key]) == 1, f"{key} delivered twice without a duplicate event"
            assert r["delivered_at"] >= r["submitted_at"]
        else:
            assert key not in delivered_at
        if r["status"] == "bounced":
            e = bounced[key]
            if r["kind"] == "mail" and e.f["reason"] != "submission":
                assert kinds.get(e.f["dsn"]) == "bounce", f"bounce of {key} names no DSN"
        if r["status"] == "expanded":
            assert expanded[key].time == r["delivered_at"]
        if r["kind"] != "mail" and r["message_id"] not in copies:
            assert kinds[r["about"]] == "mail", f"DSN {r['message_id']} is about a DSN"

    cut_after_accept: dict[str, int] = {}
    for e in events(result, "session_cut"):
        if e.f["accepted"] == "yes":
            cut_after_accept[e.message_id] = cut_after_accept.get(e.message_id, 0) + 1
    accepted_by: dict[str, set[str]] = {}
    for e in result.records:
        if e[1] == "accepted":
            accepted_by.setdefault(e[2], set()).add(e[3])
        elif e[1] == "submit_failed" and e[3] != "" and e[2] in accepted_by:
            cut_after_accept[e[2]] = cut_after_accept.get(e[2], 0) + 1  # may have been after acceptance
    for e in events(result, "duplicate"):
        assert cut_after_accept.get(e.message_id, 0) > 0, f"duplicate of {e.message_id} without a cut session"
    again = [e for e in expansions if expanded[(e.message_id, e.f["rcpt"])] is not e]  # a list or alias got it twice
    for e in again:
        assert cut_after_accept.get(e.message_id, 0) > 0, f"{e.message_id} expanded twice without a cut session"
    again = [e for e in again if "copy" in e.f]  # an alias's targets log their own duplicates
    duplicates = [*events(result, "duplicate"), *again]
    assert counts["duplicates"] == sum(1 for e in duplicates if kinds[e.message_id] == "mail")

    if not allow_pending:
        assert counts["pending"] == 0
        assert all(r["status"] != "pending" for r in table)
        last: dict[str, int] = {}
        for q in result.tables.queues:
            last[q["server"]] = q["queue_length"]
        assert all(v == 0 for v in last.values()), last


@pytest.fixture(autouse=True)
def _end_of_run_balanced(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every world a test runs to its end leaves the end-of-run counter at zero: each hold was
    released (a run stopped by ``until`` may still hold work, and is not checked)."""
    from simulator.world import World

    original = World.run

    def run_and_check(self: World, *args: Any, **kwargs: Any) -> float:
        end = original(self, *args, **kwargs)
        if self.ctx.end.done.triggered:
            assert self.ctx.end.count == 0, f"{self.ctx.end.count} holds never released"
            assert self.ctx.end.sources == 0
        return end

    monkeypatch.setattr(World, "run", run_and_check)
