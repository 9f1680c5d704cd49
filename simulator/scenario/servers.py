"""The servers part of a scenario: mail servers (``servers``, ``defaults``), their retry
policies, greylisting and capacity limits, MX records (``dns``), and how ``defaults`` merge
under each server."""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Mapping
from typing import Annotated, Any, ClassVar, Literal, TypeAlias

from pydantic import AfterValidator, Field, StrictBool, StrictFloat, StrictInt, StrictStr, model_validator

from ..retry import POLICY_DEFAULTS, POLICY_KEYS, exim_give_up_s, parse_exim_rule
from .base import Spec
from .errors import Loc, raise_at, unknown_key_message
from .fields import Bytes, DomainName, DurationDistribution, NodeName, OptionalSecondsOrOff, PositiveSeconds, Seconds

RetryPolicy: TypeAlias = Literal["fixed", "postfix", "exim", "exchange", "backoff"]

# Postfix's default_destination_concurrency_limit: a server retrying as Postfix does opens at most
# this many sessions to one destination unless it sets ``destination_concurrency`` itself.
POSTFIX_DESTINATION_CONCURRENCY = 20


def _exim_rule(rule: str | None) -> str | None:
    if rule is not None:
        parse_exim_rule(rule)  # the retry module reads it; its errors name the offending step
    return rule


class RetrySpec(Spec):
    """How a server retries a message whose delivery attempt failed.

    Every field is filled with the policy's effective default (``POLICY_DEFAULTS``);
    fields a policy does not use are None.  ``warn_after_s`` None means no
    delay warning.
    """

    policy: RetryPolicy = "fixed"
    interval_s: PositiveSeconds | None = Field(default=None, alias="interval")
    give_up_s: Seconds | None = Field(default=None, alias="give_up")
    warn_after_s: OptionalSecondsOrOff = Field(default=None, alias="warn_after")
    initial_s: PositiveSeconds | None = Field(default=None, alias="initial")
    factor: Annotated[StrictFloat, Field(ge=1)] | None = None
    max_s: PositiveSeconds | None = Field(default=None, alias="max")
    min_backoff_s: PositiveSeconds | None = Field(default=None, alias="min_backoff")
    max_backoff_s: PositiveSeconds | None = Field(default=None, alias="max_backoff")
    rule: Annotated[StrictStr | None, AfterValidator(_exim_rule)] = None
    queue_run_delay_s: Seconds | None = Field(default=None, alias="queue_run_delay")
    queue_interval_s: Seconds | None = Field(default=None, alias="queue_interval")
    queue_phase_s: Seconds | None = Field(default=None, alias="queue_phase")

    @model_validator(mode="before")
    @classmethod
    def _policy_keys_and_defaults(cls, data: Any) -> Any:
        if not isinstance(data, Mapping):
            return data
        data = cls._by_alias(data)
        policy = data.get("policy", "fixed")
        if not isinstance(policy, str) or policy not in POLICY_KEYS:
            return data  # the Literal reports it
        allowed = POLICY_KEYS[policy]
        known = cls.yaml_keys()
        misplaced = [key for key in data if key in known and key != "policy" and key not in allowed]
        if misplaced:
            issues: list[tuple[Loc, str]] = [
                ((key,), unknown_key_message(key, known)) for key in data if key not in known
            ]
            issues += [
                (
                    (key,),
                    f"'{key}' does not apply to retry policy '{policy}' (it takes: {', '.join(allowed)})",
                )
                for key in misplaced
            ]
            raise_at(issues, data)
        filled = {"policy": policy, **data}
        defaults = dict(POLICY_DEFAULTS[policy])
        if policy == "exim" and "give_up" not in data and isinstance(data.get("rule"), str):
            with contextlib.suppress(ValueError):  # the rule's own validator reports it
                defaults["give_up"] = exim_give_up_s(data["rule"])
        for key, value in defaults.items():
            filled.setdefault(key, value)
        return filled

    @model_validator(mode="after")
    def _check_bounds(self) -> RetrySpec:
        if self.max_s is not None and self.initial_s is not None and self.max_s < self.initial_s:
            raise_at([(("max",), f"max ({self.max_s} s) must not be below initial ({self.initial_s} s)")], self)
        low, high = self.min_backoff_s, self.max_backoff_s
        if low is not None and high is not None and high < low:
            raise_at([(("max_backoff",), f"max_backoff ({high} s) must not be below min_backoff ({low} s)")], self)
        return self

    def to_yaml(self) -> dict[str, object]:
        values = {
            "interval": self.interval_s,
            "give_up": self.give_up_s,
            "warn_after": self.warn_after_s,
            "initial": self.initial_s,
            "factor": self.factor,
            "max": self.max_s,
            "min_backoff": self.min_backoff_s,
            "max_backoff": self.max_backoff_s,
            "rule": self.rule,
            "queue_run_delay": self.queue_run_delay_s,
            "queue_interval": self.queue_interval_s,
            "queue_phase": self.queue_phase_s,
        }
        return {"policy": self.policy} | {key: values[key] for key in POLICY_KEYS[self.policy]}


class GreylistSpec(Spec):
    """Greylisting (RFC 6647) with postgrey's defaults: an unknown (client, sender, recipient)
    triplet gets 450 4.7.1 until ``delay`` has passed since it was first seen; a retry after
    that passes and the triplet is known for ``max_age``; a triplet not retried within
    ``retry_window`` starts over."""

    delay_s: Seconds = Field(default=300.0, alias="delay")
    retry_window_s: PositiveSeconds = Field(default=172_800.0, alias="retry_window")
    max_age_s: PositiveSeconds = Field(default=3_024_000.0, alias="max_age")

    def to_yaml(self) -> dict[str, object]:
        return {"delay": self.delay_s, "retry_window": self.retry_window_s, "max_age": self.max_age_s}


class RateLimitSpec(Spec):
    """At most ``messages`` messages from one client node in each window of ``per`` seconds
    (windows ``[k * per, (k + 1) * per)``); beyond it the server answers ``421 4.7.0`` at the
    greeting (``reply: connect``) or ``450 4.7.1`` to every RCPT (``reply: rcpt``)."""

    messages: StrictInt = Field(ge=1)
    per_s: PositiveSeconds = Field(alias="per")
    reply: Literal["connect", "rcpt"] = "connect"

    def to_yaml(self) -> dict[str, object]:
        return {"messages": self.messages, "per": self.per_s, "reply": self.reply}


class ServerSpec(Spec):
    """A mail server (effective: the scenario's ``defaults`` merged under it)."""

    _hidden_keys: ClassVar[frozenset[str]] = frozenset({"name"})

    name: NodeName
    domains: tuple[DomainName, ...] = ()
    relay_for: tuple[DomainName, ...] = ()
    retry: RetrySpec = Field(default_factory=RetrySpec)
    connect_timeout_s: PositiveSeconds = Field(default=30.0, alias="connect_timeout")
    concurrency: StrictInt = Field(default=100, ge=1)
    max_message_size_bytes: Bytes = Field(default=10_240_000, alias="max_message_size", gt=0)
    pipelining: StrictBool = True
    eight_bit_mime: StrictBool = True
    greylisting: GreylistSpec | None = None
    workers: StrictInt | None = Field(default=None, ge=1)
    processing: DurationDistribution | None = None
    max_inbound: StrictInt | None = Field(default=None, ge=1)
    destination_concurrency: StrictInt | None = Field(default=None, ge=1)
    rate_limit: RateLimitSpec | None = None
    queue_limit: StrictInt | None = Field(default=None, ge=1)

    @model_validator(mode="before")
    @classmethod
    def _postfix_destination_concurrency(cls, data: Any) -> Any:
        """A server retrying as Postfix does gets Postfix's destination concurrency limit."""
        if not isinstance(data, Mapping) or "destination_concurrency" in data:
            return data
        retry = data.get("retry")
        policy = retry.get("policy") if isinstance(retry, Mapping) else getattr(retry, "policy", None)
        if policy != "postfix":
            return data
        return {**data, "destination_concurrency": POSTFIX_DESTINATION_CONCURRENCY}

    @model_validator(mode="after")
    def _workers_need_processing(self) -> ServerSpec:
        if self.workers is not None and self.processing is None:
            raise_at([(("workers",), "workers needs a processing time (processing: 2s, or a distribution)")], self)
        return self

    def to_yaml(self) -> dict[str, object]:
        """The server's settings; the capacity keys only where they limit anything beyond what the
        server's retry policy implies (so a file without them keeps its effective scenario, and run_id)."""
        capacity: dict[str, object] = {
            "workers": self.workers,
            "processing": None if self.processing is None else self.processing.to_yaml(),
            "max_inbound": self.max_inbound,
            "destination_concurrency": self.destination_concurrency,
            "rate_limit": None if self.rate_limit is None else self.rate_limit.to_yaml(),
            "queue_limit": self.queue_limit,
        }
        shown = {key: value for key, value in capacity.items() if value is not None}
        if self.retry.policy == "postfix":  # it brings Postfix's limit unless the file says otherwise
            if self.destination_concurrency == POSTFIX_DESTINATION_CONCURRENCY:
                del shown["destination_concurrency"]
            elif self.destination_concurrency is None:
                shown["destination_concurrency"] = None  # unlimited, said so
        return {
            "domains": list(self.domains),
            "relay_for": list(self.relay_for),
            "retry": self.retry.to_yaml(),
            "connect_timeout": self.connect_timeout_s,
            "concurrency": self.concurrency,
            "max_message_size": self.max_message_size_bytes,
            "pipelining": self.pipelining,
            "eight_bit_mime": self.eight_bit_mime,
            "greylisting": None if self.greylisting is None else self.greylisting.to_yaml(),
            **shown,
        }


class MXRecord(Spec):
    """An MX record: lower preference is tried first."""

    host: NodeName
    preference: StrictInt = Field(ge=0, le=65535)


def merge_server(defaults: Mapping[Any, Any], spec: Mapping[Any, Any]) -> tuple[dict[Any, Any], set[tuple[str, ...]]]:
    """Merge ``defaults`` under one server's mapping.

    The server wins key by key; ``retry`` merges key by key too, unless the server's
    retry names a different ``policy`` than the defaults' (then it replaces it whole).
    Also returns the key paths that came from the defaults.
    """
    merged = dict(spec)
    origins: set[tuple[str, ...]] = set()
    for key, value in defaults.items():
        if key not in merged:
            merged[key] = copy.deepcopy(value)
            origins.add((str(key),))
        elif key == "retry" and isinstance(value, Mapping) and isinstance(merged[key], Mapping):
            own = merged[key]
            if "policy" in own and own["policy"] != value.get("policy", "fixed"):
                continue
            retry = dict(own)
            for retry_key, retry_value in value.items():
                if retry_key not in retry:
                    retry[retry_key] = copy.deepcopy(retry_value)
                    origins.add(("retry", str(retry_key)))
            merged[key] = retry
    return merged, origins


def server_input(name: Any, spec: Any, defaults: Mapping[Any, Any]) -> Any:
    if isinstance(spec, ServerSpec):
        return spec
    if spec is None:
        spec = {}
    if not isinstance(spec, Mapping):
        return spec  # reported as "must be a mapping"
    merged, _ = merge_server(defaults, spec)
    merged["name"] = name
    return merged
