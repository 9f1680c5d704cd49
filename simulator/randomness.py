"""Named, independent random streams and the distributions scenarios draw from.

Randomness in the simulator goes only through :class:`Streams`: one
``numpy.random.Generator`` (PCG64) per named component, each seeded from the
scenario's base :class:`numpy.random.SeedSequence` extended by a stable hash of
the component's name.  A stream depends only on the base seed and its own name,
so adding a server, a user or a link never changes what another component draws,
and the order in which streams are first requested does not matter.

Distributions are small frozen value objects with a known ``mean``, a
``sample(rng)`` for one draw, a vectorised ``sample_many(rng, n)`` and a
``to_yaml()`` giving their canonical plain form (SI numbers) for the effective
scenario.  :func:`parse_distribution` reads the scenario syntax
(``20KB``, ``{exponential: {mean}}``, ``{lognormal: {median, sigma}}``,
``{uniform: {low, high}}``, ``{choice: [[value, weight], ...]}``).
"""

from __future__ import annotations

import difflib
import hashlib
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import chain, repeat
from typing import TypeAlias

import numpy as np

from .brief import brief
from .wording import counted

__all__ = [
    "DISTRIBUTION_KINDS",
    "Choice",
    "Constant",
    "Distribution",
    "DistributionError",
    "Exponential",
    "Lognormal",
    "Streams",
    "Uniform",
    "parse_distribution",
]


def _name_key(name: str) -> int:
    """A stable 128-bit integer for ``name`` (the same on every platform and run)."""
    return int.from_bytes(hashlib.blake2b(name.encode("utf-8"), digest_size=16).digest(), "big")


class Streams:
    """Independent random generators, one per component name.

    ``Streams(seed).get("server:mx.beta")`` is a PCG64 generator seeded by a
    SeedSequence whose spawn key is the base spawn key plus a 128-bit hash of the
    name (a wider hash than CRC-32, so distinct names practically never share a
    stream).  The same name always gives the same Generator object.
    """

    __slots__ = ("_base", "_generators")

    def __init__(self, seed: int | np.random.SeedSequence) -> None:
        if isinstance(seed, np.random.SeedSequence):
            self._base = seed
        elif isinstance(seed, bool) or not isinstance(seed, int | np.integer):
            raise TypeError(f"seed must be an int or a numpy SeedSequence, not {type(seed).__name__}")
        elif seed < 0:
            raise ValueError(f"seed must not be negative, got {seed}")
        else:
            self._base = np.random.SeedSequence(int(seed))
        self._generators: dict[str, np.random.Generator] = {}

    @property
    def seed_sequence(self) -> np.random.SeedSequence:
        """The base SeedSequence every stream derives from."""
        return self._base

    def get(self, name: str) -> np.random.Generator:
        """The generator for component ``name`` (created on first use, then cached)."""
        generator = self._generators.get(name)
        if generator is None:
            if not isinstance(name, str):
                raise TypeError(f"stream names are strings, not {type(name).__name__}")
            base = self._base
            child = np.random.SeedSequence(
                entropy=base.entropy,
                spawn_key=(*base.spawn_key, _name_key(name)),
                pool_size=base.pool_size,
            )
            generator = np.random.Generator(np.random.PCG64(child))
            self._generators[name] = generator
        return generator

    def __repr__(self) -> str:
        return f"Streams(entropy={self._base.entropy!r}, streams={len(self._generators)})"


class DistributionError(ValueError):
    """A distribution that cannot be read; ``path`` locates the bad part inside it.

    ``path`` is relative to the distribution itself, for example
    ``("lognormal", "sigma")`` or ``("choice", 2, 1)``.
    """

    def __init__(self, message: str, path: tuple[str | int, ...] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.path = path


def _finite(value: float, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise DistributionError(f"{what} must be a number, got {brief(value)}")
    result = float(value)
    if not math.isfinite(result):
        raise DistributionError(f"{what} must be finite, got {brief(value)}")
    return result


@dataclass(frozen=True, slots=True)
class Constant:
    """Always ``value``; draws consume no randomness."""

    value: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "value", _finite(self.value, "constant value"))

    @property
    def mean(self) -> float:
        return self.value

    def sample(self, rng: np.random.Generator) -> float:
        return self.value

    def sample_many(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return np.full(n, self.value, dtype=float)

    def to_yaml(self) -> object:
        return self.value


@dataclass(frozen=True, slots=True)
class Exponential:
    """Exponential with the given ``mean`` (> 0); the field is the ``mean`` property."""

    mean: float

    def __post_init__(self) -> None:
        mean = _finite(self.mean, "exponential mean")
        if mean <= 0:
            raise DistributionError(f"exponential mean must be positive, got {mean!r}", ("mean",))
        object.__setattr__(self, "mean", mean)

    def sample(self, rng: np.random.Generator) -> float:
        return float(rng.exponential(self.mean))

    def sample_many(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return rng.exponential(self.mean, size=n)

    def to_yaml(self) -> object:
        return {"exponential": {"mean": self.mean}}


@dataclass(frozen=True, slots=True)
class Lognormal:
    """Log-normal: ``median`` = exp(mu) (> 0) and ``sigma`` (>= 0) of the underlying normal."""

    median: float
    sigma: float

    def __post_init__(self) -> None:
        median = _finite(self.median, "lognormal median")
        sigma = _finite(self.sigma, "lognormal sigma")
        if median <= 0:
            raise DistributionError(f"lognormal median must be positive, got {median!r}", ("median",))
        if sigma < 0:
            raise DistributionError(f"lognormal sigma must not be negative, got {sigma!r}", ("sigma",))
        object.__setattr__(self, "median", median)
        object.__setattr__(self, "sigma", sigma)

    @property
    def mean(self) -> float:
        return self.median * math.exp(self.sigma**2 / 2)

    def sample(self, rng: np.random.Generator) -> float:
        return float(rng.lognormal(math.log(self.median), self.sigma))

    def sample_many(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return rng.lognormal(math.log(self.median), self.sigma, size=n)

    def to_yaml(self) -> object:
        return {"lognormal": {"median": self.median, "sigma": self.sigma}}


@dataclass(frozen=True, slots=True)
class Uniform:
    """Uniform on ``[low, high)`` (``low == high`` is a constant)."""

    low: float
    high: float

    def __post_init__(self) -> None:
        low = _finite(self.low, "uniform low")
        high = _finite(self.high, "uniform high")
        if low > high:
            raise DistributionError(f"uniform low ({low!r}) must not exceed high ({high!r})", ("low",))
        object.__setattr__(self, "low", low)
        object.__setattr__(self, "high", high)

    @property
    def mean(self) -> float:
        return (self.low + self.high) / 2

    def sample(self, rng: np.random.Generator) -> float:
        return float(rng.uniform(self.low, self.high))

    def sample_many(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return rng.uniform(self.low, self.high, size=n)

    def to_yaml(self) -> object:
        return {"uniform": {"low": self.low, "high": self.high}}


_WEIGHT_SUM_TOLERANCE = 1e-12


@dataclass(frozen=True, slots=True)
class Choice:
    """One of ``values`` with probabilities ``weights`` (normalised to sum to 1)."""

    values: tuple[float, ...]
    weights: tuple[float, ...]
    _cumulative: np.ndarray = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        values = tuple(_finite(v, "choice value") for v in self.values)
        weights = tuple(_finite(w, "choice weight") for w in self.weights)
        if not values:
            raise DistributionError("choice needs at least one [value, weight] pair")
        if len(values) != len(weights):
            raise DistributionError(
                f"choice has {counted(len(values), 'value')} but {counted(len(weights), 'weight')}: "
                "give one weight per value"
            )
        for index, weight in enumerate(weights):
            if weight < 0:
                raise DistributionError(f"choice weights must not be negative, got {weight!r}", (index, 1))
        total = math.fsum(weights)
        if total <= 0:
            raise DistributionError("choice weights must not all be zero")
        # Weights already summing to 1 are kept as they are, so that normalising
        # is idempotent and the effective scenario reloads to an equal object.
        if abs(total - 1.0) > _WEIGHT_SUM_TOLERANCE:
            weights = tuple(w / total for w in weights)
        cumulative = np.cumsum(np.asarray(weights, dtype=float))
        cumulative[-1] = np.inf  # a draw in [0, 1) always lands somewhere
        cumulative.setflags(write=False)
        object.__setattr__(self, "values", values)
        object.__setattr__(self, "weights", weights)
        object.__setattr__(self, "_cumulative", cumulative)

    @property
    def mean(self) -> float:
        return math.fsum(v * w for v, w in zip(self.values, self.weights, strict=True))

    def sample(self, rng: np.random.Generator) -> float:
        index = int(np.searchsorted(self._cumulative, rng.random(), side="right"))
        return self.values[index]

    def sample_many(self, rng: np.random.Generator, n: int) -> np.ndarray:
        indices = np.searchsorted(self._cumulative, rng.random(n), side="right")
        return np.asarray(self.values, dtype=float)[indices]

    def to_yaml(self) -> object:
        return {"choice": [[v, w] for v, w in zip(self.values, self.weights, strict=True)]}


Distribution: TypeAlias = Constant | Exponential | Lognormal | Uniform | Choice
"""Any of the distributions a scenario field may hold."""

DISTRIBUTION_KINDS: dict[str, tuple[str, ...]] = {
    "exponential": ("mean",),
    "lognormal": ("median", "sigma"),
    "uniform": ("low", "high"),
    "choice": (),
}
"""Distribution kinds and their parameter keys (``choice`` takes a list of pairs)."""

_FORMS = (
    "a constant, {exponential: {mean}}, {lognormal: {median, sigma}}, "
    "{uniform: {low, high}} or {choice: [[value, weight], ...]}"
)


def _parse_value(parse_value: Callable[[object], float], raw: object, path: tuple[str | int, ...]) -> float:
    try:
        return float(parse_value(raw))
    except DistributionError:
        raise
    except (ValueError, TypeError) as error:
        raise DistributionError(str(error), path) from error


def _parse_sigma(raw: object) -> float:
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        raise DistributionError(
            f"lognormal sigma must be a plain number, got {brief(raw)}", ("lognormal", "sigma")
        )
    return float(raw)


def _parse_weight(raw: object, path: tuple[str | int, ...]) -> float:
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        raise DistributionError(f"choice weight must be a plain number, got {brief(raw)}", path)
    if raw < 0:
        raise DistributionError(f"choice weights must not be negative, got {brief(raw)}", path)
    return float(raw)


def _with_prefix(error: DistributionError, prefix: tuple[str | int, ...]) -> DistributionError:
    return DistributionError(error.message, (*prefix, *error.path))


def parse_distribution(raw: object, parse_value: Callable[[object], float]) -> Distribution:
    """Read a distribution in scenario syntax; values are read with ``parse_value``.

    ``raw`` is a constant (a number or a unit string such as ``20KB``) or a
    one-key mapping naming the kind.  Distribution objects pass through
    unchanged.  Raises :class:`DistributionError` (a ValueError) whose ``path``
    points at the offending key inside ``raw``.
    """
    if isinstance(raw, Constant | Exponential | Lognormal | Uniform | Choice):
        return raw
    if isinstance(raw, Mapping):
        return _parse_mapping(raw, parse_value)
    if isinstance(raw, bool) or raw is None or (isinstance(raw, Sequence | set) and not isinstance(raw, str)):
        raise DistributionError(f"{brief(raw)} is not a distribution: use {_FORMS}")
    try:
        return Constant(_parse_value(parse_value, raw, ()))
    except DistributionError as error:
        raise DistributionError(f"{error.message}; or a distribution: {_FORMS}", error.path) from error


def _parse_mapping(raw: Mapping[object, object], parse_value: Callable[[object], float]) -> Distribution:
    if len(raw) != 1:
        keys = ", ".join(str(k) for k in raw) or "none"
        raise DistributionError(
            f"a distribution is a mapping with exactly one kind (got keys: {keys}); use {_FORMS}"
        )
    ((kind, params),) = raw.items()
    if kind not in DISTRIBUTION_KINDS:
        known = ", ".join(DISTRIBUTION_KINDS)
        raise DistributionError(f"unknown distribution {brief(kind)}: the kinds are {known}", (str(kind),))
    assert isinstance(kind, str)
    if kind == "choice":
        return _parse_choice(params, parse_value)
    expected = DISTRIBUTION_KINDS[kind]
    if not isinstance(params, Mapping):
        raise DistributionError(
            f"{kind} takes a mapping of its parameters ({', '.join(expected)}), got {brief(params)}", (kind,)
        )
    missing = [key for key in expected if key not in params]
    needs = f"{kind} needs {' and '.join(repr(key) for key in missing)}"
    for key in params:
        if key not in expected:
            close = difflib.get_close_matches(str(key), missing or expected, n=1, cutoff=0.5)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            also = f"; {needs}" if missing else ""
            raise DistributionError(
                f"unknown key {brief(key)} for {kind}{hint} (its keys are {', '.join(expected)}{also})",
                (kind, str(key)),
            )
    if missing:
        raise DistributionError(needs, (kind, missing[0]))
    try:
        if kind == "exponential":
            return Exponential(_parse_value(parse_value, params["mean"], (kind, "mean")))
        if kind == "lognormal":
            median = _parse_value(parse_value, params["median"], (kind, "median"))
            return Lognormal(median, _parse_sigma(params["sigma"]))
        low = _parse_value(parse_value, params["low"], (kind, "low"))
        high = _parse_value(parse_value, params["high"], (kind, "high"))
        return Uniform(low, high)
    except DistributionError as error:
        if error.path and error.path[0] == kind:
            raise
        raise _with_prefix(error, (kind,)) from error


def _parse_choice(params: object, parse_value: Callable[[object], float]) -> Choice:
    if not isinstance(params, Sequence) or isinstance(params, str) or not params:
        raise DistributionError(
            f"choice takes a non-empty list of [value, weight] pairs, got {brief(params)}", ("choice",)
        )
    values: list[float] = []
    weights: list[float] = []
    for index, pair in enumerate(params):
        if not isinstance(pair, Sequence) or isinstance(pair, str) or len(pair) != 2:
            raise DistributionError(
                f"choice items are [value, weight] pairs, got {brief(pair)}", ("choice", index)
            )
        values.append(_parse_value(parse_value, pair[0], ("choice", index, 0)))
        weights.append(_parse_weight(pair[1], ("choice", index, 1)))
    try:
        return Choice(tuple(values), tuple(weights))
    except DistributionError as error:
        raise _with_prefix(error, ("choice",)) from error


BLOCK = 512  # random draws are made this many at a time: one numpy call instead of hundreds


def buffered(produce: Callable[[int], np.ndarray]) -> Callable[[], float]:
    """Draws from ``produce(n)`` handed out one at a time, made ``BLOCK`` at a time when needed.

    The result is the ``__next__`` of a chain of blocks: a draw is one C-level call.
    """
    blocks = (produce(BLOCK).tolist() for _ in repeat(None))
    return chain.from_iterable(blocks).__next__
