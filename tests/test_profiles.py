"""Load that changes over time: rate profiles (daily, steps) and their arrivals by inversion,
campaigns, the workload estimate of both, their validation errors, and ``Scenario.override``
with pairs."""

from __future__ import annotations

import io
import math
import textwrap
from pathlib import Path

import numpy as np
import pytest
import yaml
from conftest import rows
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator import load_scenario, run
from simulator.cli import main
from simulator.profiles import DAY_S, HOUR_S, Arrivals, RateProfile
from simulator.randomness import Streams
from simulator.scenario import ScenarioError, scenario_json_schema
from simulator.workload import estimate

WORLD = """
name: profiles
seed: 5
duration: {duration}
network:
  links:
    - {{between: [lan.a, mx.a], latency: 1ms}}
    - {{between: [mx.a, mx.b], latency: 10ms}}
    - {{between: [lan.b, mx.b], latency: 1ms}}
servers:
  mx.a: {{domains: [a.test]}}
  mx.b: {{domains: [b.test]}}
users:
  - {{address: alice@a.test, at: lan.a}}
  - {{group: {{prefix: b, count: {count}, domain: b.test}}, at: lan.b}}
"""


def world(body: str, duration: str = "3h", count: int = 5) -> str:
    return WORLD.format(duration=duration, count=count) + textwrap.dedent(body)


# ---------------------------------------------------------------------------- RateProfile


def test_time_after_walks_the_steps_and_skips_a_zero_rate() -> None:
    profile = RateProfile((0.0, 100.0, 200.0), (0.5, 0.0, 2.0))
    assert profile.time_after(0.0, 10.0) == 20.0
    assert profile.time_after(90.0, 10.0) == 200.0 + (10.0 - 5.0) / 2.0  # 5 before 100, none until 200
    assert profile.time_after(150.0, 4.0) == 202.0
    assert profile.expected(250.0) == 50.0 + 0.0 + 100.0
    assert math.isinf(RateProfile((0.0, 10.0), (1.0, 0.0)).time_after(5.0, 6.0))


def test_a_daily_profile_repeats_every_day() -> None:
    rates = [0.0] * 24
    rates[3] = 1.0  # 3600 arrivals expected in hour 3 of every day, none at other hours
    profile = RateProfile.daily(rates)
    assert profile.time_after(0.0, 1800.0) == 3 * HOUR_S + 1800.0
    assert profile.time_after(0.0, 3600.0 * 2.5) == 2 * DAY_S + 3 * HOUR_S + 1800.0
    assert profile.time_after(5 * HOUR_S, 1.0) == DAY_S + 3 * HOUR_S + 1.0
    assert profile.expected(3 * DAY_S + 3.5 * HOUR_S) == 3 * 3600.0 + 1800.0
    assert math.isinf(RateProfile.daily([0.0] * 24).time_after(0.0, 1.0))
    assert RateProfile.daily([1e-300] * 24).time_after(0.0, 1.0) == math.inf  # not an overflow
    assert RateProfile((0.0,), (1e-310,)).time_after(5.0, 1.0) == math.inf


rates = st.one_of(st.just(0.0), st.floats(min_value=1e-6, max_value=5))


@settings(max_examples=200, deadline=None)
@given(hourly=st.lists(rates, min_size=24, max_size=24).filter(lambda r: sum(r) > 0),
       now_s=st.floats(min_value=0, max_value=5 * DAY_S), amount=st.floats(min_value=1e-3, max_value=1e6))
def test_time_after_inverts_the_cumulative_rate(hourly: list[float], now_s: float, amount: float) -> None:
    profile = RateProfile.daily(hourly)
    then_s = profile.time_after(now_s, amount)
    assert then_s >= now_s
    assert profile.expected(then_s) - profile.expected(now_s) == pytest.approx(amount, rel=1e-9, abs=1e-6)
    hour = int((then_s % DAY_S) // HOUR_S) % 24
    assert hourly[hour] > 0 or then_s % HOUR_S == 0  # an arrival never falls inside a zero-rate hour


def arrivals_against_time_after(profile: RateProfile, start_s: float, amounts: list[float]) -> tuple[int, int]:
    """Walk ``Arrivals`` from ``start_s`` through ``amounts``, each gap against ``time_after``'s,
    bit for bit; returns how many gaps were finite and how many fell in the segment of the one before."""
    clock = [start_s]
    draws = iter(amounts)
    arrivals = Arrivals(profile, lambda: next(draws), lambda: clock[0])
    finite = same_segment = 0
    for amount in amounts:
        now_s = clock[0]
        expected = profile.time_after(now_s, amount) - now_s
        kept_before = now_s < arrivals._to_s
        gap = arrivals.gap()
        assert gap == expected or (math.isnan(gap) and math.isnan(expected)), (now_s, amount, gap, expected)
        if not math.isfinite(gap):
            break
        finite += 1
        same_segment += kept_before
        clock[0] = now_s + gap
    return finite, same_segment


def test_arrivals_give_time_afters_gaps_and_mostly_skip_the_search() -> None:
    rng = np.random.default_rng(3)
    hourly = [0.0, 0.0, 0.5, 2.0, 4.0, 1.0] * 4  # zero-rate hours to skip, busy hours to stay in
    finite, same = arrivals_against_time_after(RateProfile.daily(hourly), 0.0,
                                               list(rng.standard_exponential(20_000)))
    assert finite == 20_000
    assert same > 0.9 * finite  # about 2 arrivals a minute: most stay in their hour
    steps = RateProfile((0.0, 100.0, 200.0), (0.5, 0.0, 2.0))  # the last step lasts for ever
    finite, same = arrivals_against_time_after(steps, 0.0, list(rng.standard_exponential(500)))
    assert finite == 500
    assert same >= finite - 3  # found again only at the start and after the zero-rate step


def test_arrivals_at_the_last_floats_of_a_day_and_with_no_rate_at_all() -> None:
    profile = RateProfile.daily([1.0] * 24)
    for start_s in (np.nextafter(DAY_S, 0.0), np.nextafter(3 * DAY_S, 0.0), 23 * HOUR_S, DAY_S):
        amounts = [1e-9, 0.5, 1e-12, 2.0, 3600.0 * 30, 1e-3]
        assert arrivals_against_time_after(profile, float(start_s), amounts)[0] == len(amounts)
    zero = Arrivals(RateProfile.daily([0.0] * 24), lambda: 1.0, lambda: 5.0)
    assert zero.gap() == math.inf
    never = Arrivals(RateProfile((0.0, 10.0), (1.0, 0.0)), lambda: 6.0, lambda: 5.0)
    assert never.gap() == math.inf


@settings(max_examples=100, deadline=None)
@given(hourly=st.lists(rates, min_size=24, max_size=24).filter(lambda r: sum(r) > 0),
       start_s=st.floats(min_value=0, max_value=3 * DAY_S),
       amounts=st.lists(st.floats(min_value=1e-9, max_value=1e5), min_size=1, max_size=40))
def test_arrivals_are_time_after_bit_for_bit(hourly: list[float], start_s: float, amounts: list[float]) -> None:
    assert arrivals_against_time_after(RateProfile.daily(hourly), start_s, amounts)[0] == len(amounts)


# ---------------------------------------------------------------------------- arrivals in a run

STEPS = """
traffic:
  - from: alice@a.test
    to: b001@b.test
    steps: [{at: 0, rate: 2/h}, {at: 1h, rate: 0/h}, {at: 2h, rate: 20/h}]
    size: 1KB
"""


def inverse_cumulative(total: float) -> float:
    """Λ⁻¹ of the STEPS profile, worked out by hand: Λ(1h) = Λ(2h) = 2, then 20 an hour."""
    if total < 2.0:
        return total * HOUR_S / 2.0
    return 2 * HOUR_S + (total - 2.0) * HOUR_S / 20.0


def test_step_arrivals_are_the_inverse_of_the_cumulative_rate_at_the_streams_draws() -> None:
    result = run(load_scenario(world(STEPS)))
    sent = sorted(r["submitted_at"] for r in rows(result, kind="mail"))
    draws = Streams(5).get("traffic.0.arrivals").standard_exponential(512)
    expected = [t for t in (inverse_cumulative(s) for s in np.cumsum(draws)) if t <= 3 * HOUR_S]
    assert len(sent) == len(expected) > 5
    assert sent == pytest.approx(expected, abs=1e-6)
    assert not [t for t in sent if HOUR_S <= t < 2 * HOUR_S]  # the zero-rate hour sends nothing


def test_a_constant_rate_draws_no_arrival_stream_and_a_profile_leaves_the_contents_stream_alone() -> None:
    constant = world("""
        traffic:
          - {from: alice@a.test, to: b001@b.test, rate: 20/h, size: {uniform: {low: 1KB, high: 9KB}}}
        """)
    profiled = world("""
        traffic:
          - {from: alice@a.test, to: b001@b.test, steps: [{at: 0, rate: 20/h}],
             size: {uniform: {low: 1KB, high: 9KB}}}
        """)
    first, second = (run(load_scenario(text)) for text in (constant, profiled))
    times = [sorted(r["submitted_at"] for r in rows(res, kind="mail")) for res in (first, second)]
    assert times[0] != times[1]  # the arrival times come from another stream
    gaps = Streams(5).get("traffic.0").exponential(HOUR_S / 20, 3)
    assert times[0][:3] == pytest.approx(list(np.cumsum(gaps)), abs=1e-9)  # as before profiles existed


@pytest.mark.slow
def test_daily_profile_hourly_counts_match_their_expectations() -> None:
    """Chi-square of the hourly counts pooled over 40 seeded replications against the
    integrated profile (the 23 hours with a rate above 0, df 23: 49.73 is the 0.1% critical
    value; seeds 0-119 in blocks of 40 give 17.1, 26.7 and 23.0), and nothing in the zero hour."""
    multipliers = [0.0, 0.2, 0.2, 0.2, 0.3, 0.5, 1, 2, 4, 4, 3, 2, 1.5, 2, 2, 1.5, 1.2, 1, 0.8, 0.6, 0.5, 0.4, 0.3, 0.2]
    text = world(f"""
        traffic:
          - {{from: b, to: alice@a.test, rate: 2/h, daily: {{multipliers: {multipliers}}}, size: 1KB}}
        """, duration="1d", count=10)
    scenario = load_scenario(text)
    replications = 40
    counts = np.zeros(24)
    for seed in range(replications):
        sent = [r["submitted_at"] for r in rows(run(scenario, seed=seed), kind="mail")]
        counts += np.bincount((np.asarray(sent) // HOUR_S).astype(int), minlength=24)[:24]
    expected = np.asarray(multipliers) * 2 * 10 * replications  # rate 2/h x 10 senders x 1 h
    assert counts[0] == 0
    cells = expected > 0
    chi_square = float(np.sum((counts[cells] - expected[cells]) ** 2 / expected[cells]))
    assert chi_square < 49.73, (chi_square, counts, expected)
    assert counts.sum() == pytest.approx(expected.sum(), rel=4 / math.sqrt(expected.sum()))


# ---------------------------------------------------------------------------- campaigns


def test_a_campaign_sends_one_message_to_every_selected_user_but_the_sender() -> None:
    text = world("""
        campaigns:
          - {at: 10m, from: alice@a.test, to: [b.test, alice@a.test, b002@b.test], size: 30KB}
        """)
    result = run(load_scenario(text))
    mail = rows(result, kind="mail")
    assert sorted(r["recipient"] for r in mail) == [f"b00{n}@b.test" for n in range(1, 6)]
    assert {r["message_id"] for r in mail} == {mail[0]["message_id"]}
    assert {r["submitted_at"] for r in mail} == {600.0}
    assert {r["status"] for r in mail} == {"delivered"}


def test_a_campaign_count_draws_recipients_from_its_own_stream() -> None:
    text = world("""
        campaigns:
          - {at: 1m, from: alice@a.test, to: b, count: 7, size: 3KB}
        """, count=40)
    result = run(load_scenario(text))
    recipients = [r["recipient"] for r in rows(result, kind="mail")]
    indices = np.sort(Streams(5).get("campaign.0").choice(40, size=7, replace=False))
    assert sorted(recipients) == [f"b{index + 1:03d}@b.test" for index in indices]
    other_seed = run(load_scenario(text), seed=6)
    assert sorted(r["recipient"] for r in rows(other_seed, kind="mail")) != sorted(recipients)


# ---------------------------------------------------------------------------- estimates and effective form


def test_the_estimate_integrates_the_profile_and_counts_campaign_recipients() -> None:
    text = world("""
        traffic:
          - from: alice@a.test
            to: b001@b.test
            steps: [{at: 0, rate: 2/h}, {at: 1h, rate: 0/h}, {at: 2h, rate: 20/h}]
            size: 1KB
          - {from: b, to: alice@a.test, rate: 1/h, daily: {multipliers: [2, 2, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1,
                                                                          1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]},
             size: 1KB}
        campaigns:
          - {at: 1m, from: alice@a.test, to: b, count: 3, size: 3KB}
          - {at: 1m, from: alice@a.test, to: b, size: 3KB}
        """, duration="3h", count=5)
    work = estimate(load_scenario(text))
    assert work.traffic[0].messages == pytest.approx(2 + 0 + 20)
    assert work.traffic[1].messages == pytest.approx(5 * (2 + 2 + 0))
    assert work.campaign_pairs == (3, 5)
    assert work.pairs == pytest.approx(22 + 20 + 8)


def test_profiles_and_campaigns_survive_the_effective_scenario() -> None:
    scenario = load_scenario(world(STEPS + """
campaigns:
  - {at: 1m, from: alice@a.test, to: b, count: 2, size: 3KB}
"""))
    again = load_scenario(scenario.to_effective_yaml())
    assert again == scenario
    assert "campaigns" not in load_scenario(world("")).to_effective_dict()


# ---------------------------------------------------------------------------- validation


@pytest.mark.parametrize(("body", "path", "words"), [
    ("traffic: [{from: alice@a.test, to: b, size: 1KB}]", "traffic.0.rate", "required key is missing"),
    ("traffic: [{from: alice@a.test, to: b, rate: 1/h, steps: [{at: 0, rate: 1/h}], size: 1KB}]",
     "traffic.0.rate", "leave rate out"),
    ("traffic: [{from: alice@a.test, to: b, steps: [{at: 1h, rate: 1/h}], size: 1KB}]",
     "traffic.0.steps.0.at", "first step starts at 0"),
    ("traffic: [{from: alice@a.test, to: b, steps: [{at: 0, rate: 1/h}, {at: 0, rate: 2/h}], size: 1KB}]",
     "traffic.0.steps.1.at", "time order"),
    ("traffic: [{from: alice@a.test, to: b, rate: 1/h, daily: {multipliers: [1, 2]}, size: 1KB}]",
     "traffic.0.daily.multipliers", "at least 24"),
    ("traffic: [{from: alice@a.test, to: b, daily: {multipliers: [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, "
     "1, 1, 1, 1, 1, 1, 1, 1]}, size: 1KB}]", "traffic.0.rate", "required key is missing"),
    ("traffic: [{from: alice@a.test, to: b, rate: 1/h, daily: {multiplier: [1]}, size: 1KB}]",
     "traffic.0.daily.multiplier", "did you mean 'multipliers'"),
    ("traffic: [{from: alice@a.test, to: b, rate: 1/h, steps: [{at: 0, rate: 1/h}], daily: {rates: [1, 1, 1, 1, 1, 1, "
     "1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]}, size: 1KB}]", "traffic.0.steps", "not both"),
    ("campaigns: [{at: 1m, from: nobody@a.test, to: b, size: 1KB}]", "campaigns.0.from", "not the address"),
    ("campaigns: [{at: 1m, from: alice@a.test, to: [b, nowhere], size: 1KB}]", "campaigns.0.to.1", "neither"),
    ("campaigns: [{at: 1m, from: alice@a.test, to: b, count: 6, size: 1KB}]", "campaigns.0.count", "only 5 users"),
    ("campaigns: [{at: 1m, from: alice@a.test, to: alice@a.test, size: 1KB}]", "campaigns.0.to", "to nobody"),
    ("campaigns: [{at: 1m, from: alice@a.test, to: b, count: 0, size: 1KB}]", "campaigns.0.count", "greater than"),
    ("campaigns: [{at: 1m, from: alice@a.test, to: b, size: 1KB, colour: red}]", "campaigns.0.colour", "unknown key"),
])
def test_bad_profiles_and_campaigns_are_named_by_key_and_line(body: str, path: str, words: str) -> None:
    with pytest.raises(ScenarioError) as caught:
        load_scenario(world(body))
    problems = [p for p in caught.value.problems if p.path == path]
    assert problems, str(caught.value)
    assert words in problems[0].message
    assert problems[0].line == world(body).count("\n") + 1  # the body is the file's last line


def test_the_cli_reports_a_bad_step_with_its_line_and_status_2(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(world("traffic: [{from: alice@a.test, to: b, steps: [{at: 1h, rate: 1/h}], size: 1KB}]"))
    for command in ("validate", "run"):
        out, err = io.StringIO(), io.StringIO()
        code = main([command, str(path), "-o", str(tmp_path / "out")] if command == "run" else [command, str(path)],
                    out, err)
        assert code == 2 and out.getvalue() == ""
        assert "traffic.0.steps.0.at: the first step starts at 0" in err.getvalue()
        assert "(line 16)" in err.getvalue() and "Traceback" not in err.getvalue()
    assert not (tmp_path / "out").exists()


def test_a_campaign_over_the_message_limit_is_refused() -> None:
    text = world("campaigns: [{at: 1m, from: alice@a.test, to: b, size: 1KB}]", count=50)
    with pytest.raises(ScenarioError, match="campaigns: 50 campaign"):
        load_scenario(text, max_messages=10)


def test_the_schema_wants_a_rate_from_rate_steps_or_daily_rates() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    validator = jsonschema.Draft202012Validator(scenario_json_schema())
    base = yaml.safe_load(world(""))
    hourly = {"multipliers": [1] * 24}
    for entry, valid in [({"rate": "1/h"}, True), ({"steps": [{"at": 0, "rate": "1/h"}]}, True),
                         ({"daily": {"rates": ["1/h"] * 24}}, True), ({"rate": "1/h", "daily": hourly}, True),
                         ({"daily": hourly}, False), ({}, False)]:
        traffic = [{"from": "alice@a.test", "to": "b", "size": "1KB", **entry}]
        assert validator.is_valid({**base, "traffic": traffic}) == valid, entry


# ---------------------------------------------------------------------------- overrides


def test_override_takes_pairs_and_refuses_other_input_clearly() -> None:
    scenario = load_scenario(world(STEPS))
    changed = scenario.override([("traffic.0.steps.2.rate", "40/h")])
    assert changed.traffic[0].steps is not None and changed.traffic[0].steps[2].rate_per_s == pytest.approx(40 / 3600)
    with pytest.raises(ScenarioError, match="mapping of dotted keys"):
        scenario.override(["traffic.0.rate"])  # type: ignore[list-item]
    with pytest.raises(ScenarioError, match="mapping of dotted keys"):
        scenario.override(5)  # type: ignore[arg-type]
