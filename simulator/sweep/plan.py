"""Planning a sweep: the grid of overrides, validated and expanded before anything runs.

This module owns :func:`plan_sweep` and its result, :class:`SweepPlan`: every combination of
the values given for some dotted scenario keys (``network.links.1.bandwidth``), each
combination a *point*, each applied through :meth:`Scenario.override` (validated like the
file, every value alone first so that a problem is named precisely), with each point's
effective YAML, the SI value of each swept key, and the replications' seeds. Also
:func:`param_text`, a swept value as the text ``runs.csv``, ``sweep.csv`` and messages show.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias

import numpy as np

from .. import __version__
from ..scenario import Problem, Scenario, ScenarioError, load_scenario
from .errors import SweepDefinitionError
from .seeds import replication_seeds

Grid: TypeAlias = Mapping[str, Sequence[object]]


@dataclass(frozen=True)
class SweepPlan:
    """A validated sweep: the points, their effective scenarios, the seeds."""

    scenario: Scenario
    keys: tuple[str, ...]
    values: tuple[tuple[object, ...], ...]
    points: tuple[dict[str, object], ...]
    point_yaml: tuple[str, ...]
    point_numbers: tuple[tuple[float | None, ...], ...]
    replications: int
    base_seed: int
    seeds: tuple[int, ...]

    @property
    def runs(self) -> int:
        return len(self.points) * self.replications

    def definition(self) -> dict[str, Any]:
        """What ``sweep.json`` stores: enough to tell whether a folder holds this sweep."""
        return {
            "format": 1,
            "mailsim": __version__,
            "grid": {key: list(values) for key, values in zip(self.keys, self.values, strict=True)},
            "replications": self.replications,
            "base_seed": self.base_seed,
            "seeds": "SeedSequence(base_seed).spawn(replications)[r].generate_state(1, uint64)[0]",
            "scenario_sha256": hashlib.sha256(self.scenario.to_effective_yaml().encode("utf-8")).hexdigest(),
        }

    def label(self, point: int) -> str:
        """``key=value, key=value`` of a point, for messages."""
        return ", ".join(f"{k}={param_text(v)}" for k, v in self.points[point].items()) or "(the scenario)"


def param_text(value: object) -> str:
    """A swept value as CSV text: YAML-style scalars, JSON for lists and mappings."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, list | dict):
        return json.dumps(value, separators=(", ", ": "))
    return str(value)


def _plain(value: object, key: str) -> object:
    """``value`` as plain JSON-able data (numpy scalars and tuples converted)."""
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or isinstance(value, str | bool | int | float):
        if isinstance(value, float) and not math.isfinite(value):
            raise SweepDefinitionError(f"{key}: sweep values must be finite, got {value!r}")
        return value
    if isinstance(value, list | tuple):
        return [_plain(item, key) for item in value]
    if isinstance(value, Mapping):
        return {str(k): _plain(v, key) for k, v in value.items()}
    raise SweepDefinitionError(
        f"{key}: sweep values are plain YAML data (numbers, strings, booleans, lists, mappings), "
        f"not {type(value).__name__}"
    )


def _check_grid(grid: Grid) -> tuple[tuple[str, ...], tuple[tuple[object, ...], ...]]:
    keys: list[str] = []
    values: list[tuple[object, ...]] = []
    for key, given in grid.items():
        if not isinstance(key, str) or not key:
            raise SweepDefinitionError(f"sweep keys are dotted scenario keys, got {key!r}")
        if key == "seed":
            raise SweepDefinitionError("'seed' cannot be swept: replications set each run's seed (give a base seed)")
        if isinstance(given, str | bytes) or not isinstance(given, Sequence):
            raise SweepDefinitionError(f"{key}: give a list of values, got {given!r}")
        if not given:
            raise SweepDefinitionError(f"{key}: give at least one value")
        plain = tuple(_plain(v, key) for v in given)
        duplicates = sorted({param_text(v) for v in plain if sum(param_text(w) == param_text(v) for w in plain) > 1})
        if duplicates:
            raise SweepDefinitionError(f"{key}: value(s) given more than once: {', '.join(duplicates)}")
        keys.append(key)
        values.append(plain)
    return tuple(keys), tuple(values)


def plan_sweep(
    scenario: Scenario | str | os.PathLike[str], grid: Grid, replications: int = 1, seed: int | None = None
) -> SweepPlan:
    """Expand and validate a sweep before anything runs.

    ``grid`` maps dotted scenario keys to their values; the points are every combination,
    the first key varying slowest.  Every value is first applied alone, then every
    combination, through :meth:`Scenario.override` (validated like the file).  Raises
    :class:`ScenarioError` naming the key and value of each problem, or
    :class:`SweepDefinitionError` for a malformed grid.  ``seed`` is the base seed
    (default: the scenario's).
    """
    base = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
    if isinstance(replications, bool) or not isinstance(replications, int) or replications < 1:
        raise SweepDefinitionError(f"replications must be a whole number >= 1, got {replications!r}")
    base_seed = base.seed if seed is None else seed
    if isinstance(base_seed, bool) or not isinstance(base_seed, int) or base_seed < 0:
        raise SweepDefinitionError(f"the base seed must be a whole number >= 0, got {base_seed!r}")
    keys, values = _check_grid(grid)
    built: dict[str, Scenario] = {}
    _check_each_value(base, keys, values, built)
    points: list[dict[str, object]] = []
    scenarios: list[Scenario] = []
    problems: list[Problem] = []
    for combination in itertools.product(*values):
        overrides = dict(zip(keys, combination, strict=True))
        try:
            scenarios.append(_override(base, overrides, built))
        except ScenarioError as error:
            label = ", ".join(f"{k}={param_text(v)}" for k, v in overrides.items())
            problems += [Problem(p.path, f"{p.message} [with {label}]", p.line) for p in error.problems]
        points.append(overrides)
    if problems:
        raise ScenarioError(problems)
    return SweepPlan(
        scenario=base,
        keys=keys,
        values=values,
        points=tuple(points),
        point_yaml=tuple(s.to_effective_yaml() for s in scenarios),
        point_numbers=tuple(tuple(_effective_number(s, key) for key in keys) for s in scenarios),
        replications=replications,
        base_seed=base_seed,
        seeds=replication_seeds(base_seed, replications),
    )


def _override(base: Scenario, overrides: dict[str, object], built: dict[str, Scenario]) -> Scenario:
    cache_key = json.dumps(overrides, sort_keys=True)
    scenario = built.get(cache_key)
    if scenario is None:
        scenario = built[cache_key] = base.override(overrides)
    return scenario


def _check_each_value(
    base: Scenario, keys: tuple[str, ...], values: tuple[tuple[object, ...], ...], built: dict[str, Scenario]
) -> None:
    """Apply every value alone first, so that a bad key or value is named precisely."""
    problems: list[Problem] = []
    for key, options in zip(keys, values, strict=True):
        for value in options:
            try:
                _override(base, {key: value}, built)
            except ScenarioError as error:
                label = f"{key}={param_text(value)}"
                problems += [Problem(p.path, f"{p.message} [with {label}]", p.line) for p in error.problems]
    if problems:
        raise ScenarioError(problems)


def _effective_number(scenario: Scenario, key: str) -> float | None:
    """The swept key's value in SI units as the effective scenario holds it, if it is a number."""
    node: Any = scenario.to_effective_dict()
    rest = key
    while rest:
        if isinstance(node, dict):
            match = max((k for k in node if rest == str(k) or rest.startswith(f"{k}.")), key=len, default=None)
            if match is None:
                return None
            node, rest = node[match], rest[len(str(match)) + 1 :]
        elif isinstance(node, list):
            head, _, rest = rest.partition(".")
            if not head.isdigit() or int(head) >= len(node):
                return None
            node = node[int(head)]
        else:
            return None
    if isinstance(node, bool) or not isinstance(node, int | float):
        return None
    return float(node)
