"""Counts read as English in everything a user sees: "1 bounce", "2 bounces", never "1 bounces"
or "point(s)". Checked through the commands as a user types them."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest

from simulator import cli
from simulator.wording import counted

# One message to a server that stays down: 1 delay warning after 30m, 1 bounce at give-up.
ONE = """
name: one
seed: 1
duration: 1h
network:
  links:
    - {between: [lan.a, mx.a], latency: 1ms}
    - {between: [mx.a, mx.b], latency: 10ms}
    - {between: [lan.b, mx.b], latency: 1ms}
servers:
  mx.a: {domains: [a.example]}
  mx.b: {domains: [b.example]}
defaults:
  retry: {policy: fixed, interval: 10m, give_up: 1h, warn_after: 30m}
users:
  - {address: ann@a.example, at: lan.a}
  - {address: bob@b.example, at: lan.b}
messages:
  - {at: 1m, from: ann@a.example, to: [bob@b.example], size: 1KB}
outages:
  - {target: mx.b, start: 0s, duration: 1d}
"""

SINGLE = """
name: single
duration: 1h
network:
  links:
    - {between: [lan, mx], latency: 1ms}
servers:
  mx: {domains: [a.example]}
users:
  - {address: ann@a.example, at: lan}
messages:
  - {at: 1m, from: ann@a.example, to: [ann@a.example], size: 1KB}
"""

# "1 runs" is wrong; a rate such as "75.1 runs/s" is not (the 1 there ends a decimal).
WRONG = re.compile(r"(?<![\d.])1 (servers|users|bounces|delay warnings|duplicates|points|replications|runs|items)\b"
                   r"|\(s\)")


def _main(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = cli.main(list(argv), out, err)
    return code, out.getvalue(), err.getvalue()


def test_counted() -> None:
    assert [counted(n, "bounce") for n in (0, 1, 2)] == ["0 bounces", "1 bounce", "2 bounces"]
    assert counted(1, "delay warning") == "1 delay warning"
    assert counted(3, "process", "processes") == "3 processes"


def test_validate_says_1_server_1_user(tmp_path: Path) -> None:
    (tmp_path / "s.yaml").write_text(SINGLE)
    code, out, _ = _main("validate", str(tmp_path / "s.yaml"))
    assert code == 0 and "(1 server, 1 user, about 1 message expected)" in out
    (tmp_path / "one.yaml").write_text(ONE)
    assert "(2 servers, 2 users, about " in _main("validate", str(tmp_path / "one.yaml"))[1]


def test_run_summary_says_1_bounce_1_delay_warning(tmp_path: Path) -> None:
    (tmp_path / "one.yaml").write_text(ONE)
    code, out, _ = _main("run", str(tmp_path / "one.yaml"), "-o", str(tmp_path / "out"), "--no-plots")
    assert code == 0
    assert "DSNs: 1 bounce, 1 delay warning" in out
    assert "0 duplicates" in out
    assert not WRONG.search(out), out


def test_single_user_protocol_line(tmp_path: Path) -> None:
    (tmp_path / "s.yaml").write_text(SINGLE)
    code, out, _ = _main("run", str(tmp_path / "s.yaml"), "-o", str(tmp_path / "out"), "--no-plots")
    assert code == 0
    assert "imap: 1 user, 1/1 retrieved" in out
    assert "DSNs: 0 bounces, 0 delay warnings" in out


def test_sweep_of_one_point_and_one_replication(tmp_path: Path) -> None:
    (tmp_path / "one.yaml").write_text(ONE)
    code, out, err = _main("sweep", str(tmp_path / "one.yaml"), "-r", "1", "-j", "1", "--no-plots",
                           "-o", str(tmp_path / "sweep"))
    assert code == 0, err
    assert "one: 1 point x 1 replication = 1 run (ran 1 on this process" in out
    assert "0 were already done" in out
    assert not WRONG.search(out + err), out + err


def test_scenario_errors_count_items(tmp_path: Path) -> None:
    text = SINGLE.replace("  links:\n    - {between: [lan, mx], latency: 1ms}", "  links: []")
    (tmp_path / "s.yaml").write_text(text)
    code, _, err = _main("validate", str(tmp_path / "s.yaml"))
    assert code == 2
    assert "needs at least 1 item" in err and "item(s)" not in err


def test_choice_error_counts_values_and_weights() -> None:
    from simulator.randomness import Choice, DistributionError

    with pytest.raises(DistributionError, match="choice has 1 value but 2 weights"):
        Choice((1.0,), (1.0, 2.0))
