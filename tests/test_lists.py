"""Mailing lists and aliases (docs/scenario.md, "Lists and aliases"): exact times of a list's
expansion from the contract's arithmetic, its bounce path to the owner, nested lists at one
server and at another, aliases (same message, same envelope sender), DSNs sent to a list, the
per-recipient counts, loops and bombs refused at validation, and the workload estimate.

The world: ``lan.a -5ms/10Mbps- mx.a -20ms/100Mbps- core -30ms- mx.b``, ``core -10ms- mx.c``.
The list server is ``mx.b``; ``mx.c`` holds remote members. Links into ``mx.b`` and ``mx.c``
have no bandwidth limit, so a relay from ``mx.b`` takes 4.5 RTT and no transfer time, and
bounces back to ``mx.a`` share no link with anything.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import assert_conserved, events, exact, row, rows, run_yaml

from simulator import load_scenario
from simulator.cli import main
from simulator.scenario import ScenarioError
from simulator.workload import estimate

MS = 1e-3
D_SUB, BPS_SUB = 5 * MS, 10e6  # lan.a -- mx.a
D_AB, BPS_AB = 50 * MS, 100e6  # mx.a -- core -- mx.b (the 100 Mbps link is the only limited one)
D_BC = 40 * MS  # mx.b -- core -- mx.c, unlimited
T0 = 60.0
TEXT_BYTES = 10_000

ALICE, OWNER = "alice@a.example", "owner@a.example"
BOB, CAROL, ERIN = "bob@b.example", "carol@b.example", "erin@c.example"
NOBODY_B, NOBODY_C = "nobody@b.example", "nobody@c.example"


def header_bytes(sender: str, to: list[str]) -> int:
    """The contract's header block: 420 bytes, then From: and To: lines with their CRLF."""
    return 420 + len("From: ") + len(sender) + 2 + len("To: ") + len(", ".join(to)) + 2


def accepted_at(t0_s: float, d_s: float, wire_bytes: int, bps: float | None) -> float:
    """A pipelined session from ``t0_s``: 4.5 RTT plus the transfer time."""
    return t0_s + 4.5 * 2 * d_s + (0.0 if bps is None else 8 * wire_bytes / bps)


def world(lists: list[dict[str, Any]] | None = None, aliases: list[dict[str, Any]] | None = None,
          to: list[str] | None = None) -> dict[str, Any]:
    scenario: dict[str, Any] = {
        "name": "lists",
        "duration": 0,
        "network": {"links": [
            {"between": ["lan.a", "mx.a"], "latency": "5ms", "bandwidth": "10Mbps"},
            {"between": ["mx.a", "core"], "latency": "20ms", "bandwidth": "100Mbps"},
            {"between": ["core", "mx.b"], "latency": "30ms"},
            {"between": ["core", "mx.c"], "latency": "10ms"},
        ]},
        "servers": {"mx.a": {"domains": ["a.example"]}, "mx.b": {"domains": ["b.example"]},
                    "mx.c": {"domains": ["c.example"]}},
        "users": [
            {"address": ALICE, "at": "lan.a"},
            {"address": OWNER, "at": "mx.a"},
            {"address": BOB, "at": "mx.b"},
            {"address": CAROL, "at": "mx.b"},
            {"address": ERIN, "at": "mx.c"},
        ],
        "messages": [{"at": "1m", "from": ALICE, "to": to or ["news@b.example"], "size": TEXT_BYTES}],
    }
    if lists:
        scenario["lists"] = lists
    if aliases:
        scenario["aliases"] = aliases
    return scenario


def created(result: Any, message_id: str) -> dict[str, str]:
    [record] = events(result, "created", message_id)
    return record.f


def copy_of(result: Any, message_id: str, list_address: str) -> str:
    """The id of the copy ``list_address`` made of ``message_id``."""
    [record] = [e for e in events(result, "expanded", message_id) if e.f["rcpt"] == list_address]
    assert record.f["via"] == "list"
    return record.f["copy"]


# ---- a list's expansion and bounce path ---------------------------------------------------------


def test_a_list_re_sends_to_its_members_with_the_owner_as_envelope_sender() -> None:
    result = run_yaml(world(lists=[{"address": "news@b.example", "members": [BOB, ERIN, NOBODY_C],
                                    "owner": OWNER}]))
    wire = header_bytes(ALICE, ["news@b.example"]) + TEXT_BYTES
    a1 = accepted_at(T0, D_SUB, wire, BPS_SUB)  # submission at mx.a
    a2 = accepted_at(a1, D_AB, wire, BPS_AB)  # mx.b accepts for the list, and expands it at once
    a3 = accepted_at(a2, D_BC, wire, None)  # the copy's session to mx.c
    refused = a2 + 4 * 2 * D_BC  # pipelined: the 550 for nobody@c is known after 4 RTT

    assert row(result, message_id="m1", recipient="news@b.example")["status"] == "expanded"
    assert row(result, message_id="m1", recipient="news@b.example")["delivered_at"] == exact(a2)
    copy = copy_of(result, "m1", "news@b.example")
    envelope = created(result, copy)
    assert (envelope["sender"], envelope["from"], envelope["about"]) == (OWNER, ALICE, "m1")
    assert envelope["to"].split(",") == [BOB, ERIN, NOBODY_C]
    assert int(envelope["wire"]) == wire  # the same content: the list's To: header, not the members
    [expanded] = events(result, "expanded", "m1")
    assert expanded.time == exact(a2) and expanded.node == "mx.b"

    bob, erin, nobody = (row(result, message_id=copy, recipient=r) for r in (BOB, ERIN, NOBODY_C))
    assert bob["delivered_at"] == exact(a2) and bob["status"] == "delivered"
    assert erin["delivered_at"] == exact(a3) and erin["status"] == "delivered"
    assert erin["submitted_at"] == T0 and erin["latency_s"] == exact(a3 - T0)  # from the author's send
    assert erin["sender"] == ALICE and erin["about"] == "m1"
    assert (nobody["status"], nobody["code"]) == ("bounced", "550")
    [bounced] = events(result, "bounced", copy)
    assert bounced.time == exact(refused)

    # The member's bounce goes to the owner, not to the author.
    dsn = row(result, kind="bounce")
    assert (dsn["recipient"], dsn["about"]) == (OWNER, copy)
    dsn_wire = header_bytes("MAILER-DAEMON@mx.b", [OWNER]) + 1200 + 60 + header_bytes(ALICE, ["news@b.example"])
    assert dsn["wire_bytes"] == dsn_wire  # quoting the copy's header block: the list's To:
    assert dsn["delivered_at"] == exact(accepted_at(refused, D_AB, dsn_wire, BPS_AB))
    assert not rows(result, recipient=ALICE)

    counts = result.summary["counts"]
    assert (counts["submitted"], counts["delivered"], counts["bounced"], counts["expanded"]) == (3, 2, 1, 1)
    assert counts["bounces_sent"] == 1
    assert result.summary["latency_s"]["max"] == exact(a3 - T0)
    assert_conserved(result)


def test_the_default_owner_is_list_owner_and_an_alias_can_deliver_its_bounces() -> None:
    result = run_yaml(world(lists=[{"address": "news@b.example", "members": [BOB, NOBODY_B]}],
                            aliases=[{"address": "news-owner@b.example", "to": CAROL}]))
    wire = header_bytes(ALICE, ["news@b.example"]) + TEXT_BYTES
    a2 = accepted_at(accepted_at(T0, D_SUB, wire, BPS_SUB), D_AB, wire, BPS_AB)
    copy = copy_of(result, "m1", "news@b.example")
    assert created(result, copy)["sender"] == "news-owner@b.example"
    nobody = row(result, message_id=copy, recipient=NOBODY_B)  # refused at the list server itself
    assert (nobody["status"], nobody["code"]) == ("bounced", "550")
    dsn = row(result, kind="bounce", recipient=CAROL)  # the alias rewrote the DSN's recipient
    assert dsn["delivered_at"] == exact(a2) and dsn["about"] == copy
    assert row(result, kind="bounce", recipient="news-owner@b.example")["status"] == "expanded"
    assert_conserved(result)


def test_nested_lists_each_make_a_copy_with_their_own_owner_here_and_at_another_server() -> None:
    result = run_yaml(world(lists=[
        {"address": "news@b.example", "members": ["team@b.example", BOB]},
        {"address": "team@b.example", "members": [CAROL, "far@c.example", BOB]},
        {"address": "far@c.example", "members": [ERIN]},
    ]))
    wire = header_bytes(ALICE, ["news@b.example"]) + TEXT_BYTES
    a2 = accepted_at(accepted_at(T0, D_SUB, wire, BPS_SUB), D_AB, wire, BPS_AB)
    a3 = accepted_at(a2, D_BC, wire, None)
    news = copy_of(result, "m1", "news@b.example")
    team = copy_of(result, news, "team@b.example")
    far = copy_of(result, team, "far@c.example")
    assert len({"m1", news, team, far}) == 4
    assert [created(result, m)["sender"] for m in (news, team, far)] == [
        "news-owner@b.example", "team-owner@b.example", "far-owner@c.example"]
    assert row(result, message_id=news, recipient="team@b.example")["delivered_at"] == exact(a2)
    assert row(result, message_id=team, recipient="far@c.example")["delivered_at"] == exact(a3)
    [far_expanded] = events(result, "expanded", team)
    assert far_expanded.node == "mx.c" and far_expanded.time == exact(a3)
    delivered = sorted((r["recipient"], r["message_id"], r["delivered_at"]) for r in rows(result, status="delivered"))
    # bob is a member of both lists: each list sends him its own copy
    assert delivered == sorted([(BOB, news, exact(a2)), (BOB, team, exact(a2)), (CAROL, team, exact(a2)),
                                (ERIN, far, exact(a3))])
    assert all(r["submitted_at"] == T0 for r in rows(result, kind="mail"))
    counts = result.summary["counts"]
    assert (counts["submitted"], counts["delivered"], counts["expanded"], counts["messages"]) == (4, 4, 3, 3)
    assert_conserved(result)


# ---- aliases ------------------------------------------------------------------------------------


def test_an_alias_forwards_the_same_message_with_the_authors_envelope() -> None:
    result = run_yaml(world(aliases=[{"address": "postmaster@b.example", "to": [BOB, "help@b.example"]},
                                     {"address": "help@b.example", "to": [ERIN, NOBODY_C, BOB]}],
                            to=["postmaster@b.example", BOB]))
    wire = header_bytes(ALICE, ["postmaster@b.example", BOB]) + TEXT_BYTES
    a2 = accepted_at(accepted_at(T0, D_SUB, wire, BPS_SUB), D_AB, wire, BPS_AB)
    a3 = accepted_at(a2, D_BC, wire, None)
    assert {r["message_id"] for r in result.tables.deliveries if r["kind"] == "mail"} == {"m1"}
    assert [(e.f["rcpt"], e.f["to"]) for e in events(result, "expanded")] == [
        ("postmaster@b.example", f"{BOB},help@b.example"), ("help@b.example", f"{ERIN},{NOBODY_C},{BOB}")]
    assert all("copy" not in e.f and e.f["via"] == "alias" for e in events(result, "expanded"))
    assert row(result, recipient=BOB)["delivered_at"] == exact(a2)
    assert not events(result, "duplicate")  # bob is named three times and gets it once
    assert row(result, recipient=ERIN)["delivered_at"] == exact(a3)
    [attempt] = events(result, "attempt", "m1", "mx.b")
    assert attempt.f["rcpts"] == f"{ERIN},{NOBODY_C}"
    # same envelope: the bounce goes to the author
    dsn = row(result, kind="bounce")
    assert (dsn["recipient"], dsn["about"]) == (ALICE, "m1")
    assert [r["recipient"] for r in rows(result, message_id="m1", status="expanded")] == [
        "postmaster@b.example", "help@b.example"]
    counts = result.summary["counts"]
    assert (counts["submitted"], counts["delivered"], counts["bounced"], counts["expanded"]) == (3, 2, 1, 2)
    assert_conserved(result)


def test_a_dsn_sent_to_a_list_keeps_the_null_sender_and_never_bounces() -> None:
    result = run_yaml(world(lists=[{"address": "news@b.example", "members": [BOB, NOBODY_C],
                                    "owner": "admins@b.example"},
                                   {"address": "admins@b.example", "members": [CAROL, "ghost@c.example"]}]))
    news = copy_of(result, "m1", "news@b.example")
    [dsn] = [e for e in events(result, "created") if e.f["kind"] == "bounce" and e.f["about"] == news]
    assert dsn.f["to"] == "admins@b.example" and dsn.f["about"] == news
    dsn_copy = copy_of(result, dsn.message_id, "admins@b.example")
    envelope = created(result, dsn_copy)
    assert (envelope["kind"], envelope["sender"], envelope["about"]) == ("bounce", "<>", dsn.message_id)
    assert row(result, message_id=dsn_copy, recipient=CAROL)["status"] == "delivered"
    assert row(result, message_id=dsn_copy, recipient="ghost@c.example")["status"] == "bounced"
    assert result.summary["counts"]["bounces_sent"] == 1  # the DSN copy's failure makes no DSN
    assert_conserved(result)


def test_lists_under_random_outages_lose_nothing() -> None:
    scenario = world(lists=[{"address": "news@b.example", "members": [BOB, "team@c.example", NOBODY_C]},
                            {"address": "team@c.example", "members": [ERIN, "c.example"]}],
                     aliases=[{"address": "news-owner@b.example", "to": [OWNER, CAROL]}])
    scenario["duration"] = "6h"
    scenario["traffic"] = [{"from": ALICE, "to": "b.example", "rate": "4/h", "size": "5KB"}]
    scenario["messages"] = [{"at": f"{k}m", "from": ALICE, "to": ["news@b.example"], "size": "20KB"}
                            for k in range(1, 360, 7)]
    scenario["outages"] = [{"target": "mx.b", "mtbf": "1h", "mttr": "10m"},
                           {"target": "core--mx.c", "mtbf": "40m", "mttr": "15m"}]
    for seed in (1, 2, 3):
        result = run_yaml(scenario, seed=seed)
        assert_conserved(result)
        assert result.summary["counts"]["expanded"] >= 2 * len(scenario["messages"])


# ---- validation, limits, effective scenario -----------------------------------------------------


def write(tmp_path: Path, scenario: dict[str, Any]) -> Path:
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(scenario, sort_keys=False))
    return path


def cli(*argv: str) -> tuple[int, str, str]:
    import io

    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out, err)
    return code, out.getvalue(), err.getvalue()


@pytest.mark.parametrize(("lists", "aliases", "named", "says"), [
    ([{"address": "news@b.example", "members": [BOB, "news@b.example"]}], [],
     "lists.0.members.1", "'news@b.example' leads back to itself, a loop: news@b.example (lists.0) -> "
                          "news@b.example (lists.0.members.1)"),
    ([{"address": "news@b.example", "members": ["fwd@c.example"]}], [{"address": "fwd@c.example", "to": "team"}],
     "aliases.0.to.0", "neither a domain held by a server, a group prefix"),
    ([{"address": "news@b.example", "members": ["fwd@c.example"]}],
     [{"address": "fwd@c.example", "to": ["x@b.example", "news@b.example"]}],
     "aliases.0.to.1", "a loop: news@b.example (lists.0) -> fwd@c.example (lists.0.members.0) -> "
                       "news@b.example (aliases.0.to.1)"),
    ([{"address": BOB, "members": [CAROL]}], [], "lists.0.address", "is a user's address"),
    ([{"address": "news@b.example", "members": [CAROL]}], [{"address": "news@b.example", "to": BOB}],
     "aliases.0.address", "already a list or alias (lists.0)"),
    ([{"address": "news@z.example", "members": [CAROL, CAROL]}], [], "lists.0.address",
     "domain 'z.example' is not held"),
    ([{"address": "news@b.example", "members": [CAROL, CAROL]}], [], "lists.0.members.1", "listed twice"),
    ([{"address": "news@b.example", "members": ["b.example"], "owner": "x@z.example"}], [], "lists.0.owner",
     "not held by any server"),
    ([{"address": "news@b.example", "members": []}], [], "lists.0.members", "at least 1"),
    ([{"address": "news@b.example", "members": [BOB], "moderator": BOB}], [], "lists.0.moderator", "unknown key"),
])
def test_bad_lists_and_aliases_exit_2_naming_the_key_and_line(tmp_path: Path, lists: list[Any],
                                                               aliases: list[Any], named: str, says: str) -> None:
    path = write(tmp_path, world(lists=lists, aliases=aliases))
    out_dir = tmp_path / "out"
    code, out, err = cli("run", str(path), "-o", str(out_dir), "--quiet")
    assert code == 2 and not out
    assert "Traceback" not in err and not out_dir.exists()
    [line] = [text for text in err.splitlines() if text.startswith(named + ":")]
    assert says in line and "(line " in line
    assert cli("validate", str(path))[0] == 2


def test_a_chain_deeper_than_the_limit_is_refused() -> None:
    chain = [{"address": f"l{k}@b.example", "members": [f"l{k + 1}@b.example"]} for k in range(101)]
    chain.append({"address": "l101@b.example", "members": [BOB]})
    with pytest.raises(ScenarioError, match=r"lists\.0\.address: a message to 'l0@b.example' passes through a chain "
                                            r"of 102 lists and aliases, more than the 100 allowed"):
        load_scenario(yaml.safe_dump(world(lists=chain)))


def test_the_estimate_counts_final_recipients_and_nested_bombs_are_refused() -> None:
    scenario = world(lists=[{"address": "news@b.example", "members": ["staff", "team@b.example", BOB]},
                            {"address": "team@b.example", "members": ["staff", NOBODY_B]}],
                     to=["news@b.example", CAROL])
    scenario["users"].append({"group": {"prefix": "staff", "count": 20_000, "domain": "b.example"}, "at": "mx.b"})
    # news reaches 20,000 staff + team's 20,001 + bob; carol is one more
    assert estimate(load_scenario(yaml.safe_dump(scenario))).scripted_pairs == 20_000 + 20_001 + 1 + 1
    with pytest.raises(ScenarioError) as raised:
        load_scenario(yaml.safe_dump(scenario), max_messages=30_000)
    messages = [str(p) for p in raised.value.problems]
    # team (20,001) is under the limit; news passes it at its second member
    assert messages[0].startswith("lists.0.members.1: one message to 'news@b.example' would reach 40,002 final "
                                  "recipients")
    assert "--max-messages" in messages[0]
    doubling = [{"address": "l0@b.example", "members": ["staff"]}]
    doubling += [{"address": f"l{k}@b.example", "members": [f"l{k - 1}@b.example", f"m{k - 1}@b.example"]}
                 for k in range(1, 30)]
    doubling += [{"address": f"m{k}@b.example", "members": [f"l{k}@b.example"]} for k in range(29)]
    scenario = world(lists=doubling)
    scenario["users"].append({"group": {"prefix": "staff", "count": 20_000, "domain": "b.example"}, "at": "mx.b"})
    with pytest.raises(ScenarioError, match=r"lists\.7\.members\.1: one message to 'l7@b\.example' would reach "
                                            r"2,560,000 final recipients"):
        load_scenario(yaml.safe_dump(scenario))


def test_the_effective_scenario_fills_in_owners_and_reloads_equal(tmp_path: Path) -> None:
    scenario = load_scenario(yaml.safe_dump(world(lists=[{"address": "news@b.example", "members": BOB}],
                                                  aliases=[{"address": "help@b.example", "to": CAROL}])))
    effective = yaml.safe_load(scenario.to_effective_yaml())
    assert effective["lists"] == [{"address": "news@b.example", "members": [BOB], "owner": "news-owner@b.example"}]
    assert effective["aliases"] == [{"address": "help@b.example", "to": [CAROL]}]
    assert load_scenario(scenario.to_effective_yaml()) == scenario
    assert "lists" not in yaml.safe_load(load_scenario(yaml.safe_dump(world())).to_effective_yaml())


# ---- what the tools show of a list's copy -------------------------------------------------------


def test_a_copys_session_carries_the_list_posts_bytes_under_the_owners_envelope() -> None:
    import email
    import email.policy

    from simulator import run
    from simulator.transcript.build import build_conversations

    scenario = load_scenario(yaml.safe_dump(world(lists=[{"address": "news@b.example", "members": [ERIN, NOBODY_C],
                                                          "owner": OWNER}])))
    result = run(scenario, trace=True)
    conversations = build_conversations(result.traces, result.records, scenario, result.end_time_s)
    copy = copy_of(result, "m1", "news@b.example")
    [relay] = [c for c in conversations if copy in c.message_ids and c.protocol == "smtp"]
    client = [text for _, side, text, _ in relay.lines() if side == "C"]
    assert f"MAIL FROM:<{OWNER}> SIZE={int(created(result, copy)['wire'])}" in client
    assert f"RCPT TO:<{ERIN}>" in client and f"RCPT TO:<{NOBODY_C}>" in client
    [post] = [c for c in conversations if "m1" in c.message_ids and c.protocol == "smtp" and c.server == "mx.b"]
    body = next(s.body for s in relay.sends if s.body is not None).render()
    original = next(s.body for s in post.sends if s.body is not None).render()
    assert len(body) == int(created(result, copy)["wire"])
    message = email.message_from_bytes(body, policy=email.policy.compat32)
    assert (message["To"], message["Message-ID"], message["From"]) == ("<news@b.example>", "<m1@a.example>",
                                                                      f"<{ALICE}>")
    assert body == original  # the same bytes as the post the list got (its Received: line included)
    dsn_id = row(result, kind="bounce")["message_id"]
    [dsn] = [c for c in conversations if dsn_id in c.message_ids and c.protocol == "smtp"]
    quoted = "\n".join(text for _, _, text, _ in dsn.lines())
    assert "Message-ID: <m1@a.example>" in quoted and "Final-Recipient: rfc822; nobody@c.example" in quoted


def test_a_journey_shows_the_expansion_and_the_copy() -> None:
    from simulator.journey import build

    result = run_yaml(world(lists=[{"address": "news@b.example", "members": [BOB, "team@b.example"]},
                                   {"address": "team@b.example", "members": [CAROL]}],
                            aliases=[{"address": "news-owner@b.example", "to": BOB}]))
    journey = build(result.records, "m1")
    news = copy_of(result, "m1", "news@b.example")
    team = copy_of(result, news, "team@b.example")
    labels = [(step.src, step.message_id, step.label) for step in journey.steps]
    assert ("mx.b", "m1", f"news@b.example is a list: copy {news} to {BOB}, team@b.example") in labels
    assert ("mx.b", news, f"{news}: a list's copy of m1, from news-owner@b.example, to {BOB}, team@b.example") in labels
    assert ("mx.b", team, f"{team}: a list's copy of {news}, from team-owner@b.example, to {CAROL}") in labels
    assert ("mx.b", team, f"{team}: in the mailbox of {CAROL}") in labels


def test_the_time_breakdown_follows_a_member_back_through_the_list_and_an_alias() -> None:
    from simulator.breakdown import breakdown_rows, time_breakdown

    scenario = world(lists=[{"address": "news@b.example", "members": ["fwd@b.example"]}],
                     aliases=[{"address": "fwd@b.example", "to": ERIN}])
    scenario["outages"] = [{"target": "mx.c", "start": 0, "duration": "2m"}]  # the copy's first connect fails
    result = run_yaml(scenario)
    wire = header_bytes(ALICE, ["news@b.example"]) + TEXT_BYTES
    a1 = accepted_at(T0, D_SUB, wire, BPS_SUB)
    a2 = accepted_at(a1, D_AB, wire, BPS_AB)
    retry = a2 + 30 + 30 * 60  # connect timeout, then the fixed 30-minute retry
    a3 = accepted_at(retry, D_BC, wire, None)
    [erin] = [r for r in breakdown_rows(time_breakdown(result.records, result.tables.columns("deliveries")))
              if r["recipient"] == ERIN]
    assert erin["latency_s"] == exact(a3 - T0)
    assert erin["transfer_s"] == exact((a1 - T0) + (a2 - a1) + (a3 - retry))  # submission, relay, the copy's relay
    assert erin["queue_wait_s"] == exact(retry - a2)  # in mx.b's queue, waiting for mx.c


def test_bounces_to_an_owner_address_that_is_nobodys_are_refused_and_dropped() -> None:
    result = run_yaml(world(lists=[{"address": "news@b.example", "members": [BOB, NOBODY_B]}]))
    dsn = row(result, kind="bounce")
    assert (dsn["recipient"], dsn["status"], dsn["code"]) == ("news-owner@b.example", "bounced", "550")
    assert result.summary["counts"]["bounces_sent"] == 1  # a DSN is never bounced
    assert_conserved(result)


def test_a_list_that_gets_a_post_twice_sends_a_second_copy_and_counts_the_duplicate() -> None:
    wire = header_bytes(ALICE, ["news@b.example"]) + TEXT_BYTES
    a2 = accepted_at(accepted_at(T0, D_SUB, wire, BPS_SUB), D_AB, wire, BPS_AB)
    scenario = world(lists=[{"address": "news@b.example", "members": [BOB]}])
    # cut mx.a's session after mx.b accepted, before the 250 is back (a window of d = 50 ms)
    scenario["outages"] = [{"target": "mx.a--core", "start": a2 + 0.02, "duration": "1m"}]
    result = run_yaml(scenario)
    assert [e.f["accepted"] for e in events(result, "session_cut", "m1")] == ["yes"]
    expansions = [e for e in events(result, "expanded", "m1")]
    assert len(expansions) == 2 and expansions[0].time == exact(a2)
    assert expansions[1].time > a2 + 30 * 60  # after the sender's retry
    copies = {e.f["copy"] for e in expansions}
    assert sorted(r["message_id"] for r in rows(result, recipient=BOB)) == sorted(copies)
    news = row(result, message_id="m1", recipient="news@b.example")
    assert (news["status"], news["duplicates"], news["delivered_at"]) == ("expanded", 1, exact(a2))
    assert result.summary["counts"]["duplicates"] == 1
    assert_conserved(result)


def test_an_alias_that_gets_a_message_twice_passes_it_on_and_the_target_counts_the_duplicate() -> None:
    wire = header_bytes(ALICE, ["help@b.example"]) + TEXT_BYTES
    a2 = accepted_at(accepted_at(T0, D_SUB, wire, BPS_SUB), D_AB, wire, BPS_AB)
    scenario = world(aliases=[{"address": "help@b.example", "to": BOB}], to=["help@b.example"])
    scenario["outages"] = [{"target": "mx.a--core", "start": a2 + 0.02, "duration": "1m"}]
    result = run_yaml(scenario)
    assert len(events(result, "expanded", "m1")) == 2
    [duplicate] = events(result, "duplicate", "m1")
    assert duplicate.f["rcpt"] == BOB
    assert row(result, recipient=BOB)["duplicates"] == 1
    assert row(result, recipient="help@b.example")["duplicates"] == 0
    assert result.summary["counts"]["duplicates"] == 1
    assert_conserved(result)


def test_the_json_schema_accepts_the_worked_scenario_and_lists_without_owner() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    from simulator.scenario import scenario_json_schema

    schema = scenario_json_schema()
    worked = yaml.safe_load((Path(__file__).parent.parent / "scenarios" / "mailing-list.yaml").read_text())
    assert any("owner" not in entry for entry in worked["lists"])
    jsonschema.validate(worked, schema)
    for bad in ({"address": "x@b.example"}, {"address": "x@b.example", "members": [], "owner": OWNER},
                {"address": "x@b.example", "members": [BOB], "moderator": BOB}):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate({**worked, "lists": [bad]}, schema)


def test_a_list_with_a_bad_address_gets_one_error_not_one_for_its_default_owner() -> None:
    with pytest.raises(ScenarioError) as raised:
        load_scenario(yaml.safe_dump(world(lists=[{"address": 5, "members": [BOB]}])))
    assert [p.path for p in raised.value.problems] == ["lists.0.address"]
