"""Tests for simulator.scenario: loading, validation errors with key paths and lines,
effective defaults, the effective YAML, overrides and the JSON Schema."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from simulator.randomness import Constant, Exponential, Lognormal
from simulator.scenario import (
    Problem,
    Scenario,
    ScenarioError,
    load_scenario,
    scenario_from_dict,
    scenario_json_schema,
)
from simulator.scenario.servers import MXRecord
from simulator.scenario.users import GroupSpec, UserSpec

# The complete example of SCENARIO.md, unchanged.
EXAMPLE = """\
name: two-domains
seed: 7
duration: 1d          # traffic generators stop creating messages after this
# until: 7d           # hard stop; default: run until nothing is queued, in flight or waiting to be retrieved

network:
  links:
    - {between: [lan.alpha, mx.alpha], latency: 1ms, bandwidth: 1Gbps}
    - {between: [mx.alpha, core], latency: 20ms, bandwidth: 100Mbps}
    - {between: [core, mx.beta], latency: 30ms, bandwidth: 50Mbps}
    - {between: [core, backup.beta], latency: 40ms}
    - {between: [lan.beta, mx.beta], latency: 1ms, bandwidth: 1Gbps}

servers:
  mx.alpha:
    domains: [alpha.example]         # holds these domains' mailboxes; users submit to it
  mx.beta:
    domains: [beta.example]
    max_message_size: 25MB
  backup.beta:
    relay_for: [beta.example]        # a backup MX: accepts, queues, relays to the primary

dns:                                 # MX records; default for a domain: the server holding its mailboxes
  beta.example:
    - {host: mx.beta, preference: 10}
    - {host: backup.beta, preference: 20}

defaults:                            # applies to every server unless the server overrides it
  retry: {policy: fixed, interval: 30m, give_up: 5d, warn_after: 4h}

users:
  - address: alice@alpha.example
    at: lan.alpha                    # the network node where this user's devices sit
    access: {protocol: imap, devices: 2}
  - group: {prefix: staff, count: 200, domain: beta.example}   # staff001..staff200@beta.example
    at: lan.beta
    access: {protocol: pop3, poll: 10m, keep: false}

traffic:
  - from: alpha.example              # a domain, a group prefix, or an address
    to: beta.example
    rate: 40/d                       # per sending user, Poisson
    recipients: 1                    # int or distribution
    size: {lognormal: {median: 10KB, sigma: 2.0}}
    attachments: {probability: 0.1, size: {lognormal: {median: 300KB, sigma: 1.0}}}

messages:                            # scripted messages, for exact experiments
  - {at: 10m, from: alice@alpha.example, to: [staff001@beta.example], size: 20KB}
  - {at: 1h, from: alice@alpha.example, to: [staff002@beta.example], size: 5KB, attachment: 2MB}

outages:
  - {target: mx.beta, start: 2h, duration: 3h}
  - {target: mx.alpha--core, start: 1d, end: 1d2h}     # a link: its two ends joined by --
  - {target: backup.beta, mtbf: 7d, mttr: 1h}          # random: exponential up and down times
"""

# A small scenario whose line numbers the error tests rely on (line N = Nth line).
BASE = """\
name: t
duration: 1h
network:
  links:
    - {between: [lan, mx.one], latency: 1ms}
    - {between: [mx.one, mx.two], latency: 10ms, bandwidth: 10Mbps}
servers:
  mx.one:
    domains: [one.example]
  mx.two:
    domains: [two.example]
users:
  - {address: a@one.example, at: lan}
  - {address: b@two.example, at: mx.two}
  - group: {prefix: staff, count: 20, domain: two.example}
    at: mx.two
traffic:
  - {from: one.example, to: staff, rate: 5/h, size: 10KB}
messages:
  - {at: 1m, from: a@one.example, to: [b@two.example], size: 1KB}
outages:
  - {target: mx.two, start: 10m, duration: 5m}
"""


@pytest.fixture(scope="module")
def example() -> Scenario:
    return load_scenario(EXAMPLE)


@pytest.fixture(scope="module")
def base() -> Scenario:
    return load_scenario(BASE)


def problems_of(source: str) -> list[Problem]:
    with pytest.raises(ScenarioError) as info:
        load_scenario(source)
    assert info.value.problems, "a ScenarioError always lists its problems"
    return info.value.problems


def edit(text: str, *replacements: tuple[str, str]) -> str:
    for old, new in replacements:
        assert old in text, old
        text = text.replace(old, new, 1)
    return text


# --------------------------------------------------------------------------- the example


def test_example_scenario_header(example: Scenario) -> None:
    assert example.name == "two-domains"
    assert example.seed == 7
    assert example.duration_s == 86400.0
    assert example.until_s is None


def test_example_links(example: Scenario) -> None:
    link = example.links[1]
    assert (link.a, link.b, link.name) == ("mx.alpha", "core", "mx.alpha--core")
    assert link.latency_s == 0.02
    assert link.bandwidth_bps == 1e8
    assert example.links[3].bandwidth_bps is None
    assert example.links[0].latency_s == 0.001
    assert example.nodes() == {"lan.alpha", "mx.alpha", "core", "mx.beta", "backup.beta", "lan.beta"}
    assert example.link("core", "mx.alpha") is link


def test_example_servers_get_defaults_merged(example: Scenario) -> None:
    beta = example.servers["mx.beta"]
    assert beta.name == "mx.beta"
    assert beta.retry.policy == "fixed"
    assert beta.retry.interval_s == 1800.0
    assert beta.retry.give_up_s == 432000.0
    assert beta.retry.warn_after_s == 14400.0
    assert beta.max_message_size_bytes == 25_000_000
    assert beta.connect_timeout_s == 30.0
    assert beta.concurrency == 100
    assert beta.pipelining is True
    assert example.servers["mx.alpha"].max_message_size_bytes == 10_240_000
    backup = example.servers["backup.beta"]
    assert backup.domains == ()
    assert backup.relay_for == ("beta.example",)
    assert backup.retry.warn_after_s == 14400.0


def test_example_dns_is_sorted_and_defaulted(example: Scenario) -> None:
    assert example.dns["beta.example"] == (
        MXRecord(host="mx.beta", preference=10),
        MXRecord(host="backup.beta", preference=20),
    )
    assert example.dns["alpha.example"] == (MXRecord(host="mx.alpha", preference=0),)
    assert example.server_for_domain("beta.example") == "mx.beta"
    assert example.domains() == {"alpha.example": "mx.alpha", "beta.example": "mx.beta"}
    with pytest.raises(KeyError):
        example.server_for_domain("gamma.example")


def test_example_users(example: Scenario) -> None:
    alice, staff = example.users
    assert isinstance(alice, UserSpec) and isinstance(staff, GroupSpec)
    assert alice.access.protocol == "imap"
    assert alice.access.devices == 2
    assert alice.access.idle is True
    assert alice.access.poll_s == 60.0
    assert (staff.prefix, staff.count, staff.domain, staff.at) == ("staff", 200, "beta.example", "lan.beta")
    assert staff.access.protocol == "pop3"
    assert staff.access.poll_s == 600.0
    assert staff.access.keep is False
    assert staff.access.offset_s is None


def test_example_expanded_users(example: Scenario) -> None:
    users = example.expanded_users()
    assert len(users) == 201
    assert users[0].address == "alice@alpha.example" and users[0].group is None
    assert users[1].address == "staff001@beta.example"
    assert users[1].group == "staff"
    assert users[1].at == "lan.beta"
    assert users[1].access.protocol == "pop3"
    assert users[-1].address == "staff200@beta.example"
    assert example.user("staff042@beta.example") is not None
    assert example.user("staff201@beta.example") is None
    assert len(example.users_of("staff")) == 200
    assert len(example.users_of("beta.example")) == 200
    assert [u.address for u in example.users_of("alpha.example")] == ["alice@alpha.example"]
    assert example.users_of("alice@alpha.example")[0].address == "alice@alpha.example"


def test_example_traffic(example: Scenario) -> None:
    (traffic,) = example.traffic
    assert (traffic.from_, traffic.to) == ("alpha.example", "beta.example")
    assert traffic.rate_per_s == pytest.approx(40 / 86400, rel=1e-15)
    assert traffic.recipients == Constant(1)
    assert traffic.size == Lognormal(10_000, 2.0)
    assert traffic.attachments is not None
    assert traffic.attachments.probability == 0.1
    assert traffic.attachments.size == Lognormal(300_000, 1.0)


def test_example_messages(example: Scenario) -> None:
    first, second = example.messages
    assert (first.at_s, first.from_, first.to, first.size_bytes) == (
        600.0,
        "alice@alpha.example",
        ("staff001@beta.example",),
        20_000,
    )
    assert first.attachment_bytes is None
    assert (second.at_s, second.size_bytes, second.attachment_bytes) == (3600.0, 5000, 2_000_000)


def test_example_outages(example: Scenario) -> None:
    server, link, random = example.outages
    assert (server.kind, server.start_s, server.end_s) == ("server", 7200.0, 18000.0)
    assert (link.kind, link.ends, link.start_s, link.end_s) == ("link", ("mx.alpha", "core"), 86400.0, 93600.0)
    assert (random.mtbf_s, random.mttr_s, random.start_s, random.end_s) == (604800.0, 3600.0, None, None)
    assert random.kind == "server" and not random.scheduled
    with pytest.raises(ValueError):
        _ = server.ends


def test_scenario_is_frozen(example: Scenario) -> None:
    with pytest.raises(ValidationError):
        example.seed = 3  # type: ignore[misc]
    with pytest.raises(ValidationError):
        example.servers["mx.beta"].concurrency = 1  # type: ignore[misc]


def test_load_from_a_file_and_a_path_object(tmp_path: Path, example: Scenario) -> None:
    path = tmp_path / "example.yaml"
    path.write_text(EXAMPLE, encoding="utf-8")
    assert load_scenario(path) == example
    assert load_scenario(str(path)) == example


def test_a_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    for source in (tmp_path / "nope.yaml", str(tmp_path / "nope.yaml"), "nope.yaml"):
        with pytest.raises(ScenarioError, match="no such scenario file"):
            load_scenario(source)


def test_errors_print_one_line_per_problem_with_lines() -> None:
    text = edit(BASE, ("  mx.one:\n", "  mx.one:\n    retry: {policy: fixed, intervall: 30m}\n    concurrency: 0\n"))
    with pytest.raises(ScenarioError) as info:
        load_scenario(text)
    lines = str(info.value).splitlines()
    assert len(lines) == len(info.value.problems) == 2
    assert lines[0].startswith("servers.mx.one.retry.intervall: unknown key 'intervall'")
    assert lines[0].endswith("(line 9)")
    assert lines[1].startswith("servers.mx.one.concurrency: ")
    assert lines[1].endswith("(line 10)")


def test_scenario_from_dict_has_no_lines() -> None:
    with pytest.raises(ScenarioError) as info:
        scenario_from_dict({"name": "x", "duration": "1h", "network": {"links": []}, "servers": {}})
    assert {p.path for p in info.value.problems} == {"network.links", "servers"}
    assert all(p.line is None for p in info.value.problems)


# --------------------------------------------------------------------------- bad inputs

ADD_SERVER_THREE = ("  mx.two:\n", "  mx.three:\n    domains: [three.example]\n  mx.two:\n")
BAD_INPUTS: list[tuple[str, str, str, int | None]] = [
    # (id, scenario text, expected path, expected line)
    (
        "intervall",
        edit(BASE, ("  mx.one:\n", "  mx.one:\n    retry: {policy: fixed, intervall: 30m}\n")),
        "servers.mx.one.retry.intervall",
        9,
    ),
    ("unknown top-level key", BASE + "colour: red\n", "colour", 23),
    ("missing duration", edit(BASE, ("duration: 1h\n", "")), "duration", None),
    ("missing network", edit(BASE, ("network:\n  links:\n", "net:\n  links:\n")), "network", None),
    ("name not a string", edit(BASE, ("name: t", "name: 5")), "name", 1),
    ("seed a float", edit(BASE, ("name: t\n", "name: t\nseed: 1.5\n")), "seed", 2),
    ("seed a string", edit(BASE, ("name: t\n", "name: t\nseed: abc\n")), "seed", 2),
    ("seed negative", edit(BASE, ("name: t\n", "name: t\nseed: -1\n")), "seed", 2),
    ("duration negative", edit(BASE, ("duration: 1h", "duration: -5m")), "duration", 2),
    ("duration unparseable", edit(BASE, ("duration: 1h", "duration: 1x")), "duration", 2),
    ("until unparseable", edit(BASE, ("duration: 1h\n", "duration: 1h\nuntil: soon\n")), "until", 3),
    ("latency unparseable", edit(BASE, ("latency: 1ms}", "latency: soon}")), "network.links.0.latency", 5),
    ("latency missing", edit(BASE, (", latency: 1ms}", "}")), "network.links.0.latency", 5),
    ("bandwidth zero", edit(BASE, ("bandwidth: 10Mbps", "bandwidth: 0")), "network.links.1.bandwidth", 6),
    ("bandwidth in bytes", edit(BASE, ("bandwidth: 10Mbps", "bandwidth: 10MB")), "network.links.1.bandwidth", 6),
    ("link to itself", edit(BASE, ("[lan, mx.one]", "[mx.one, mx.one]")), "network.links.0.between", 5),
    ("link with three ends", edit(BASE, ("[lan, mx.one]", "[lan, mx.one, mx.two]")), "network.links.0.between", 5),
    ("node name with --", edit(BASE, ("[lan, mx.one]", "[la--n, mx.one]")), "network.links.0.between.0", 5),
    (
        "duplicate link, other order",
        edit(BASE, ("servers:\n", "    - {between: [mx.one, lan], latency: 2ms}\nservers:\n")),
        "network.links.2.between",
        7,
    ),
    ("link key typo", edit(BASE, ("latency: 1ms}", "latency: 1ms, bandwith: 1Gbps}")), "network.links.0.bandwith", 5),
    ("server not a node", edit(BASE, ADD_SERVER_THREE), "servers.mx.three", 10),
    (
        "server not connected",
        edit(
            BASE,
            ("servers:\n", "    - {between: [mx.iso, lan.iso], latency: 1ms}\nservers:\n"),
            ("  mx.two:\n", "  mx.iso:\n    domains: [iso.example]\n  mx.two:\n"),
        ),
        "servers.mx.iso",
        11,
    ),
    (
        "server key typo",
        edit(BASE, ("    domains: [one.example]\n", "    domain: [one.example]\n")),
        "servers.mx.one.domain",
        9,
    ),
    (
        "server name key",
        edit(BASE, ("    domains: [one.example]\n", "    domains: [one.example]\n    name: x\n")),
        "servers.mx.one.name",
        10,
    ),
    (
        "domains not a list",
        edit(BASE, ("domains: [one.example]", "domains: {one.example: 1}")),
        "servers.mx.one.domains",
        9,
    ),
    (
        "domain held twice",
        edit(BASE, ("domains: [two.example]", "domains: [two.example, one.example]")),
        "servers.mx.two.domains.1",
        11,
    ),
    (
        "relay for nobody's domain",
        edit(BASE, ("    domains: [two.example]\n", "    domains: [two.example]\n    relay_for: [z.example]\n")),
        "servers.mx.two.relay_for.0",
        12,
    ),
    (
        "concurrency zero",
        edit(BASE, ("    domains: [one.example]\n", "    domains: [one.example]\n    concurrency: 0\n")),
        "servers.mx.one.concurrency",
        10,
    ),
    (
        "concurrency fractional",
        edit(BASE, ("    domains: [one.example]\n", "    domains: [one.example]\n    concurrency: 2.5\n")),
        "servers.mx.one.concurrency",
        10,
    ),
    (
        "message size unit",
        edit(BASE, ("    domains: [one.example]\n", "    domains: [one.example]\n    max_message_size: 25XB\n")),
        "servers.mx.one.max_message_size",
        10,
    ),
    (
        "pipelining not a bool",
        edit(BASE, ("    domains: [one.example]\n", "    domains: [one.example]\n    pipelining: maybe\n")),
        "servers.mx.one.pipelining",
        10,
    ),
    (
        "connect timeout zero",
        edit(BASE, ("    domains: [one.example]\n", "    domains: [one.example]\n    connect_timeout: 0s\n")),
        "servers.mx.one.connect_timeout",
        10,
    ),
    (
        "retry key wrong for policy",
        edit(BASE, ("  mx.one:\n", "  mx.one:\n    retry: {policy: postfix, interval: 30m}\n")),
        "servers.mx.one.retry.interval",
        9,
    ),
    (
        "backoff key with fixed",
        edit(BASE, ("  mx.one:\n", "  mx.one:\n    retry: {initial: 5m}\n")),
        "servers.mx.one.retry.initial",
        9,
    ),
    (
        "unknown retry policy",
        edit(BASE, ("  mx.one:\n", "  mx.one:\n    retry: {policy: sometimes}\n")),
        "servers.mx.one.retry.policy",
        9,
    ),
    (
        "backoff max below initial",
        edit(BASE, ("  mx.one:\n", "  mx.one:\n    retry: {policy: backoff, initial: 1h, max: 5m}\n")),
        "servers.mx.one.retry.max",
        9,
    ),
    (
        "exim rule bad",
        edit(BASE, ("  mx.one:\n", "  mx.one:\n    retry: {policy: exim, rule: 'X,1h,1m'}\n")),
        "servers.mx.one.retry.rule",
        9,
    ),
    (
        "retry interval unparseable",
        edit(BASE, ("  mx.one:\n", "  mx.one:\n    retry:\n      interval: often\n")),
        "servers.mx.one.retry.interval",
        10,
    ),
    ("defaults unknown key", edit(BASE, ("users:\n", "defaults:\n  retyr: {}\nusers:\n")), "defaults.retyr", 13),
    (
        "defaults retry wrong key",
        edit(BASE, ("users:\n", "defaults:\n  retry: {policy: exim, interval: 1h}\nusers:\n")),
        "defaults.retry.interval",
        13,
    ),
    ("defaults not a mapping", edit(BASE, ("users:\n", "defaults: [1]\nusers:\n")), "defaults", 12),
    (
        "dns for an undefined domain",
        edit(BASE, ("users:\n", "dns:\n  three.example: [{host: mx.one, preference: 1}]\nusers:\n")),
        "dns.three.example",
        13,
    ),
    (
        "dns host not a server",
        edit(BASE, ("users:\n", "dns:\n  one.example: [{host: mx.nine, preference: 1}]\nusers:\n")),
        "dns.one.example.0.host",
        13,
    ),
    (
        "dns host neither holds nor relays",
        edit(BASE, ("users:\n", "dns:\n  one.example:\n    - {host: mx.two, preference: 1}\nusers:\n")),
        "dns.one.example.0.host",
        14,
    ),
    (
        "dns preference missing",
        edit(BASE, ("users:\n", "dns:\n  one.example:\n    - {host: mx.one}\nusers:\n")),
        "dns.one.example.0.preference",
        14,
    ),
    ("user at unknown node", edit(BASE, ("at: lan}", "at: lan2}")), "users.0.at", 13),
    ("user key typo", edit(BASE, ("at: lan}", "at: lan, acess: {}}")), "users.0.acess", 13),
    ("user not a mapping", edit(BASE, ("  - {address: a@one.example, at: lan}", "  - just-a-string")), "users.0", 13),
    ("duplicate address", edit(BASE, ("b@two.example, at", "a@one.example, at")), "users.1.address", 14),
    ("address in a group", edit(BASE, ("b@two.example, at", "staff007@two.example, at")), "users.1.address", 14),
    ("address not local@domain", edit(BASE, ("b@two.example, at", "b.two.example, at")), "users.1.address", 14),
    ("address in undefined domain", edit(BASE, ("b@two.example, at", "b@nowhere.example, at")), "users.1.address", 14),
    (
        "access protocol unknown",
        edit(BASE, ("at: lan}", "at: lan, access: {protocol: smtp}}")),
        "users.0.access.protocol",
        13,
    ),
    ("access devices zero", edit(BASE, ("at: lan}", "at: lan, access: {devices: 0}}")), "users.0.access.devices", 13),
    (
        "keep with imap",
        edit(BASE, ("at: lan}", "at: lan, access: {protocol: imap, keep: true}}")),
        "users.0.access.keep",
        13,
    ),
    (
        "idle with pop3",
        edit(BASE, ("at: lan}", "at: lan, access: {protocol: pop3, idle: true}}")),
        "users.0.access.idle",
        13,
    ),
    ("poll zero", edit(BASE, ("at: lan}", "at: lan, access: {poll: 0}}")), "users.0.access.poll", 13),
    ("group count zero", edit(BASE, ("count: 20", "count: 0")), "users.2.group.count", 15),
    (
        "group domain undefined",
        edit(BASE, ("domain: two.example}", "domain: three.example}")),
        "users.2.group.domain",
        15,
    ),
    ("group key typo", edit(BASE, ("count: 20", "cuont: 20")), "users.2.group.cuont", 15),
    (
        "group prefix used twice",
        edit(
            BASE, ("traffic:\n", "  - group: {prefix: staff, count: 2, domain: one.example}\n    at: lan\ntraffic:\n")
        ),
        "users.3.group.prefix",
        17,
    ),
    ("traffic from unknown", edit(BASE, ("from: one.example", "from: nobody")), "traffic.0.from", 18),
    ("traffic to unknown address", edit(BASE, ("to: staff", "to: zz@two.example")), "traffic.0.to", 18),
    ("traffic rate unit", edit(BASE, ("rate: 5/h", "rate: 5/w")), "traffic.0.rate", 18),
    ("traffic rate missing", edit(BASE, ("rate: 5/h, ", "")), "traffic.0.rate", 18),
    ("traffic size kind", edit(BASE, ("size: 10KB}", "size: {gaussian: {mean: 1}}}")), "traffic.0.size.gaussian", 18),
    (
        "traffic size sigma",
        edit(BASE, ("size: 10KB}", "size: {lognormal: {median: 1KB, sigma: -1}}}")),
        "traffic.0.size.lognormal.sigma",
        18,
    ),
    ("recipients zero", edit(BASE, ("size: 10KB}", "size: 10KB, recipients: 0}")), "traffic.0.recipients", 18),
    (
        "recipients choice fractional",
        edit(BASE, ("size: 10KB}", "size: 10KB, recipients: {choice: [[1, 1], [1.5, 1]]}}")),
        "traffic.0.recipients.choice.1.0",
        18,
    ),
    (
        "attachment probability",
        edit(BASE, ("size: 10KB}", "size: 10KB, attachments: {probability: 2, size: 1KB}}")),
        "traffic.0.attachments.probability",
        18,
    ),
    (
        "scripted from unknown user",
        edit(BASE, ("from: a@one.example, to", "from: q@one.example, to")),
        "messages.0.from",
        20,
    ),
    (
        "scripted to undefined domain",
        edit(BASE, ("to: [b@two.example]", "to: [b@two.example, c@nowhere.example]")),
        "messages.0.to.1",
        20,
    ),
    ("scripted to not an address", edit(BASE, ("to: [b@two.example]", "to: [b]")), "messages.0.to.0", 20),
    ("scripted key typo", edit(BASE, ("size: 1KB}", "size: 1KB, sise: 2}")), "messages.0.sise", 20),
    ("scripted size missing", edit(BASE, (", size: 1KB}", "}")), "messages.0.size", 20),
    ("scripted after until", edit(BASE, ("duration: 1h\n", "duration: 1h\nuntil: 30s\n")), "messages.0.at", 21),
    ("outage target unknown", edit(BASE, ("target: mx.two", "target: mx.nine")), "outages.0.target", 22),
    ("outage link unknown", edit(BASE, ("target: mx.two", "target: lan--mx.two")), "outages.0.target", 22),
    ("outage both forms", edit(BASE, ("duration: 5m}", "duration: 5m, mtbf: 1d}")), "outages.0.mtbf", 22),
    ("outage end and duration", edit(BASE, ("duration: 5m}", "duration: 5m, end: 1h}")), "outages.0.duration", 22),
    ("outage without start", edit(BASE, ("start: 10m, ", "")), "outages.0.start", 22),
    ("outage mttr missing", edit(BASE, ("start: 10m, duration: 5m}", "mtbf: 1d}")), "outages.0.mttr", 22),
    ("outage mtbf zero", edit(BASE, ("start: 10m, duration: 5m}", "mtbf: 0, mttr: 1h}")), "outages.0.mtbf", 22),
    ("outage end before start", edit(BASE, ("duration: 5m}", "end: 5m}")), "outages.0.end", 22),
    ("outage duration negative", edit(BASE, ("duration: 5m}", "duration: -5m}")), "outages.0.duration", 22),
    ("duplicate key", edit(BASE, ("duration: 1h\n", "duration: 1h\nname: u\n")), "name", 3),
    (
        "user with address and group",
        edit(BASE, ("at: lan}", "at: lan, group: {prefix: x, count: 1, domain: one.example}}")),
        "users.0.address",
        13,
    ),
    ("server name with --", edit(BASE, ADD_SERVER_THREE, ("mx.three:", "mx--three:")), "servers.mx--three", 10),
    ("top level a list", "- a\n- b\n", "", 1),
    ("empty file", "", "", None),
    ("comment only file", "# nothing here\n", "", None),
    ("YAML syntax error", "name: [unclosed\nduration: 1h\n", "", 2),
    ("YAML bad indentation", "name: x\n  duration: 1h\n", "", 2),
    ("python tag refused", "name: !!python/object/apply:os.system ['true']\n", "", 1),
]


@pytest.mark.parametrize(("text", "path", "line"), [case[1:] for case in BAD_INPUTS], ids=[c[0] for c in BAD_INPUTS])
def test_bad_input_names_the_key_path_and_line(text: str, path: str, line: int | None) -> None:
    problems = problems_of(text)
    matching = [p for p in problems if p.path == path]
    assert matching, f"no problem at {path!r} in:\n" + "\n".join(map(str, problems))
    assert matching[0].line == line, str(matching[0])
    assert matching[0].message


def test_an_invalid_server_name_is_reported_once() -> None:
    problems = problems_of(edit(BASE, ADD_SERVER_THREE, ("mx.three:", "mx--three:")))
    assert [p.path for p in problems] == ["servers.mx--three"]
    assert "--" in problems[0].message


def test_acceptance_example_names_intervall() -> None:
    text = edit(
        EXAMPLE,
        ("    max_message_size: 25MB\n", "    max_message_size: 25MB\n    retry: {policy: fixed, intervall: 30m}\n"),
    )
    with pytest.raises(ScenarioError) as info:
        load_scenario(text)
    assert "servers.mx.beta.retry.intervall: unknown key 'intervall'" in str(info.value)
    assert "did you mean 'interval'" in str(info.value)
    assert "(line 20)" in str(info.value)


def test_unknown_key_in_defaults_is_reported_once_at_defaults() -> None:
    text = edit(EXAMPLE, ("interval: 30m,", "intervall: 30m,"))
    problems = problems_of(text)
    assert [(p.path, p.line) for p in problems] == [("defaults.retry.intervall", 29)]


def test_every_problem_is_collected_not_only_the_first() -> None:
    text = edit(
        BASE,
        ("duration: 1h", "duration: 1x"),
        ("latency: 1ms}", "latency: soon}"),
        ("count: 20", "count: 0"),
        ("rate: 5/h", "rate: 5/w"),
    )
    paths = {p.path for p in problems_of(text)}
    assert {"duration", "network.links.0.latency", "users.2.group.count", "traffic.0.rate"} <= paths


def test_semantic_problems_are_all_collected() -> None:
    text = edit(
        BASE,
        ("at: lan}", "at: lan2}"),
        ("from: one.example", "from: nobody"),
        ("target: mx.two", "target: mx.nine"),
    )
    paths = {p.path for p in problems_of(text)}
    assert {"users.0.at", "traffic.0.from", "outages.0.target"} <= paths


def test_unknown_user_of_a_defined_domain_is_allowed_in_scripted_messages(base: Scenario) -> None:
    scenario = load_scenario(edit(BASE, ("to: [b@two.example]", "to: [nobody@two.example]")))
    assert scenario.messages[0].to == ("nobody@two.example",)


def test_scripted_to_may_be_a_single_string() -> None:
    scenario = load_scenario(edit(BASE, ("to: [b@two.example]", "to: b@two.example")))
    assert scenario.messages[0].to == ("b@two.example",)


def test_outage_link_may_name_its_ends_in_either_order() -> None:
    for target in ("mx.one--mx.two", "mx.two--mx.one"):
        scenario = load_scenario(edit(BASE, ("target: mx.two", f"target: {target}")))
        assert scenario.outages[0].kind == "link"
        assert scenario.outages[0].end_s == 900.0


# --------------------------------------------------------------------------- effective defaults


def retry_of(retry_yaml: str) -> Any:
    return load_scenario(edit(BASE, ("  mx.one:\n", f"  mx.one:\n    retry: {retry_yaml}\n"))).servers["mx.one"].retry


def test_retry_policy_defaults() -> None:
    fixed = retry_of("{}")
    assert (fixed.policy, fixed.interval_s, fixed.give_up_s, fixed.warn_after_s) == ("fixed", 1800, 432000, None)
    postfix = retry_of("{policy: postfix}")
    assert (postfix.give_up_s, postfix.min_backoff_s, postfix.max_backoff_s, postfix.interval_s) == (
        432000,
        300,
        4000,
        None,
    )
    exim = retry_of("{policy: exim}")
    assert (exim.give_up_s, exim.rule) == (345600, "F,2h,15m; G,16h,1h,1.5; F,4d,6h")
    assert retry_of("{policy: exim, rule: 'F,1h,10m; F,2d,1h'}").give_up_s == 172800
    exchange = retry_of("{policy: exchange}")
    assert (exchange.interval_s, exchange.give_up_s, exchange.warn_after_s) == (900, 172800, 14400)
    backoff = retry_of("{policy: backoff}")
    assert (backoff.initial_s, backoff.factor, backoff.max_s, backoff.give_up_s) == (300, 2.0, 14400, 432000)
    assert retry_of("{policy: backoff, initial: 1m, factor: 3}").factor == 3.0


def test_warn_after_can_be_switched_off() -> None:
    assert retry_of("{policy: exchange, warn_after: off}").warn_after_s is None
    assert retry_of("{policy: exchange, warn_after: null}").warn_after_s is None
    assert retry_of("{warn_after: 4h}").warn_after_s == 14400


def test_server_retry_with_another_policy_replaces_the_defaults_retry() -> None:
    text = edit(
        BASE,
        ("users:\n", "defaults:\n  retry: {policy: fixed, interval: 10m}\n  concurrency: 5\nusers:\n"),
        ("  mx.one:\n", "  mx.one:\n    retry: {policy: backoff, initial: 1m}\n"),
    )
    scenario = load_scenario(text)
    one, two = scenario.servers["mx.one"], scenario.servers["mx.two"]
    assert (one.retry.policy, one.retry.initial_s, one.retry.interval_s) == ("backoff", 60, None)
    assert (two.retry.policy, two.retry.interval_s) == ("fixed", 600)
    assert one.concurrency == two.concurrency == 5


def test_server_retry_with_the_same_policy_merges_key_by_key() -> None:
    text = edit(
        BASE,
        ("users:\n", "defaults:\n  retry: {interval: 10m, warn_after: 1h}\nusers:\n"),
        ("  mx.one:\n", "  mx.one:\n    retry: {interval: 5m}\n"),
    )
    retry = load_scenario(text).servers["mx.one"].retry
    assert (retry.interval_s, retry.warn_after_s) == (300, 3600)


def test_access_defaults_per_protocol() -> None:
    def access(yaml_text: str) -> Any:
        return load_scenario(edit(BASE, ("at: lan}", f"at: lan, access: {yaml_text}}}"))).users[0].access

    assert (access("{}").protocol, access("{}").poll_s, access("{}").idle) == ("imap", 60, True)
    assert (access("{protocol: pop3}").poll_s, access("{protocol: pop3}").keep) == (600, False)
    assert access("{protocol: http}").poll_s == 600
    assert access("{protocol: pop3, keep: true, offset: 30s}").offset_s == 30


def test_dns_records_are_sorted_by_preference_then_host() -> None:
    text = edit(
        EXAMPLE,
        (
            "    - {host: mx.beta, preference: 10}\n    - {host: backup.beta, preference: 20}\n",
            "    - {host: backup.beta, preference: 20}\n    - {host: mx.beta, preference: 20}\n",
        ),
    )
    records = load_scenario(text).dns["beta.example"]
    assert [r.host for r in records] == ["backup.beta", "mx.beta"]


def test_group_numbers_are_padded_to_the_width_of_count() -> None:
    text = edit(BASE, ("count: 20", "count: 1000"))
    users = load_scenario(text).expanded_users()
    assert users[2].address == "staff0001@two.example"
    assert users[-1].address == "staff1000@two.example"


def test_recipients_may_be_a_distribution(base: Scenario) -> None:
    scenario = load_scenario(edit(BASE, ("size: 10KB}", "size: 10KB, recipients: {exponential: {mean: 2}}}")))
    assert scenario.traffic[0].recipients == Exponential(2)


# --------------------------------------------------------------------------- effective YAML


@pytest.mark.parametrize("source", [EXAMPLE, BASE], ids=["example", "base"])
def test_effective_yaml_round_trips(source: str) -> None:
    scenario = load_scenario(source)
    effective = scenario.to_effective_yaml()
    again = load_scenario(effective)
    assert again == scenario
    assert again.to_effective_yaml() == effective


def test_effective_yaml_has_every_default_in_si_numbers(example: Scenario) -> None:
    import yaml

    data = yaml.safe_load(example.to_effective_yaml())
    assert "defaults" not in data
    assert data["duration"] == 86400.0
    assert data["servers"]["backup.beta"]["retry"] == {
        "policy": "fixed",
        "interval": 1800.0,
        "give_up": 432000.0,
        "warn_after": 14400.0,
    }
    assert data["servers"]["mx.beta"]["max_message_size"] == 25_000_000
    assert data["dns"]["alpha.example"] == [{"host": "mx.alpha", "preference": 0}]
    assert data["network"]["links"][1] == {"between": ["mx.alpha", "core"], "latency": 0.02, "bandwidth": 1e8}
    assert data["users"][1]["access"] == {
        "protocol": "pop3",
        "devices": 1,
        "poll": 600.0,
        "offset": None,
        "keep": False,
    }
    assert data["traffic"][0]["size"] == {"lognormal": {"median": 10000.0, "sigma": 2.0}}
    assert data["outages"][0] == {"target": "mx.beta", "start": 7200.0, "end": 18000.0}


def test_effective_yaml_is_deterministic(example: Scenario) -> None:
    assert load_scenario(EXAMPLE).to_effective_yaml() == example.to_effective_yaml()


# --------------------------------------------------------------------------- overrides


def test_override_by_dotted_keys(example: Scenario) -> None:
    changed = example.override(
        {
            "servers.mx.beta.retry.interval": "15m",
            "network.links.1.bandwidth": "10Mbps",
            "users.1.access.poll": "5m",
            "until": "7d",
            "seed": 3,
        }
    )
    assert changed.servers["mx.beta"].retry.interval_s == 900
    assert changed.servers["mx.beta"].retry.warn_after_s == 14400  # still from defaults
    assert changed.servers["mx.alpha"].retry.interval_s == 1800
    assert changed.links[1].bandwidth_bps == 1e7
    assert changed.users[1].access.poll_s == 300
    assert (changed.until_s, changed.seed) == (604800, 3)
    assert example.servers["mx.beta"].retry.interval_s == 1800  # the original is untouched
    assert changed.override({"seed": 4}).servers["mx.beta"].retry.interval_s == 900


def test_override_of_defaults_applies_to_every_server(example: Scenario) -> None:
    changed = example.override({"defaults.retry.give_up": "2d"})
    assert {s.retry.give_up_s for s in changed.servers.values()} == {172800}


def test_override_adds_a_whole_new_entry_under_a_named_mapping(example: Scenario) -> None:
    changed = example.override({"dns.alpha.example": [{"host": "mx.alpha", "preference": 5}]})
    assert changed.dns["alpha.example"] == (MXRecord(host="mx.alpha", preference=5),)


def test_override_works_on_an_effective_reload(example: Scenario) -> None:
    reloaded = load_scenario(example.to_effective_yaml())
    assert reloaded.override({"servers.backup.beta.concurrency": 7}).servers["backup.beta"].concurrency == 7


@pytest.mark.parametrize(
    ("changes", "path", "words"),
    [
        ({"servers.mx.beta.retry.interval": "bogus"}, "servers.mx.beta.retry.interval", "is not a duration"),
        ({"servers.mx.beta.retry.intervall": "1h"}, "servers.mx.beta.retry.intervall", "unknown key"),
        ({"network.links.7.latency": "1ms"}, "network.links.7.latency", "no item 7"),
        ({"network.links.x.latency": "1ms"}, "network.links.x.latency", "item number"),
        ({"servers.nosuch.retry.interval": "1h"}, "servers.nosuch.retry.interval", "no entry"),
        ({"seed.x": 1}, "seed.x", "single value"),
        ({"seed": "x"}, "seed", "integer"),
        ({"users.0.at": "nowhere"}, "users.0.at", "not a network node"),
    ],
)
def test_override_errors_name_the_path(example: Scenario, changes: dict[str, object], path: str, words: str) -> None:
    with pytest.raises(ScenarioError) as info:
        example.override(changes)
    matching = [p for p in info.value.problems if p.path == path]
    assert matching, str(info.value)
    assert words in matching[0].message


# --------------------------------------------------------------------------- JSON schema


def test_json_schema_describes_the_file_format() -> None:
    schema = scenario_json_schema()
    text = json.dumps(schema)
    assert json.loads(text) == schema
    properties = schema["properties"]
    for key in ("name", "seed", "duration", "network", "servers", "defaults", "dns", "users", "traffic", "messages"):
        assert key in properties
    assert "name" not in schema["$defs"]["ServerSpec"]["properties"]
    assert "duration" in schema["$defs"]["OutageSpec"]["properties"]
    assert "group" not in schema["$defs"]["UserSpec"]["properties"]
    assert "interval" in schema["$defs"]["RetrySpec"]["properties"]


def test_json_schema_accepts_the_example_and_rejects_unknown_keys() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    import yaml

    schema = scenario_json_schema()
    jsonschema.validate(yaml.safe_load(EXAMPLE), schema)
    bad = yaml.safe_load(EXAMPLE)
    bad["servers"]["mx.beta"]["colour"] = "red"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, schema)


# --------------------------------------------------------------------------- property test

DURATIONS = st.one_of(
    st.integers(0, 10**6),
    st.sampled_from(["0s", "250ms", "30s", "30m", "2h", "1d", "1d2h", "1h30m"]),
)
POSITIVE_DURATIONS = st.one_of(st.integers(1, 10**6), st.sampled_from(["250ms", "30s", "30m", "2h", "1d"]))
SIZES = st.one_of(st.integers(0, 10**8), st.sampled_from(["512B", "75KB", "10KiB", "25MB", "2MiB"]))


@st.composite
def retries(draw: st.DrawFn) -> dict[str, object]:
    policy = draw(st.sampled_from(["fixed", "postfix", "exim", "exchange", "backoff"]))
    retry: dict[str, object] = {"policy": policy}
    if draw(st.booleans()):
        retry["give_up"] = draw(DURATIONS)
    if draw(st.booleans()):
        retry["warn_after"] = draw(st.one_of(DURATIONS, st.just("off")))
    if policy in ("fixed", "exchange") and draw(st.booleans()):
        # at least 2 s: a wait that would try one message over a million times is refused (test_limits.py)
        retry["interval"] = draw(st.one_of(st.integers(2, 10**6), st.sampled_from(["30s", "30m", "2h", "1d"])))
    if policy == "backoff" and draw(st.booleans()):
        retry["initial"] = "1m"
        retry["factor"] = draw(st.floats(1, 4))
        retry["max"] = draw(st.sampled_from(["1m", "1h", "1d"]))
    if policy == "exim" and draw(st.booleans()):
        retry["rule"] = "F,1h,10m; G,1d,1h,2"
    return retry


@st.composite
def accesses(draw: st.DrawFn) -> dict[str, object]:
    protocol = draw(st.sampled_from(["pop3", "imap", "http"]))
    access: dict[str, object] = {"protocol": protocol, "devices": draw(st.integers(1, 3))}
    if draw(st.booleans()):
        access["poll"] = draw(POSITIVE_DURATIONS)
    if draw(st.booleans()):
        access["offset"] = draw(DURATIONS)
    if protocol == "pop3" and draw(st.booleans()):
        access["keep"] = draw(st.booleans())
    if protocol == "imap" and draw(st.booleans()):
        access["idle"] = draw(st.booleans())
    return access


DISTRIBUTIONS = st.one_of(
    SIZES,
    st.builds(lambda m: {"exponential": {"mean": m}}, st.sampled_from(["1KB", 500, "2MiB"])),
    st.builds(lambda m, s: {"lognormal": {"median": m, "sigma": s}}, st.sampled_from(["10KB", 700]), st.floats(0, 3)),
    st.builds(
        lambda lo, hi: {"uniform": {"low": min(lo, hi), "high": max(lo, hi)}},
        st.integers(0, 10**8),
        st.integers(0, 10**8),
    ),
    st.builds(
        lambda ws: {"choice": [[1000 * (i + 1), w] for i, w in enumerate(ws)]},
        st.lists(st.floats(0.1, 5), min_size=1, max_size=4),
    ),
)


@st.composite
def scenarios(draw: st.DrawFn) -> dict[str, Any]:
    count = draw(st.integers(1, 3))
    names = [f"mx{i}.example.net" for i in range(count)]
    domains = [f"d{i}.example" for i in range(count)]
    links: list[dict[str, object]] = []
    for i, name in enumerate(names):
        links.append({"between": [f"lan{i}", name], "latency": draw(DURATIONS)})
        link: dict[str, object] = {"between": [name, "core"], "latency": draw(DURATIONS)}
        if draw(st.booleans()):
            link["bandwidth"] = draw(st.sampled_from(["56kbps", "100Mbps", "1Gbps", 12345]))
        links.append(link)
    servers: dict[str, Any] = {}
    for name, domain in zip(names, domains, strict=True):
        server: dict[str, object] = {"domains": [domain]}
        if draw(st.booleans()):
            server["retry"] = draw(retries())
        if draw(st.booleans()):
            server["max_message_size"] = draw(st.sampled_from(["25MB", 1000, "1GiB"]))
        if draw(st.booleans()):
            server["concurrency"] = draw(st.integers(1, 500))
        servers[name] = server
    users: list[dict[str, object]] = []
    for i, domain in enumerate(domains):
        users.append({"address": f"u{i}@{domain}", "at": f"lan{i}", "access": draw(accesses())})
        if draw(st.booleans()):
            users.append(
                {"group": {"prefix": f"g{i}x", "count": draw(st.integers(1, 30)), "domain": domain}, "at": f"lan{i}"}
            )
    scenario: dict[str, Any] = {
        "name": "generated",
        "seed": draw(st.integers(0, 2**32)),
        "duration": draw(POSITIVE_DURATIONS),  # 0 with traffic above rate 0 is an error: it would send nothing
        "network": {"links": links},
        "servers": servers,
        "users": users,
        "traffic": [
            {
                "from": draw(st.sampled_from(domains)),
                "to": draw(st.sampled_from(domains)),
                "rate": draw(st.sampled_from(["40/d", "5/h", "0.5/m", "2/s", 0.001])),
                "recipients": draw(st.one_of(st.integers(1, 5), st.just({"exponential": {"mean": 2}}))),
                "size": draw(DISTRIBUTIONS),
            }
        ],
        "messages": [
            {
                "at": draw(DURATIONS),
                "from": "u0@d0.example",
                "to": [f"x@{draw(st.sampled_from(domains))}"],
                "size": draw(SIZES),
            }
        ],
        "outages": [
            draw(
                st.one_of(
                    st.just({"target": names[0], "start": "1h", "duration": "30m"}),
                    st.just({"target": f"core--{names[-1]}", "start": 10, "end": 20}),
                    st.just({"target": names[-1], "mtbf": "7d", "mttr": "1h"}),
                )
            )
        ],
    }
    if draw(st.booleans()):
        scenario["defaults"] = {"retry": draw(retries()), "connect_timeout": draw(POSITIVE_DURATIONS)}
    if draw(st.booleans()):
        scenario["until"] = draw(DURATIONS)
        scenario["messages"][0]["at"] = scenario["until"]  # a scripted message after until is an error
        if "start" in scenario["outages"][0]:
            scenario["outages"][0]["start"] = 0  # and so is a scheduled outage after until
    traffic = scenario["traffic"][0]
    if traffic["from"] == traffic["to"] and not any("group" in u and u["group"]["domain"] == traffic["to"]
                                                    for u in users):
        traffic["rate"] = 0  # a rate above 0 to the sender alone is an error: it would send nothing
    return scenario


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios())
def test_generated_scenarios_load_and_round_trip(raw: dict[str, Any]) -> None:
    scenario = scenario_from_dict(raw, max_messages=10**12)  # the format is tested here, not the limits
    assert set(scenario.servers) == set(raw["servers"])
    assert set(scenario.dns) == {f"d{i}.example" for i in range(len(raw["servers"]))}
    effective = scenario.to_effective_yaml()
    again = load_scenario(effective, max_messages=10**12)
    assert again == scenario
    assert again.to_effective_yaml() == effective
