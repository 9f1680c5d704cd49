"""Tests for simulator.randomness: named streams and distributions."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from simulator.randomness import (
    Choice,
    Constant,
    Distribution,
    DistributionError,
    Exponential,
    Lognormal,
    Streams,
    Uniform,
    parse_distribution,
)
from simulator.units import parse_duration, parse_size

# --------------------------------------------------------------------------- streams


def draws(generator: np.random.Generator, n: int = 5) -> list[float]:
    return generator.random(n).tolist()


def test_same_seed_and_name_give_the_same_draws() -> None:
    assert draws(Streams(7).get("traffic.0")) == draws(Streams(7).get("traffic.0"))


def test_different_names_and_seeds_give_different_draws() -> None:
    streams = Streams(7)
    assert draws(streams.get("a")) != draws(streams.get("b"))
    assert draws(Streams(7).get("a")) != draws(Streams(8).get("a"))


def test_get_returns_the_cached_generator() -> None:
    streams = Streams(1)
    assert streams.get("x") is streams.get("x")


def test_streams_do_not_depend_on_request_order_or_other_names() -> None:
    first = Streams(42)
    a_first = draws(first.get("server:a"))
    first.get("server:b")
    second = Streams(42)
    for name in ("new component", "server:b", "server:c"):
        draws(second.get(name), 100)
    assert draws(second.get("server:a")) == a_first


def test_streams_use_pcg64_and_expose_the_base_sequence() -> None:
    streams = Streams(3)
    assert isinstance(streams.get("x").bit_generator, np.random.PCG64)
    assert streams.seed_sequence.entropy == 3


def test_streams_accept_a_seed_sequence() -> None:
    base = np.random.SeedSequence(11)
    assert Streams(base).seed_sequence is base
    assert draws(Streams(base).get("n")) == draws(Streams(11).get("n"))
    child = base.spawn(1)[0]
    assert draws(Streams(child).get("n")) != draws(Streams(base).get("n"))


def test_a_stream_differs_from_the_base_generator() -> None:
    base = np.random.Generator(np.random.PCG64(np.random.SeedSequence(5)))
    assert draws(Streams(5).get("")) != draws(base)


@pytest.mark.parametrize("bad", [-1, 1.5, "7", True, None])
def test_streams_reject_bad_seeds(bad: object) -> None:
    with pytest.raises((TypeError, ValueError)):
        Streams(bad)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- distributions


def _sd(distribution: Distribution) -> float:
    """Standard deviation, computed independently of the code under test."""
    if isinstance(distribution, Constant):
        return 0.0
    if isinstance(distribution, Exponential):
        return distribution.mean
    if isinstance(distribution, Lognormal):
        s2 = distribution.sigma**2
        return math.sqrt((math.exp(s2) - 1) * math.exp(2 * math.log(distribution.median) + s2))
    if isinstance(distribution, Uniform):
        return (distribution.high - distribution.low) / math.sqrt(12)
    assert isinstance(distribution, Choice)
    mean = sum(v * w for v, w in zip(distribution.values, distribution.weights, strict=True))
    return math.sqrt(sum(w * (v - mean) ** 2 for v, w in zip(distribution.values, distribution.weights, strict=True)))


DISTRIBUTIONS: list[tuple[Distribution, float]] = [
    (Constant(20_000), 20_000),
    (Exponential(3.0), 3.0),
    (Lognormal(10_000, 1.0), 10_000 * math.exp(0.5)),
    (Lognormal(5, 0.0), 5.0),
    (Uniform(2, 10), 6.0),
    (Uniform(4, 4), 4.0),
    (Choice((1, 2, 5), (0.5, 0.3, 0.2)), 0.5 + 0.6 + 1.0),
    (Choice((10, 20), (1, 3)), 17.5),
]


@pytest.mark.parametrize(("distribution", "mean"), DISTRIBUTIONS)
def test_mean_property_is_the_analytic_mean(distribution: Distribution, mean: float) -> None:
    assert distribution.mean == pytest.approx(mean, rel=1e-12)


@pytest.mark.parametrize(("distribution", "mean"), DISTRIBUTIONS)
def test_sample_means_converge_to_the_mean(distribution: Distribution, mean: float) -> None:
    # Five standard errors: a seeded test that fails only if the sampler is wrong.
    n = 200_000
    rng = Streams(2024).get(f"mean check {distribution!r}")
    sample = distribution.sample_many(rng, n)
    assert sample.shape == (n,)
    assert abs(sample.mean() - mean) <= 5 * _sd(distribution) / math.sqrt(n) + 1e-9 * abs(mean)


@pytest.mark.parametrize(("distribution", "mean"), DISTRIBUTIONS)
def test_single_draws_converge_to_the_mean(distribution: Distribution, mean: float) -> None:
    n = 20_000
    rng = Streams(99).get("single draws")
    values = [distribution.sample(rng) for _ in range(n)]
    assert all(isinstance(v, float) for v in values[:10])
    assert abs(sum(values) / n - mean) <= 5 * _sd(distribution) / math.sqrt(n) + 1e-9 * abs(mean)


@pytest.mark.parametrize(("distribution", "mean"), DISTRIBUTIONS)
def test_sampling_is_deterministic_per_stream(distribution: Distribution, mean: float) -> None:
    one = distribution.sample_many(Streams(1).get("d"), 50)
    two = distribution.sample_many(Streams(1).get("d"), 50)
    assert one.tolist() == two.tolist()


def test_samples_stay_in_their_support() -> None:
    rng = Streams(0).get("support")
    assert Uniform(2, 3).sample_many(rng, 10_000).min() >= 2
    assert Uniform(2, 3).sample_many(rng, 10_000).max() < 3
    assert Exponential(1).sample_many(rng, 10_000).min() >= 0
    assert Lognormal(1, 2).sample_many(rng, 10_000).min() > 0
    assert set(Choice((1, 2), (0.5, 0.5)).sample_many(rng, 1000).tolist()) == {1.0, 2.0}
    assert Choice((7, 8), (0, 1)).sample_many(rng, 1000).tolist() == [8.0] * 1000


def test_choice_frequencies_follow_the_weights() -> None:
    n = 100_000
    sample = Choice((1, 2, 3), (1, 2, 7)).sample_many(Streams(5).get("freq"), n)
    for value, p in ((1, 0.1), (2, 0.2), (3, 0.7)):
        share = float(np.mean(sample == value))
        assert abs(share - p) <= 5 * math.sqrt(p * (1 - p) / n)


def test_constant_draws_consume_no_randomness() -> None:
    rng = Streams(3).get("c")
    state = rng.bit_generator.state
    assert Constant(4).sample(rng) == 4.0
    assert rng.bit_generator.state == state


def test_choice_weights_are_normalised_and_normalising_is_idempotent() -> None:
    choice = Choice((1.0, 2.0, 3.0), (1.0, 1.0, 1.0))
    assert math.fsum(choice.weights) == pytest.approx(1.0, abs=1e-15)
    again = Choice(choice.values, choice.weights)
    assert again == choice
    assert Choice((1, 2), (1, 3)).weights == (0.25, 0.75)


@given(st.lists(st.floats(0.001, 1000), min_size=1, max_size=8))
def test_choice_normalisation_is_idempotent_for_any_weights(weights: list[float]) -> None:
    values = tuple(float(i) for i in range(len(weights)))
    once = Choice(values, tuple(weights))
    assert Choice(values, once.weights) == once


@pytest.mark.parametrize(
    "make",
    [
        lambda: Exponential(0),
        lambda: Exponential(-1),
        lambda: Lognormal(0, 1),
        lambda: Lognormal(1, -0.1),
        lambda: Uniform(3, 2),
        lambda: Choice((), ()),
        lambda: Choice((1, 2), (1,)),
        lambda: Choice((1,), (-1,)),
        lambda: Choice((1, 2), (0, 0)),
        lambda: Constant(math.nan),
        lambda: Constant(True),
    ],
)
def test_invalid_parameters_are_refused(make: object) -> None:
    with pytest.raises(DistributionError):
        make()  # type: ignore[operator]


# --------------------------------------------------------------------------- parsing


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("20KB", Constant(20_000)),
        (512, Constant(512)),
        ({"exponential": {"mean": "1KB"}}, Exponential(1000)),
        ({"lognormal": {"median": "10KB", "sigma": 2.0}}, Lognormal(10_000, 2.0)),
        ({"lognormal": {"median": 5, "sigma": 0}}, Lognormal(5, 0)),
        ({"uniform": {"low": "1KiB", "high": "2KiB"}}, Uniform(1024, 2048)),
        ({"choice": [["1KB", 3], ["2KB", 1]]}, Choice((1000, 2000), (0.75, 0.25))),
    ],
)
def test_parse_distribution_reads_every_kind_with_the_field_unit(raw: object, expected: Distribution) -> None:
    assert parse_distribution(raw, parse_size) == expected


def test_parse_distribution_uses_the_unit_of_the_field() -> None:
    assert parse_distribution({"exponential": {"mean": "2h"}}, parse_duration) == Exponential(7200)
    with pytest.raises(DistributionError, match="is not a duration"):
        parse_distribution({"exponential": {"mean": "2KB"}}, parse_duration)


def test_parse_distribution_passes_distribution_objects_through() -> None:
    d = Lognormal(1, 1)
    assert parse_distribution(d, parse_size) is d


@pytest.mark.parametrize(
    ("raw", "path", "words"),
    [
        ({"gaussian": {"mean": 1}}, ("gaussian",), "unknown distribution"),
        ({"exponential": {"mean": 1}, "uniform": {"low": 1, "high": 2}}, (), "exactly one"),
        ({}, (), "exactly one"),
        ({"exponential": {"average": 1}}, ("exponential", "average"), "unknown key"),
        ({"exponential": {}}, ("exponential", "mean"), "needs"),
        ({"exponential": 5}, ("exponential",), "mapping"),
        ({"exponential": {"mean": 0}}, ("exponential", "mean"), "positive"),
        ({"lognormal": {"median": "10KB"}}, ("lognormal", "sigma"), "needs"),
        ({"lognormal": {"median": "10KB", "sigma": -1}}, ("lognormal", "sigma"), "negative"),
        ({"lognormal": {"median": "10KB", "sigma": "2KB"}}, ("lognormal", "sigma"), "plain number"),
        ({"lognormal": {"median": "ten", "sigma": 1}}, ("lognormal", "median"), "is not a size"),
        ({"uniform": {"low": 5, "high": 2}}, ("uniform", "low"), "must not exceed"),
        ({"uniform": {"low": -1, "high": 2}}, ("uniform", "low"), "negative"),
        ({"choice": []}, ("choice",), "non-empty list"),
        ({"choice": "1KB"}, ("choice",), "non-empty list"),
        ({"choice": [[1, 1], [2]]}, ("choice", 1), "pairs"),
        ({"choice": [[1, 1], [2, -1]]}, ("choice", 1, 1), "negative"),
        ({"choice": [[1, 0], [2, 0]]}, ("choice",), "zero"),
        ({"choice": [["x", 1]]}, ("choice", 0, 0), "is not a size"),
        ("30x", (), "is not a size"),
        (None, (), "not a distribution"),
        (True, (), "not a distribution"),
        ([1, 2], (), "not a distribution"),
    ],
)
def test_parse_distribution_errors_say_what_and_where(raw: object, path: tuple[object, ...], words: str) -> None:
    with pytest.raises(DistributionError) as info:
        parse_distribution(raw, parse_size)
    assert words in str(info.value)
    assert info.value.path == path
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize(("distribution", "mean"), DISTRIBUTIONS)
def test_to_yaml_parses_back_to_an_equal_distribution(distribution: Distribution, mean: float) -> None:
    plain = distribution.to_yaml()
    assert parse_distribution(plain, float) == distribution


def test_to_yaml_forms() -> None:
    assert Constant(3).to_yaml() == 3.0
    assert Exponential(2).to_yaml() == {"exponential": {"mean": 2.0}}
    assert Lognormal(10, 2).to_yaml() == {"lognormal": {"median": 10.0, "sigma": 2.0}}
    assert Uniform(1, 2).to_yaml() == {"uniform": {"low": 1.0, "high": 2.0}}
    assert Choice((1, 2), (1, 1)).to_yaml() == {"choice": [[1.0, 0.5], [2.0, 0.5]]}


def test_distributions_are_frozen_and_hashable() -> None:
    d = Uniform(1, 2)
    with pytest.raises(AttributeError):
        d.low = 0  # type: ignore[misc]
    assert hash(Lognormal(1, 1)) == hash(Lognormal(1.0, 1.0))
    assert hash(Choice((1,), (1,))) == hash(Choice((1.0,), (1.0,)))
