"""The network part of a scenario: links between named nodes (``network.links``)."""

from __future__ import annotations

from pydantic import Field

from .base import Spec
from .fields import BitsPerSecond, NodeName, Seconds


class LinkSpec(Spec):
    """A bidirectional link between two nodes (YAML ``{between: [a, b], latency, bandwidth}``)."""

    between: tuple[NodeName, NodeName]
    latency_s: Seconds = Field(alias="latency")
    bandwidth_bps: BitsPerSecond | None = Field(default=None, alias="bandwidth")

    @property
    def a(self) -> str:
        return self.between[0]

    @property
    def b(self) -> str:
        return self.between[1]

    @property
    def name(self) -> str:
        """The link's name as outages write it: ``a--b``."""
        return f"{self.a}--{self.b}"

    def to_yaml(self) -> dict[str, object]:
        return {"between": [self.a, self.b], "latency": self.latency_s, "bandwidth": self.bandwidth_bps}


class Network(Spec):
    """The topology: links between named nodes."""

    links: tuple[LinkSpec, ...] = Field(min_length=1)
