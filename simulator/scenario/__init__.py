"""The scenario: a typed, frozen, validated description of one simulation.

This package owns the scenario file format of SCENARIO.md and everything between
the YAML text and the :class:`Scenario` object the simulation reads.  One module
per job:

- ``errors``: :class:`Problem` and :class:`ScenarioError`, and reporting a mistake at a key path;
- ``fields``: the annotated field types (durations, sizes, names, distributions) and their JSON Schema;
- ``base``: the base class of every model (frozen, no unknown keys, YAML names as aliases);
- ``network``, ``servers``, ``users``, ``traffic``, ``outages``, ``lists``: the models of each
  part of the file, with their defaults (retry policies, access protocols, server ``defaults``,
  list owners); ``lists`` also checks what lists and aliases name, loops refused;
- ``model``: the root :class:`Scenario`: parts put together, queries, effective YAML, overrides;
- ``checks``: cross-references (nodes, servers, domains, users, links) that must resolve;
- ``parsing``: YAML text read safely, with the line of every key and list item;
- ``messages``: pydantic's errors worded for people, with key paths and lines;
- ``loading``: :func:`load_scenario` and :func:`scenario_from_dict`, every problem collected;
- ``overrides``: dotted-key changes (``servers.mx.beta.retry.interval``);
- ``schema``: the JSON Schema of the format, for editors.

Errors are :class:`ScenarioError`, one :class:`Problem` per mistake, printed as
``servers.mx.beta.retry.intervall: unknown key 'intervall'; did you mean 'interval'? (line 8)``.
Paths are YAML key paths; list items are numbered from 0; a server or domain
name containing dots stays one segment.
"""

from __future__ import annotations

from .errors import Problem, ScenarioError
from .loading import load_scenario, scenario_from_dict
from .model import Scenario
from .schema import scenario_json_schema

__all__ = [
    "Problem",
    "Scenario",
    "ScenarioError",
    "load_scenario",
    "scenario_from_dict",
    "scenario_json_schema",
]
