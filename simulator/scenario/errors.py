"""Scenario errors: :class:`Problem` (one mistake, with its key path and line) and
:class:`ScenarioError` (all of them), defined in :mod:`simulator.problems` and named here, and the
helpers the models use to report a mistake at a key path inside pydantic validation."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import NoReturn, TypeAlias

from pydantic import ValidationError
from pydantic_core import InitErrorDetails, PydanticCustomError

from ..problems import Problem, ScenarioError

__all__ = ["Loc", "Problem", "ScenarioError", "SemanticError", "dotted_path", "raise_at",
           "unknown_key_message"]

Loc: TypeAlias = tuple[str | int, ...]
"""A key path inside the scenario mapping: keys are strings, list items ints."""


class SemanticError(ScenarioError):
    """Raised from inside model validation; ``issues`` keep the raw key paths."""

    def __init__(self, issues: list[tuple[Loc, str]]) -> None:
        self.issues = issues
        super().__init__(Problem(dotted_path(loc), message) for loc, message in issues)


def dotted_path(loc: Iterable[str | int]) -> str:
    return ".".join(str(segment) for segment in loc)


def raise_at(issues: Iterable[tuple[Loc, str]], value: object) -> NoReturn:
    """Raise a pydantic ValidationError with one error per issue, at the issue's path."""
    details = [
        InitErrorDetails(
            type=PydanticCustomError("scenario", "{message}", {"message": message}),
            loc=loc,
            input=value,
        )
        for loc, message in issues
    ]
    raise ValidationError.from_exception_data("Scenario", details)


def unknown_key_message(key: object, allowed: Iterable[str]) -> str:
    allowed = list(allowed)
    close = difflib.get_close_matches(str(key), allowed, n=1, cutoff=0.6)
    if close:
        return f"unknown key '{key}'; did you mean '{close[0]}'?"
    if allowed:
        return f"unknown key '{key}'; the keys here are: {', '.join(allowed)}"
    return f"unknown key '{key}'"
