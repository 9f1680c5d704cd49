"""Retry policies for queued mail: when to try again, when to give up, when to warn.

A policy is a small, immutable, pure object. It knows nothing about SimPy or the
simulation clock: the caller reports a failed delivery attempt (its time, the time
the message entered this server's queue, the time of the message's first failure on
this server and how many attempts have failed so far) and gets back a
:class:`RetryDecision`.

The shared rule (SCENARIO.md, "Timing contract"), implemented once in
:meth:`RetryPolicy.decide`, for a failure at ``t`` of a message queued at ``q``:

* ``t - q >= give_up_s``: the message bounces now; there is no next attempt and no
  delay warning (the bounce says everything a warning would).
* otherwise the next attempt is at ``policy.next_attempt_s(...)``, always strictly
  after ``t``; and when ``warn_after_s`` is set, the first failure with
  ``t >= q + warn_after_s`` (the caller passes ``warned=False`` until then) carries
  ``warn=True``: the one delay warning DSN.

Concrete policies (defaults from the real systems, research/email-domain.md §3):

* :class:`FixedPolicy` (``fixed``): every ``interval_s`` (30 min, RFC 5321 §4.5.4.1).
* :class:`PostfixPolicy` (``postfix``): wait ``clamp(age, 300 s, 4000 s)`` where age is
  the time since the message was queued (Postfix ``qmgr_active.c``; the 300 s
  queue-scan quantization of real Postfix is not modelled).
* :class:`EximPolicy` (``exim``): an Exim retry rule, default
  ``F,2h,15m; G,16h,1h,1.5; F,4d,6h``; see the class docstring for the exact reading.
* :class:`ExchangePolicy` (``exchange``): every 15 min, give up at 2 d, warn at 4 h
  (Exchange ``MessageRetryInterval``, ``MessageExpirationTimeOut``,
  ``DelayNotificationTimeOut``).
* :class:`BackoffPolicy` (``backoff``): the n-th failure waits
  ``min(initial_s * factor**(n - 1), max_s)``.

:func:`make_policy` builds a policy from a scenario's retry settings and
:func:`schedule` lists the attempt times of a message whose every attempt fails.

All times are simulated seconds; every argument and attribute that holds a time
ends in ``_s``.
"""

from __future__ import annotations

import math
import numbers
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from simulator.units import parse_duration

__all__ = [
    "DEFAULT_EXIM_RULE",
    "POLICY_NAMES",
    "BackoffPolicy",
    "ExchangePolicy",
    "EximPolicy",
    "EximRule",
    "FixedPolicy",
    "PostfixPolicy",
    "RetryDecision",
    "RetryPolicy",
    "make_policy",
    "parse_exim_rule",
    "schedule",
]

MINUTE_S = 60.0
HOUR_S = 3600.0
DAY_S = 86400.0

DEFAULT_EXIM_RULE = "F,2h,15m; G,16h,1h,1.5; F,4d,6h"

# Slack for comparing a reported elapsed time with a nominal schedule offset that
# was built by summing floats (attempts in the simulation drift late, never early).
_EPS_S = 1e-6


# --------------------------------------------------------------------------- #
# Decision and the policy base class
# --------------------------------------------------------------------------- #


@dataclass(frozen=True, slots=True)
class RetryDecision:
    """What to do after one failed delivery attempt.

    ``action`` is ``"retry"`` or ``"bounce"``. ``next_attempt_s`` is the absolute
    simulated time of the next attempt when retrying and ``None`` when bouncing.
    ``warn`` is True when this failure must send the message's one delay warning.
    """

    action: Literal["retry", "bounce"]
    next_attempt_s: float | None
    warn: bool


def _check_times(failed_at_s: float, queued_at_s: float, first_failure_s: float, failures: int) -> None:
    if failures < 1:
        raise ValueError(f"failures counts this failure too and must be >= 1, got {failures}")
    if not queued_at_s <= first_failure_s <= failed_at_s:
        raise ValueError(
            "expected queued_at_s <= first_failure_s <= failed_at_s, got "
            f"{queued_at_s!r}, {first_failure_s!r}, {failed_at_s!r}"
        )


def _is_number(value: object) -> bool:
    """A finite real number that is not a bool (ints, floats, numpy scalars)."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(float(value))


def _check_positive(name: str, value: float) -> None:
    if not (_is_number(value) and value > 0):
        raise ValueError(f"{name} must be a positive finite number of seconds, got {value!r}")


def _check_common(give_up_s: float, warn_after_s: float | None) -> None:
    if not (_is_number(give_up_s) and give_up_s >= 0):
        raise ValueError(f"give_up_s must be a finite number of seconds >= 0, got {give_up_s!r}")
    if warn_after_s is not None and not (_is_number(warn_after_s) and warn_after_s >= 0):
        raise ValueError(
            f"warn_after_s must be None or a finite number of seconds >= 0, got {warn_after_s!r}"
        )


class RetryPolicy(ABC):
    """Base class of every retry policy.

    Subclasses are frozen dataclasses with the fields ``give_up_s`` and
    ``warn_after_s`` (``None`` = no delay warning), a class attribute ``name`` and
    an implementation of :meth:`next_attempt_s`.
    """

    __slots__ = ()

    name: ClassVar[str]
    give_up_s: float
    warn_after_s: float | None

    @abstractmethod
    def next_attempt_s(
        self, failed_at_s: float, queued_at_s: float, first_failure_s: float, failures: int
    ) -> float:
        """Absolute time of the attempt after a failure at ``failed_at_s``.

        ``queued_at_s`` is when the message entered this server's queue,
        ``first_failure_s`` when its first attempt here failed and ``failures`` the
        number of failed attempts including this one (1 on the first failure).
        The result is always strictly greater than ``failed_at_s``. It ignores
        ``give_up_s``: use :meth:`decide` for the full decision.
        """

    def decide(
        self,
        failed_at_s: float,
        queued_at_s: float,
        first_failure_s: float,
        failures: int,
        warned: bool,
    ) -> RetryDecision:
        """Bounce, or retry at :meth:`next_attempt_s`, and say whether to warn now.

        ``warned`` is True when this message already sent its delay warning.
        """
        _check_times(failed_at_s, queued_at_s, first_failure_s, failures)
        if failed_at_s - queued_at_s >= self.give_up_s:
            return RetryDecision(action="bounce", next_attempt_s=None, warn=False)
        nxt = self.next_attempt_s(failed_at_s, queued_at_s, first_failure_s, failures)
        warn = self.warn_after_s is not None and not warned and failed_at_s >= queued_at_s + self.warn_after_s
        return RetryDecision(action="retry", next_attempt_s=nxt, warn=warn)


# --------------------------------------------------------------------------- #
# Concrete policies
# --------------------------------------------------------------------------- #


@dataclass(frozen=True, slots=True)
class FixedPolicy(RetryPolicy):
    """Retry ``interval_s`` after every failure (RFC 5321 §4.5.4.1: 30 min)."""

    name: ClassVar[str] = "fixed"
    interval_s: float = 30 * MINUTE_S
    give_up_s: float = 5 * DAY_S
    warn_after_s: float | None = None

    def __post_init__(self) -> None:
        _check_positive("interval_s", self.interval_s)
        _check_common(self.give_up_s, self.warn_after_s)

    def next_attempt_s(
        self, failed_at_s: float, queued_at_s: float, first_failure_s: float, failures: int
    ) -> float:
        _check_times(failed_at_s, queued_at_s, first_failure_s, failures)
        return failed_at_s + self.interval_s


@dataclass(frozen=True, slots=True)
class ExchangePolicy(FixedPolicy):
    """Microsoft Exchange 2016/2019 transport defaults: a fixed interval with its own defaults.

    ``MessageRetryInterval`` 15 min, ``MessageExpirationTimeOut`` 2 d and
    ``DelayNotificationTimeOut`` 4 h. The short "glitch" and "transient failure"
    retry bursts Exchange makes before settling on that interval are not modelled.
    """

    name: ClassVar[str] = "exchange"
    interval_s: float = 15 * MINUTE_S
    give_up_s: float = 2 * DAY_S
    warn_after_s: float | None = 4 * HOUR_S


@dataclass(frozen=True, slots=True)
class PostfixPolicy(RetryPolicy):
    """Postfix queue manager backoff.

    After a failure at ``t`` of a message queued at ``q`` the next attempt is at
    ``t + clamp(t - q, min_backoff_s, max_backoff_s)`` (``minimal_backoff_time``
    300 s, ``maximal_backoff_time`` 4000 s, ``maximal_queue_lifetime`` 5 d). Real
    Postfix also rounds attempts to its 300 s queue scans; that is not modelled.
    """

    name: ClassVar[str] = "postfix"
    give_up_s: float = 5 * DAY_S
    warn_after_s: float | None = None
    min_backoff_s: float = 300.0
    max_backoff_s: float = 4000.0

    def __post_init__(self) -> None:
        _check_common(self.give_up_s, self.warn_after_s)
        _check_positive("min_backoff_s", self.min_backoff_s)
        _check_positive("max_backoff_s", self.max_backoff_s)
        if self.max_backoff_s < self.min_backoff_s:
            raise ValueError(
                f"max_backoff_s ({self.max_backoff_s!r}) must be >= min_backoff_s ({self.min_backoff_s!r})"
            )

    def next_attempt_s(
        self, failed_at_s: float, queued_at_s: float, first_failure_s: float, failures: int
    ) -> float:
        _check_times(failed_at_s, queued_at_s, first_failure_s, failures)
        age_s = failed_at_s - queued_at_s
        return failed_at_s + min(max(age_s, self.min_backoff_s), self.max_backoff_s)


@dataclass(frozen=True, slots=True)
class BackoffPolicy(RetryPolicy):
    """Exponential backoff: the n-th failure waits ``min(initial_s * factor**(n - 1), max_s)``."""

    name: ClassVar[str] = "backoff"
    initial_s: float = 300.0
    factor: float = 2.0
    max_s: float = 4 * HOUR_S
    give_up_s: float = 5 * DAY_S
    warn_after_s: float | None = None

    def __post_init__(self) -> None:
        _check_positive("initial_s", self.initial_s)
        _check_positive("max_s", self.max_s)
        if not (_is_number(self.factor) and self.factor >= 1):
            raise ValueError(f"factor must be a finite number >= 1, got {self.factor!r}")
        if self.max_s < self.initial_s:
            raise ValueError(f"max_s ({self.max_s!r}) must be >= initial_s ({self.initial_s!r})")
        _check_common(self.give_up_s, self.warn_after_s)

    def wait_s(self, failures: int) -> float:
        """The wait after the ``failures``-th failed attempt (1-based)."""
        if failures < 1:
            raise ValueError(f"failures must be >= 1, got {failures}")
        try:
            wait = self.initial_s * self.factor ** (failures - 1)
        except OverflowError:
            return self.max_s
        return min(wait, self.max_s)

    def next_attempt_s(
        self, failed_at_s: float, queued_at_s: float, first_failure_s: float, failures: int
    ) -> float:
        _check_times(failed_at_s, queued_at_s, first_failure_s, failures)
        return failed_at_s + self.wait_s(failures)


# --------------------------------------------------------------------------- #
# Exim retry rules
# --------------------------------------------------------------------------- #


@dataclass(frozen=True, slots=True)
class EximRule:
    """One parsed Exim retry rule.

    ``kind`` is ``"F"`` (fixed: ``interval_s``) or ``"G"`` (geometric: first
    interval ``interval_s``, each later one ``factor`` times the previous).
    ``cutoff_s`` is measured from the message's first failure.
    """

    kind: Literal["F", "G"]
    cutoff_s: float
    interval_s: float
    factor: float = 1.0


def parse_exim_rule(rule: str) -> tuple[EximRule, ...]:
    """Parse the parameter part of an Exim retry rule, e.g. ``F,2h,15m; G,16h,1h,1.5; F,4d,6h``.

    Rules are separated by ``;`` (empty pieces are ignored) and each is
    ``F,<cutoff>,<interval>`` or ``G,<cutoff>,<initial>,<factor>``. Durations use
    the scenario grammar of :func:`simulator.units.parse_duration` (``15m``, ``2h``,
    ``4d``, ``1d2h``; a plain number is seconds); Exim's ``w`` (weeks) is not
    accepted, write ``7d``.
    Intervals must be positive, factors >= 1 and cutoffs strictly increasing.
    A geometric rule with factor 1 is stored as a fixed one. Raises ValueError
    naming the offending piece.
    """
    if not isinstance(rule, str):
        raise ValueError(f"Exim retry rule must be a string, got {rule!r}")
    pieces = [p.strip() for p in rule.split(";")]
    pieces = [p for p in pieces if p]
    if not pieces:
        raise ValueError(f"Exim retry rule {rule!r} is empty: expected e.g. {DEFAULT_EXIM_RULE!r}")
    parsed: list[EximRule] = []
    for index, piece in enumerate(pieces, start=1):
        where = f"Exim retry rule {rule!r}, rule {index} {piece!r}"
        fields = [f.strip() for f in piece.split(",")]
        kind = fields[0].upper()
        if kind == "H":
            raise ValueError(f"{where}: H (randomized) rules are not supported; use F or G")
        if kind not in ("F", "G"):
            raise ValueError(f"{where}: unknown rule type {fields[0]!r}; expected F or G")
        expected = 3 if kind == "F" else 4
        if len(fields) != expected:
            form = "F,<cutoff>,<interval>" if kind == "F" else "G,<cutoff>,<initial>,<factor>"
            raise ValueError(f"{where}: expected {form}")
        try:
            cutoff_s = parse_duration(fields[1])
            interval_s = parse_duration(fields[2])
        except ValueError as exc:
            raise ValueError(f"{where}: {exc}") from None
        if cutoff_s <= 0:
            raise ValueError(f"{where}: cutoff must be positive")
        if interval_s <= 0:
            raise ValueError(f"{where}: interval must be positive")
        if parsed and cutoff_s <= parsed[-1].cutoff_s:
            raise ValueError(f"{where}: cutoffs must increase from rule to rule")
        factor = 1.0
        if kind == "G":
            try:
                factor = float(fields[3])
            except ValueError:
                raise ValueError(f"{where}: factor {fields[3]!r} is not a number") from None
            if not (math.isfinite(factor) and factor >= 1):
                raise ValueError(f"{where}: factor must be a finite number >= 1")
        if kind == "G" and factor != 1.0:
            parsed.append(EximRule("G", cutoff_s, interval_s, factor))
        else:
            parsed.append(EximRule("F", cutoff_s, interval_s))
    return tuple(parsed)


def _exim_interval_s(rules: tuple[EximRule, ...], elapsed_s: float) -> float:
    """The retry interval in force ``elapsed_s`` after the first failure (see EximPolicy)."""
    # `pos` walks the nominal schedule: offsets from the first failure of the
    # failures that zero-length attempts retried exactly on time would have.
    pos = 0.0
    last = len(rules) - 1
    for index, r in enumerate(rules):
        if elapsed_s < r.cutoff_s or index == last:
            if r.kind == "F":
                return r.interval_s
            gap = r.interval_s
            while pos + gap <= elapsed_s + _EPS_S:
                pos += gap
                gap *= r.factor
            return gap
        # This rule's window is over: move to the first nominal failure at or
        # after its cutoff, which is where the next rule takes over.
        if r.kind == "F":
            if pos < r.cutoff_s:
                pos += math.ceil((r.cutoff_s - pos) / r.interval_s - 1e-9) * r.interval_s
        else:
            gap = r.interval_s
            while pos < r.cutoff_s - _EPS_S:
                pos += gap
                gap *= r.factor
    raise AssertionError("unreachable: the last rule always applies")


@dataclass(frozen=True, slots=True)
class EximPolicy(RetryPolicy):
    """An Exim retry rule; default ``F,2h,15m; G,16h,1h,1.5; F,4d,6h``, give up at 4 d.

    Interpretation, for a failure ``e = failed_at_s - first_failure_s`` seconds after
    the message's first failure on this server (Exim measures from the first
    failure, not from queueing):

    * The rule in force is the first whose cutoff has not passed, i.e. the first
      with ``e < cutoff`` (at exactly 2 h the ``G`` rule of the default applies).
      Past the last cutoff the last rule stays in force: in Exim the last cutoff
      is when the address bounces, here ``give_up_s`` (measured from queueing,
      like every policy) decides that, so a ``give_up_s`` beyond the last cutoff
      keeps retrying with the last rule.
    * ``F,<cutoff>,<interval>``: the next attempt is ``interval`` after the failure.
    * ``G,<cutoff>,<initial>,<factor>``: the first retry made under the rule waits
      ``initial``, each later one ``factor`` times the previous wait. Policies are
      stateless, so "the k-th retry under the rule" is read off the *nominal
      schedule*: the failure offsets that zero-length attempts retried exactly on
      time would give, starting at 0 (the first failure). The rule's nominal
      entry is the first nominal offset at or after the previous rule's cutoff,
      and a failure at ``e`` waits the gap that follows the last nominal offset
      ``<= e``. Real attempts take time (a connect timeout, MX fallbacks) and so
      fail a little later than nominal; this still gives the k-th retry under
      the rule the k-th wait as long as each real failure stays within one wait
      of its nominal offset (true for the default rule with any realistic
      connect timeout), and a very late failure gets the wait of its elapsed
      time rather than of its retry count.

    For the default rule this gives retries 0.25, 0.5, ... 2.0 h after the first
    failure, then 3.0, 4.5, 6.75, 10.125, 15.1875, 22.78 h (1, 1.5, 2.25, 3.375,
    5.06, 7.59 h waits), then every 6 h, bouncing at the first failure 4 d or
    more after queueing (research/email-domain.md §3).

    Differences from real Exim: Exim's first ``G`` wait is
    ``max(initial, previous wait * factor)`` (the same for the default rule);
    retry times are not rounded to queue-runner starts; ``retry_interval_max``
    (24 h) is not applied; ``H`` rules are not supported.
    """

    name: ClassVar[str] = "exim"
    rule: str = DEFAULT_EXIM_RULE
    give_up_s: float = 4 * DAY_S
    warn_after_s: float | None = None
    rules: tuple[EximRule, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        _check_common(self.give_up_s, self.warn_after_s)
        object.__setattr__(self, "rules", parse_exim_rule(self.rule))

    def wait_s(self, elapsed_s: float) -> float:
        """The wait after a failure ``elapsed_s`` seconds after the first failure."""
        if elapsed_s < 0:
            raise ValueError(f"elapsed_s must be >= 0, got {elapsed_s!r}")
        return _exim_interval_s(self.rules, elapsed_s)

    def next_attempt_s(
        self, failed_at_s: float, queued_at_s: float, first_failure_s: float, failures: int
    ) -> float:
        _check_times(failed_at_s, queued_at_s, first_failure_s, failures)
        return failed_at_s + _exim_interval_s(self.rules, failed_at_s - first_failure_s)


# --------------------------------------------------------------------------- #
# Construction from scenario settings, and the all-fail schedule
# --------------------------------------------------------------------------- #


POLICY_NAMES: tuple[str, ...] = ("fixed", "postfix", "exim", "exchange", "backoff")

# Which optional spec attributes each policy accepts, as (spec attribute, constructor argument).
_POLICY_OPTIONS: dict[str, tuple[type[RetryPolicy], tuple[tuple[str, str], ...]]] = {
    "fixed": (FixedPolicy, (("interval_s", "interval_s"),)),
    "exchange": (ExchangePolicy, (("interval_s", "interval_s"),)),
    "postfix": (PostfixPolicy, (("min_backoff_s", "min_backoff_s"), ("max_backoff_s", "max_backoff_s"))),
    "exim": (EximPolicy, (("rule", "rule"),)),
    "backoff": (BackoffPolicy, (("initial_s", "initial_s"), ("factor", "factor"), ("max_s", "max_s"))),
}
_ALL_OPTIONS = ("interval_s", "initial_s", "factor", "max_s", "rule", "min_backoff_s", "max_backoff_s")


def make_policy(spec: Any) -> RetryPolicy:
    """Build a policy from an object with retry settings as attributes.

    ``spec.policy`` names the policy (one of :data:`POLICY_NAMES`). The attributes
    ``give_up_s`` and ``warn_after_s`` apply to every policy, ``interval_s`` to
    ``fixed`` and ``exchange``, ``initial_s``, ``factor`` and ``max_s`` to
    ``backoff``, ``rule`` to ``exim`` and the optional ``min_backoff_s`` and
    ``max_backoff_s`` to ``postfix``. A missing attribute or ``None`` means the
    policy's default, except ``warn_after_s``: present and ``None`` means no warning (a
    scenario's effective settings carry ``exchange``'s 4 h explicitly); only a spec without
    the attribute gets the policy's default. Raises ValueError for an unknown policy, for a
    setting the named policy does not use, and for invalid values.
    """
    name = getattr(spec, "policy", None)
    if name is None:
        name = "fixed"
    if name not in _POLICY_OPTIONS:
        raise ValueError(f"unknown retry policy {name!r}; expected one of {', '.join(POLICY_NAMES)}")
    cls, options = _POLICY_OPTIONS[name]
    kwargs: dict[str, Any] = {}
    give_up = getattr(spec, "give_up_s", None)
    if give_up is not None:
        kwargs["give_up_s"] = give_up
    if hasattr(spec, "warn_after_s"):
        kwargs["warn_after_s"] = spec.warn_after_s  # None here means off: the spec has filled defaults
    accepted = {spec_attr for spec_attr, _ in options}
    for spec_attr, arg in options:
        value = getattr(spec, spec_attr, None)
        if value is not None:
            kwargs[arg] = value
    for attr in _ALL_OPTIONS:
        if attr not in accepted and getattr(spec, attr, None) is not None:
            raise ValueError(f"retry setting {attr!r} does not apply to policy {name!r}")
    return cls(**kwargs)


def schedule(
    policy: RetryPolicy,
    queued_at_s: float,
    first_attempt_s: float,
    attempt_duration_s: float = 0.0,
    horizon_s: float = math.inf,
    max_attempts: int = 100_000,
) -> list[float]:
    """Attempt start times of a message whose every attempt fails, then its bounce time.

    The message enters the queue at ``queued_at_s`` and is first tried at
    ``first_attempt_s``; each attempt fails ``attempt_duration_s`` after it starts
    (for a host that is down: the connect timeout). The list holds every attempt
    start time in order and ends with the bounce time, which is the failure time
    of the last attempt (equal to that attempt's start when
    ``attempt_duration_s`` is 0). Delay warnings are not listed.

    Attempts starting after ``horizon_s`` (absolute time) are not made: the list
    then ends with the last attempt made and holds no bounce time. More than
    ``max_attempts`` attempts before a bounce or the horizon raise ValueError
    (a guard against pathological settings).
    """
    if first_attempt_s < queued_at_s:
        raise ValueError(f"first_attempt_s ({first_attempt_s!r}) must be >= queued_at_s ({queued_at_s!r})")
    if not (math.isfinite(attempt_duration_s) and attempt_duration_s >= 0):
        raise ValueError(f"attempt_duration_s must be a finite number >= 0, got {attempt_duration_s!r}")
    times: list[float] = []
    attempt_s = first_attempt_s
    first_failure_s: float | None = None
    warned = False
    while attempt_s <= horizon_s:
        if len(times) >= max_attempts:
            raise ValueError(f"more than {max_attempts} attempts before the message bounces")
        times.append(attempt_s)
        failed_at_s = attempt_s + attempt_duration_s
        if first_failure_s is None:
            first_failure_s = failed_at_s
        decision = policy.decide(failed_at_s, queued_at_s, first_failure_s, len(times), warned)
        warned = warned or decision.warn
        if decision.action == "bounce":
            times.append(failed_at_s)
            return times
        assert decision.next_attempt_s is not None
        attempt_s = decision.next_attempt_s
    return times
