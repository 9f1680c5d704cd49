"""Scenario keys of the quantized presets: defaults filled, policies built from them, bad values refused.

``postfix`` takes ``queue_run_delay`` and ``queue_phase``; ``exim`` takes ``queue_interval`` and
``queue_phase``. Their defaults come from :mod:`simulator.retry` (the one place they are
defined) and show in the effective scenario; a key for the wrong policy, or a negative time,
is an error naming the key, and ``mailsim validate`` exits 2 with it.
"""

from __future__ import annotations

import io
import textwrap
from pathlib import Path

import pytest
import yaml

from simulator import load_scenario
from simulator.cli import main
from simulator.retry import EximPolicy, PostfixPolicy, make_policy
from simulator.scenario import ScenarioError
from simulator.scenario.servers import RetrySpec

BASE = textwrap.dedent("""\
    name: keys
    duration: 1h
    network:
      links:
        - {between: [mx.one, mx.two], latency: 10ms}
    servers:
      mx.one:
        domains: [one.test]
        retry: RETRY
      mx.two: {domains: [two.test]}
    users:
      - {address: a@one.test, at: mx.one}
      - {address: b@two.test, at: mx.two}
    """)


def retry_spec(retry_yaml: str) -> RetrySpec:
    return load_scenario(BASE.replace("RETRY", retry_yaml)).servers["mx.one"].retry


def test_defaults_come_from_the_retry_module() -> None:
    postfix = retry_spec("{policy: postfix}")
    assert make_policy(postfix) == PostfixPolicy()
    assert (postfix.queue_run_delay_s, postfix.queue_phase_s, postfix.queue_interval_s) == (300, 0, None)
    exim = retry_spec("{policy: exim}")
    assert make_policy(exim) == EximPolicy()
    assert (exim.queue_interval_s, exim.queue_phase_s, exim.queue_run_delay_s) == (1800, 0, None)
    assert exim.give_up_s == 345600


def test_keys_reach_the_policy() -> None:
    postfix = make_policy(retry_spec("{policy: postfix, queue_run_delay: 0s, queue_phase: 2m}"))
    assert postfix == PostfixPolicy(queue_run_delay_s=0, queue_phase_s=120)
    exim = make_policy(retry_spec("{policy: exim, rule: 'F,1h,10m', queue_interval: 15m, queue_phase: 30s}"))
    assert exim == EximPolicy(rule="F,1h,10m", queue_interval_s=900, queue_phase_s=30)
    assert exim.give_up_s == 3600  # a custom rule without give_up: its last cutoff


def test_effective_scenario_lists_the_scan_keys() -> None:
    effective = yaml.safe_load(load_scenario(BASE.replace("RETRY", "{policy: postfix}")).to_effective_yaml())
    assert effective["servers"]["mx.one"]["retry"] == {
        "policy": "postfix", "min_backoff": 300.0, "max_backoff": 4000.0, "queue_run_delay": 300.0,
        "queue_phase": 0.0, "give_up": 432000.0, "warn_after": None}


@pytest.mark.parametrize(("retry", "message"), [
    ("{policy: postfix, queue_interval: 10m}", "'queue_interval' does not apply to retry policy 'postfix'"),
    ("{policy: exim, queue_run_delay: 10m}", "'queue_run_delay' does not apply to retry policy 'exim'"),
    ("{policy: fixed, queue_phase: 1m}", "'queue_phase' does not apply to retry policy 'fixed'"),
    ("{policy: postfix, queue_phase: -1m}", "must not be negative"),
])
def test_bad_keys_name_the_key(retry: str, message: str) -> None:
    with pytest.raises(ScenarioError, match=r"servers\.mx\.one\.retry\.queue_"):
        load_scenario(BASE.replace("RETRY", retry))
    with pytest.raises(ScenarioError, match=message):
        load_scenario(BASE.replace("RETRY", retry))


def test_cli_validate_refuses_a_negative_scan_interval(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(BASE.replace("RETRY", "{policy: exim, queue_interval: -30m}"))
    out, err = io.StringIO(), io.StringIO()
    assert main(["validate", str(path)], out, err) == 2
    assert "servers.mx.one.retry.queue_interval" in err.getvalue()
    assert "Traceback" not in err.getvalue()
    path.write_text(BASE.replace("RETRY", "{policy: exim, queue_interval: 5m}"))
    assert main(["validate", str(path)], io.StringIO(), io.StringIO()) == 0
    assert yaml.safe_load(path.read_text())["servers"]["mx.one"]["retry"]["queue_interval"] == "5m"
