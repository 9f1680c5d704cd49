"""The mail a scenario sends: Poisson workloads with attachments, replies, forwards and
filing (``traffic``), and scripted messages at exact times (``messages``)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StrictBool, StrictFloat, model_validator

from ..profiles import RateProfile
from ..randomness import Constant
from .base import Spec
from .errors import raise_at
from .fields import (
    Address,
    Addresses,
    Bytes,
    DurationDistribution,
    Name,
    PerSecond,
    RecipientsDistribution,
    Seconds,
    SizeDistribution,
)
from .profiles import DailySpec, StepSpec, rate_issues


class AttachmentSpec(Spec):
    """Attachments of generated messages: each message has one with ``probability``."""

    probability: StrictFloat = Field(ge=0, le=1)
    size: SizeDistribution

    def to_yaml(self) -> dict[str, object]:
        return {"probability": self.probability, "size": self.size.to_yaml()}


class ReplySpec(Spec):
    """A recipient replies to a message it has read with ``probability``, ``think`` later."""

    probability: StrictFloat = Field(ge=0, le=1)
    think: DurationDistribution = Field(default=Constant(300.0), json_schema_extra={"default": 300})

    def to_yaml(self) -> dict[str, object]:
        return {"probability": self.probability, "think": self.think.to_yaml()}


class ForwardSpec(ReplySpec):
    """A recipient forwards a message it has read to a user drawn from ``to`` (default: the entry's ``to``)."""

    to: Name | None = None

    def to_yaml(self) -> dict[str, object]:
        return {**super().to_yaml(), "to": self.to}


class FileSpec(ReplySpec):
    """A recipient files a message it has read into ``folder`` (on the server for IMAP and webmail)."""

    folder: Name = "Archive"

    def to_yaml(self) -> dict[str, object]:
        return {**super().to_yaml(), "folder": self.folder}


class TrafficSpec(Spec):
    """A Poisson workload: each sending user sends ``rate`` messages per second, or at a rate
    that changes over time (``daily`` or ``steps``).

    ``from``/``to`` name a domain, a group prefix or an address.
    """

    from_: Name = Field(alias="from")
    to: Name
    rate_per_s: PerSecond | None = Field(default=None, alias="rate")
    daily: DailySpec | None = None
    steps: Annotated[tuple[StepSpec, ...], Field(min_length=1)] | None = None
    recipients: RecipientsDistribution = Field(default=Constant(1), json_schema_extra={"default": 1})
    size: SizeDistribution
    attachments: AttachmentSpec | None = None
    eight_bit: StrictFloat = Field(default=0.0, ge=0, le=1)
    reply: ReplySpec | None = None
    forward: ForwardSpec | None = None
    file: FileSpec | None = None

    @model_validator(mode="after")
    def _one_rate(self) -> TrafficSpec:
        issues = rate_issues(self.rate_per_s, self.daily, self.steps)
        if issues:
            raise_at(issues, self)
        return self

    def profile(self) -> RateProfile | None:
        """The rate per sending user over time; None for a constant ``rate``."""
        if self.steps is not None:
            return RateProfile(tuple(step.at_s for step in self.steps), tuple(step.rate_per_s for step in self.steps))
        if self.daily is not None:
            return RateProfile.daily(self.daily.hourly_rates_per_s(self.rate_per_s))
        return None

    @property
    def max_rate_per_s(self) -> float:
        """The highest rate per sending user at any time."""
        profile = self.profile()
        return profile.max_rate_per_s if profile is not None else float(self.rate_per_s or 0.0)

    def to_yaml(self) -> dict[str, object]:
        rate: dict[str, object] = {} if self.rate_per_s is None else {"rate": self.rate_per_s}
        if self.daily is not None:
            rate["daily"] = self.daily.to_yaml()
        if self.steps is not None:
            rate["steps"] = [step.to_yaml() for step in self.steps]
        return {
            "from": self.from_,
            "to": self.to,
            **rate,
            "recipients": self.recipients.to_yaml(),
            "size": self.size.to_yaml(),
            "attachments": None if self.attachments is None else self.attachments.to_yaml(),
            "eight_bit": self.eight_bit,
            **{
                key: spec.to_yaml()
                for key, spec in (("reply", self.reply), ("forward", self.forward), ("file", self.file))
                if spec is not None
            },
        }


class ScriptedMessage(Spec):
    """One message sent at an exact time, for exact experiments."""

    at_s: Seconds = Field(alias="at")
    from_: Address = Field(alias="from")
    to: Addresses
    size_bytes: Bytes = Field(alias="size")
    attachment_bytes: Bytes | None = Field(default=None, alias="attachment")
    eight_bit: StrictBool = False

    def to_yaml(self) -> dict[str, object]:
        return {
            "at": self.at_s,
            "from": self.from_,
            "to": list(self.to),
            "size": self.size_bytes,
            "attachment": self.attachment_bytes,
            "eight_bit": self.eight_bit,
        }
