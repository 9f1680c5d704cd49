"""The outages part of a scenario: scheduled and random failures of servers and links
(``outages``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Literal

from pydantic import Field, model_validator

from ..limits import scenario_duration
from ..units import parse_duration
from .base import Spec
from .errors import Loc, raise_at
from .fields import Name, PositiveSeconds, Seconds


class OutageSpec(Spec):
    """A server or link failure: scheduled (``start`` with ``end`` or ``duration``) or
    random (``mtbf`` and ``mttr``: exponential up and down times).

    A scheduled outage is held effective as ``start_s``/``end_s``.
    """

    _extra_keys: ClassVar[tuple[str, ...]] = ("duration",)

    target: Name
    start_s: Seconds | None = Field(default=None, alias="start")
    end_s: Seconds | None = Field(default=None, alias="end")
    mtbf_s: PositiveSeconds | None = Field(default=None, alias="mtbf")
    mttr_s: PositiveSeconds | None = Field(default=None, alias="mttr")

    @model_validator(mode="before")
    @classmethod
    def _one_form(cls, data: Any) -> Any:
        if not isinstance(data, Mapping):
            return data
        data = cls._by_alias(data)
        scheduled = [key for key in ("start", "end", "duration") if key in data]
        random = [key for key in ("mtbf", "mttr") if key in data]
        forms = "either start with duration or end, or mtbf and mttr"
        if scheduled and random:
            raise_at([((random[0],), f"an outage takes {forms}, not both kinds")], data)
        if not scheduled and not random:
            raise_at([((), f"an outage needs {forms}")], data)
        if random:
            missing = [key for key in ("mtbf", "mttr") if key not in data]
            if missing:
                raise_at(
                    [((missing[0],), f"a random outage needs both mtbf and mttr ({missing[0]} is missing)")],
                    data,
                )
            return data
        issues: list[tuple[Loc, str]] = []
        if "start" not in data:
            issues.append((("start",), "a scheduled outage needs start"))
        if ("end" in data) == ("duration" in data):
            key = "duration" if "duration" in data else "end"
            issues.append(((key,), "a scheduled outage needs exactly one of end and duration"))
        if issues:
            raise_at(issues, data)
        if "duration" not in data:
            return data
        converted = {key: value for key, value in data.items() if key != "duration"}
        try:
            start_s = parse_duration(data["start"])
        except ValueError:
            return converted | {"end": None}  # start's own validation reports it
        try:
            converted["end"] = scenario_duration(start_s + scenario_duration(data["duration"]))
        except ValueError as error:
            raise_at([(("duration",), str(error))], data)
        return converted

    @model_validator(mode="after")
    def _check_order(self) -> OutageSpec:
        if self.start_s is not None and self.end_s is not None and self.end_s < self.start_s:
            raise_at([(("end",), f"end ({self.end_s} s) is before start ({self.start_s} s)")], self)
        return self

    @property
    def kind(self) -> Literal["server", "link"]:
        return "link" if "--" in self.target else "server"

    @property
    def ends(self) -> tuple[str, str]:
        """The two nodes of a link target (``ValueError`` for a server target)."""
        a, separator, b = self.target.partition("--")
        if not separator:
            raise ValueError(f"outage target {self.target!r} is a server, not a link")
        return a, b

    @property
    def scheduled(self) -> bool:
        return self.mtbf_s is None

    def to_yaml(self) -> dict[str, object]:
        if self.scheduled:
            return {"target": self.target, "start": self.start_s, "end": self.end_s}
        return {"target": self.target, "mtbf": self.mtbf_s, "mttr": self.mttr_s}
