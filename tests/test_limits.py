"""Limits on huge inputs: validation estimates the work from the numbers (nothing is expanded),
refuses what is too much with exit status 2 at the key path with the estimate, and
``--max-messages`` / ``max_messages=`` raise the limit on mail. YAML alias bombs are refused
before anything is built, and error messages render any value in bounded space.
"""

from __future__ import annotations

import io
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from simulator import Result, ScenarioError, load_scenario, run
from simulator.brief import brief
from simulator.cli import main
from simulator.limits import DEFAULT_MAX_MESSAGES, MAX_DURATION_S, MAX_USERS
from simulator.resultdir import add_files
from simulator.scenario import scenario_from_dict
from simulator.scenario.users import GroupMembers, GroupSpec
from simulator.workload import estimate

BASE: dict[str, Any] = {
    "name": "limits",
    "duration": "1d",
    "network": {"links": [{"between": ["lan.a", "mx.a"], "latency": "1ms"}]},
    "servers": {"mx.a": {"domains": ["a.example"]}},
    "users": [
        {"address": "a@a.example", "at": "lan.a"},
        {"address": "b@a.example", "at": "lan.a"},
    ],
    "traffic": [{"from": "a@a.example", "to": "a.example", "rate": "1/h", "size": "1KB"}],
}


def scenario(**changes: Any) -> dict[str, Any]:
    data = yaml.safe_load(yaml.safe_dump(BASE))
    data.update(changes)
    return data


def cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out, err)
    return code, out.getvalue(), err.getvalue()


def write(tmp_path: Path, data: Any, name: str = "s.yaml") -> Path:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data, sort_keys=False))
    return path


@pytest.fixture
def no_expansion(monkeypatch: pytest.MonkeyPatch) -> None:
    """Validation must not list a group's members: listing them fails the test."""

    def refuse(*_args: Any, **_kwargs: Any) -> Any:
        raise AssertionError("a group was expanded during validation")

    monkeypatch.setattr(GroupSpec, "expand", refuse)
    monkeypatch.setattr(GroupSpec, "address", refuse)


# ---- users and devices ---------------------------------------------------------------------------


def test_a_trillion_users_are_refused_at_the_count_without_listing_them(tmp_path: Path, no_expansion: None) -> None:
    data = scenario(users=[{"group": {"prefix": "staff", "count": 10**12, "domain": "a.example"}, "at": "lan.a"}],
                    traffic=[])
    code, out, err = cli("validate", str(write(tmp_path, data)))
    assert (code, out) == (2, "")
    assert "users.0.group.count: 1,000,000,000,000 users in all" in err
    assert f"{MAX_USERS:,}" in err and "(line " in err
    assert "Traceback" not in err


def test_a_count_too_large_for_a_float_is_refused_like_any_other(tmp_path: Path) -> None:
    data = scenario(users=[{"group": {"prefix": "u", "count": 10**400, "domain": "a.example"}, "at": "lan.a"}],
                    traffic=[{"from": "u", "to": "u", "rate": "1/h", "size": 1}])
    code, _, err = cli("validate", str(write(tmp_path, data)))
    assert code == 2
    assert "users.0.group.count: 1.00e+400 users in all" in err
    assert "traffic.0: more than 1e+308 messages expected (0.000277778/s x 1.00e+400 senders" in err
    assert "Traceback" not in err and "internal error" not in err


def test_a_group_at_the_limit_validates_without_listing_its_members(tmp_path: Path, no_expansion: None) -> None:
    """Two groups whose prefixes overlap (s, s1) are checked for shared addresses by arithmetic."""
    users = [
        {"group": {"prefix": "s", "count": MAX_USERS // 2, "domain": "a.example"}, "at": "lan.a"},
        {"group": {"prefix": "s1", "count": MAX_USERS // 2, "domain": "a.example"}, "at": "lan.a"},
    ]
    code, out, err = cli("validate", str(write(tmp_path, scenario(users=users, traffic=[]))))
    assert (code, err) == (0, "")
    assert f"{MAX_USERS} users" in out


def test_the_users_limit_counts_every_group(tmp_path: Path) -> None:
    users = [{"group": {"prefix": f"g{i}x", "count": MAX_USERS // 2, "domain": "a.example"}, "at": "lan.a"}
             for i in range(3)]
    code, _, err = cli("validate", str(write(tmp_path, scenario(users=users, traffic=[]))))
    assert code == 2
    assert f"users: {3 * (MAX_USERS // 2):,} users in all" in err


def test_too_many_devices_are_refused_at_devices(tmp_path: Path) -> None:
    users = [{"address": "a@a.example", "at": "lan.a", "access": {"protocol": "imap", "devices": 10**9}}]
    code, _, err = cli("validate", str(write(tmp_path, scenario(users=users, traffic=[]))))
    assert code == 2
    assert "users.0.access.devices: 1,000,000,000 devices in all" in err


@given(st.sampled_from(["s", "s1", "s12", "s2", "st", "s0"]), st.sampled_from(["s", "s1", "s12", "s2", "st", "s0"]),
       st.integers(1, 1200), st.integers(1, 1200))
def test_group_overlap_by_arithmetic_matches_listing_the_members(prefix_a: str, prefix_b: str, count_a: int,
                                                                  count_b: int) -> None:
    a, b = (GroupSpec(group=GroupMembers(prefix=p, count=n, domain="a.example"), at="lan")
            for p, n in ((prefix_a, count_a), (prefix_b, count_b)))
    members_a = {a.address(n) for n in range(1, count_a + 1)}
    listed = any(b.address(n) in members_a for n in range(1, count_b + 1))
    assert a.overlaps(b) == b.overlaps(a) == listed


# ---- expected mail -------------------------------------------------------------------------------


def test_a_huge_rate_is_refused_with_the_estimate(tmp_path: Path) -> None:
    data = scenario(traffic=[{"from": "a@a.example", "to": "a.example", "rate": "1e12/s", "size": "1KB"}])
    code, out, err = cli("validate", str(write(tmp_path, data)))
    assert (code, out) == (2, "")
    assert "traffic.0: about 8.64e+16 messages expected (1e+12/s x 1 sender x 86400 s x 1 recipient)" in err
    assert f"limit of {DEFAULT_MAX_MESSAGES:,}" in err and "--max-messages" in err


def test_the_estimate_is_rate_times_senders_times_period_times_recipients() -> None:
    users = [{"group": {"prefix": "u", "count": 40, "domain": "a.example"}, "at": "lan.a"}]
    traffic = [{"from": "u", "to": "a.example", "rate": "3/h", "size": "1KB",
                "recipients": {"choice": [[1, 1], [5, 1]]}},
               {"from": "a.example", "to": "u", "rate": "1/h", "size": "1KB", "reply": {"probability": 0.5}}]
    messages = [{"at": "1m", "from": "u001@a.example", "to": ["u002@a.example", "u003@a.example"], "size": 10}]
    work = estimate(scenario_from_dict(scenario(users=users, traffic=traffic, messages=messages, until="12h")))
    assert work.users == 40 and work.devices == 40
    first, second = work.traffic
    assert first.pairs == pytest.approx(3 / 3600 * 40 * 12 * 3600 * 3)
    assert second.pairs == pytest.approx(1 / 3600 * 40 * 12 * 3600 * 1 * 2)  # replies: 1 / (1 - 0.5)
    assert work.pairs == pytest.approx(first.pairs + second.pairs + 2)


def test_max_messages_raises_the_limit_for_validate(tmp_path: Path) -> None:
    path = write(tmp_path, scenario(traffic=[{"from": "a@a.example", "to": "a.example", "rate": "30/s", "size": 1}]))
    code, _, err = cli("validate", str(path))
    assert code == 2 and "about 2,592,000 messages expected" in err
    code, out, err = cli("validate", str(path), "--max-messages", "3000000")
    assert (code, err) == (0, "")
    assert "about 2,592,000 messages expected" in out
    code, _, err = cli("validate", str(path), "--max-messages", "0")
    assert code == 2 and "--max-messages" in err


def test_run_refuses_before_simulating_and_leaves_no_folder(tmp_path: Path) -> None:
    path = write(tmp_path, scenario())  # about 24 messages
    code, out, err = cli("run", str(path), "-o", str(tmp_path / "out"), "-q", "--max-messages", "10")
    assert (code, out) == (2, "")
    assert "traffic.0: about 24 messages expected" in err and "limit of 10 " in err
    assert not (tmp_path / "out").exists()
    code, _, err = cli("run", str(path), "-o", str(tmp_path / "out"), "-q", "--no-plots", "--max-messages", "100")
    assert code == 0, err
    assert (tmp_path / "out" / "summary.json").is_file()


def test_sweep_takes_max_messages(tmp_path: Path) -> None:
    path = write(tmp_path, scenario())
    code, _, err = cli("sweep", str(path), "--set", "traffic.0.rate=1/h,10/h", "-r", "1", "-j", "1",
                       "-o", str(tmp_path / "sw"), "-q", "--max-messages", "100")
    assert code == 2
    assert "traffic.0: about 240 messages expected" in err and "traffic.0.rate=10/h" in err


def test_the_api_takes_max_messages_and_overrides_keep_it() -> None:
    data = scenario()
    with pytest.raises(ScenarioError, match="limit of 5 "):
        scenario_from_dict(data, max_messages=5)
    loaded = load_scenario(yaml.safe_dump(data), max_messages=100)
    assert loaded.max_messages == 100
    with pytest.raises(ScenarioError, match=r"traffic\.0: about 240 messages expected"):
        loaded.override({"traffic.0.rate": "10/h"})
    assert loaded.override({"traffic.0.rate": "2/h"}).max_messages == 100
    with pytest.raises(ScenarioError, match="limit of 10 "):
        run(loaded, max_messages=10)
    with pytest.raises(ValueError, match="max_messages"):
        load_scenario(yaml.safe_dump(data), max_messages=0)


def test_replies_that_never_die_out_need_until(tmp_path: Path) -> None:
    traffic = [{"from": "a@a.example", "to": "a.example", "rate": "1/h", "size": 1,
                "reply": {"probability": 0.7}, "forward": {"probability": 0.3}}]
    code, _, err = cli("validate", str(write(tmp_path, scenario(traffic=traffic))))
    assert code == 2 and "traffic.0.reply: replies and forwards never die out" in err
    code, out, err = cli("validate", str(write(tmp_path, scenario(traffic=traffic, until="2d"))))
    assert (code, err) == (0, ""), err
    assert "valid scenario" in out


def test_outages_that_change_too_often_are_refused(tmp_path: Path) -> None:
    outages = [{"target": "mx.a", "mtbf": "1ms", "mttr": "1ms"}]
    code, _, err = cli("validate", str(write(tmp_path, scenario(outages=outages, until="30d"))))
    assert code == 2
    assert "outages.0.mtbf: random outages would change state about 2,592,000,000 times" in err


# ---- durations, sizes, non-finite numbers --------------------------------------------------------


@pytest.mark.parametrize(("key", "value", "expected"), [
    ("duration", "1e300", "duration: '1e300' is too long"),
    ("duration", 1e300, "duration: 1e+300 is too long"),
    ("until", "3651d", "until: '3651d' is too long"),
    ("duration", math.inf, "duration: inf is not a duration: it must be finite"),
    ("until", math.nan, "until: nan is not a duration: it must be finite"),
])
def test_huge_and_non_finite_durations_are_errors_at_their_key(tmp_path: Path, key: str, value: object,
                                                                expected: str) -> None:
    code, _, err = cli("validate", str(write(tmp_path, scenario(**{key: value}))))
    assert code == 2
    assert expected in err


def test_the_longest_duration_is_accepted() -> None:
    assert scenario_from_dict(scenario(until=MAX_DURATION_S)).until_s == MAX_DURATION_S


@pytest.mark.parametrize(("where", "expected"), [
    ({"traffic": [{"from": "a@a.example", "to": "a.example", "rate": math.inf, "size": 1}]},
     "traffic.0.rate: inf is not a rate: it must be finite"),
    ({"servers": {"mx.a": {"domains": ["a.example"], "max_message_size": "2TB"}}},
     "servers.mx.a.max_message_size: '2TB' is too large"),
    ({"outages": [{"target": "mx.a", "start": "3000d", "duration": "1000d"}]},
     "outages.0.duration: 345600000.0 is too long"),
])
def test_other_huge_or_non_finite_numbers_are_errors(tmp_path: Path, where: dict[str, Any], expected: str) -> None:
    code, _, err = cli("validate", str(write(tmp_path, scenario(**where))))
    assert code == 2
    assert expected in err


# ---- YAML alias bombs ----------------------------------------------------------------------------


def laughs(levels: int = 9, key: str = "duration") -> str:
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, levels):
        lines.append(f"{chr(97 + i)}: &{chr(97 + i)} [" + ",".join([f"*{chr(96 + i)}"] * 9) + "]")
    return "\n".join(lines) + f"\nname: bomb\n{key}: *{chr(96 + levels)}\n"


def test_an_alias_bomb_is_refused_by_the_cli(tmp_path: Path) -> None:
    """9**9 values by aliases: refused from the node graph before a value is built or shown."""
    path = write(tmp_path, laughs())
    done = subprocess.run([sys.executable, "-m", "simulator", "validate", str(path)], capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.returncode == 2, done.stderr
    assert "YAML aliases expand this document by more than 1,000,000 values" in done.stderr
    assert "(line " in done.stderr and "Traceback" not in done.stderr
    assert len(done.stderr) < 2000


def test_merge_key_and_recursive_alias_bombs_are_refused(tmp_path: Path) -> None:
    merge = ['a: &a {' + ", ".join(f"k{i}: lol" for i in range(9)) + '}']
    for i in range(1, 9):
        merge.append(f"{chr(97 + i)}: &{chr(97 + i)} " + "{<<: [" + ",".join([f"*{chr(96 + i)}"] * 9) + "]}")
    code, _, err = cli("validate", str(write(tmp_path, "\n".join(merge) + "\nname: m\n")))
    assert code == 2 and "YAML aliases expand" in err
    code, _, err = cli("validate", str(write(tmp_path, "name: r\nduration: &d [1, *d]\n")))
    assert code == 2 and "refers to a value that contains it" in err


def test_ordinary_aliases_still_work() -> None:
    text = """
name: aliases
duration: 1h
network:
  links:
    - {between: [lan.a, mx.a], latency: 1ms}
servers:
  mx.a: {domains: [a.example]}
users:
  - {address: a@a.example, at: lan.a, access: &pop {protocol: pop3, poll: 5m}}
  - {address: b@a.example, at: lan.a, access: *pop}
"""
    loaded = load_scenario(text)
    assert [u.access.protocol for u in loaded.expanded_users()] == ["pop3", "pop3"]


def test_error_messages_render_huge_values_briefly() -> None:
    """Built in Python (no YAML), a value of 9**9 shared items still gives a short message."""
    bomb: Any = ["lol"] * 9
    for _ in range(8):
        bomb = [bomb] * 9
    with pytest.raises(ScenarioError) as caught:
        scenario_from_dict(scenario(duration=bomb))
    message = str(caught.value)
    assert message.startswith("duration: [[[[") and "is not a duration" in message
    assert len(message) < 300
    assert len(brief(bomb)) <= 60 and len(brief("x" * 10**6, 40)) == 40


def test_reading_back_or_drawing_is_not_held_to_the_mail_limit(tmp_path: Path) -> None:
    """A result folder has run already and a drawing runs nothing: only running and validating are limited."""
    code, _, err = cli("run", str(write(tmp_path, scenario())), "-o", str(tmp_path / "out"), "-q", "--no-plots")
    assert code == 0, err
    effective = tmp_path / "out" / "scenario.yaml"
    data = yaml.safe_load(effective.read_text())
    data["traffic"][0]["rate"] = 1000.0  # as if run with --max-messages 100000000
    add_files(tmp_path / "out", {"scenario.yaml": yaml.safe_dump(data, sort_keys=False).encode()})
    assert cli("validate", str(effective))[0] == 2
    assert Result.load(tmp_path / "out").scenario.traffic[0].rate_per_s == 1000.0
    code, out, err = cli("show", str(effective), "-o", str(tmp_path / "net.png"))
    assert "net.png" in out
    assert (code, err) == (0, "")
    assert (tmp_path / "net.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize(("retry", "key", "tries"), [
    ({"interval": "1ms"}, "interval", "432,000,001"),
    ({"policy": "backoff", "initial": "1ms", "factor": 1, "max": "1h"}, "initial", "432,000,001"),
    ({"policy": "postfix", "min_backoff": "1ms", "max_backoff": "10ms"}, "max_backoff", "43,200,005"),
    ({"policy": "exim", "rule": "F,4d,10ms"}, "rule", "34,560,001"),
])
def test_a_retry_pace_that_would_try_a_message_millions_of_times_is_refused(tmp_path: Path, retry: dict[str, Any],
                                                                            key: str, tries: str) -> None:
    """Reported where it was written: here in defaults, which every server inherits."""
    data = scenario()
    data["defaults"] = {"retry": retry}
    code, _, err = cli("validate", str(write(tmp_path, data)))
    assert code == 2
    assert f"defaults.retry.{key}: a message nobody takes would be tried about {tries} times before give_up" in err
    assert err.count("would be tried") == 1


def test_a_backoff_factor_barely_above_one_counts_its_tries_by_the_first_wait(tmp_path: Path) -> None:
    """The waits hardly grow, so no message is tried more often than every ``initial``: an hour
    apart over the default give_up is about a hundred tries, not the astronomic count of the
    growth to ``max`` (a factor of 1 + 2**-52 would take 10**16 steps to double)."""
    data = scenario()
    data["defaults"] = {"retry": {"policy": "backoff", "initial": "1h", "factor": 1.0000000000000002, "max": "1d"}}
    code, _, err = cli("validate", str(write(tmp_path, data)))
    assert (code, err) == (0, "")
    data["defaults"]["retry"]["initial"] = "1ms"
    code, _, err = cli("validate", str(write(tmp_path, data)))
    assert code == 2
    assert "defaults.retry.initial: a message nobody takes would be tried about 432,000,001 times" in err


def test_ordinary_retry_paces_pass(tmp_path: Path) -> None:
    for retry in ({"interval": "1s"}, {"policy": "backoff", "initial": "1ms", "factor": 2, "max": "1m"},
                  {"policy": "postfix"}, {"policy": "exim"}, {"policy": "exchange"}):
        data = scenario()
        data["servers"]["mx.a"]["retry"] = retry
        code, _, err = cli("validate", str(write(tmp_path, data)))
        assert (code, err) == (0, ""), retry
