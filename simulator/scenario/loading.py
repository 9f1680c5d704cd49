"""Loading a scenario: from a file, YAML text or plain data to a validated
:class:`Scenario`, or a :class:`ScenarioError` listing every problem found."""

from __future__ import annotations

import copy
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ..brief import brief
from ..limits import DEFAULT_MAX_MESSAGES, check_max_messages
from .errors import Loc, Problem, ScenarioError, SemanticError, unknown_key_message
from .messages import to_problems, validation_issues
from .model import Scenario
from .parsing import parse_yaml
from .servers import ServerSpec


def load_scenario(source: str | os.PathLike[str], *, max_messages: int | None = None) -> Scenario:
    """Load and validate a scenario from a file path or from YAML text.

    A ``str`` that is not an existing path and contains a newline or a ``:`` is
    YAML text; otherwise it is a path.  Raises :class:`ScenarioError`, also for a
    scenario that asks for more than :mod:`simulator.limits` allows: more than
    ``max_messages`` expected (message, recipient) pairs (default 2,000,000).
    """
    limit = DEFAULT_MAX_MESSAGES if max_messages is None else check_max_messages(max_messages)
    if isinstance(source, str) and (
        not source.strip() or (not os.path.exists(source) and ("\n" in source or ":" in source))
    ):
        text = source
    else:
        path = Path(source)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ScenarioError([Problem("", f"no such scenario file: {path}")]) from None
        except (OSError, UnicodeDecodeError) as error:
            raise ScenarioError([Problem("", f"cannot read scenario file {path}: {error}")]) from None
    raw, lines, problems = parse_yaml(text)
    return build(raw, lines, problems, max_messages=limit)


def scenario_from_dict(raw: Mapping[str, Any], *, max_messages: int | None = None) -> Scenario:
    """Validate a scenario given as plain data (as YAML would load it; no line numbers)."""
    limit = DEFAULT_MAX_MESSAGES if max_messages is None else check_max_messages(max_messages)
    return build(raw, None, max_messages=limit)


def build(raw: object, lines: Mapping[tuple[str, ...], int] | None, early: Iterable[Problem] = (),
          max_messages: int = DEFAULT_MAX_MESSAGES) -> Scenario:
    """Validate ``raw``: every problem found, with paths and lines, or the Scenario.

    A well-formed scenario is then held to the limits on the work it asks for (estimated
    from its numbers, nothing expanded), with ``max_messages`` as the limit on mail.
    """
    from ..workload import workload_issues  # it reads the scenario's models, which import this package
    problems = list(early)
    if raw is None:
        raise ScenarioError(
            [*problems, Problem("", "the scenario is empty: it needs name, duration, network and servers")]
        )
    if not isinstance(raw, Mapping):
        raise ScenarioError(
            [
                *problems,
                Problem("", f"the top level must be a mapping of keys (name, duration, ...), got {brief(raw)}", 1),
            ]
        )
    issues = _precheck(raw)
    defaults = raw.get("defaults")
    if isinstance(defaults, Mapping):
        try:
            ServerSpec.model_validate({**defaults, "name": "defaults"})
        except ValidationError as error:
            issues += validation_issues(error, ("defaults",), raw)
    scenario: Scenario | None = None
    try:
        scenario = Scenario.model_validate(raw)
    except ValidationError as error:
        issues += validation_issues(error, (), raw)
    except SemanticError as error:
        issues += error.issues
    if scenario is not None and not issues and not problems:
        issues = workload_issues(scenario, max_messages)
    problems += to_problems(issues, raw, lines)
    if problems or scenario is None:
        raise ScenarioError(problems)
    scenario._raw = copy.deepcopy(dict(raw))
    scenario._max_messages = max_messages
    return scenario


def _precheck(raw: Mapping[str, Any]) -> list[tuple[Loc, str]]:
    """Keys the models would silently accept because the loader fills them in."""
    issues: list[tuple[Loc, str]] = []
    allowed = ServerSpec.yaml_keys()
    servers = raw.get("servers")
    if isinstance(servers, Mapping):
        for name, spec in servers.items():
            if isinstance(spec, Mapping) and "name" in spec:
                issues.append((("servers", name, "name"), unknown_key_message("name", allowed)))
    defaults = raw.get("defaults")
    if isinstance(defaults, Mapping) and "name" in defaults:
        issues.append((("defaults", "name"), unknown_key_message("name", allowed)))
    return issues
