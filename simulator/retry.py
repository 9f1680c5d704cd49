"""Retry policies for queued mail: when to try again, when to give up, when to warn.

A policy is a small, immutable, pure object. It knows nothing about SimPy or the
simulation clock: the caller reports a failed delivery attempt (its time, the time
the message entered this server's queue, the time of the message's first failure on
this server, how many attempts have failed so far and, for ``exim``, the message's
retry record) and gets back a :class:`RetryDecision`.

The shared rule (SCENARIO.md, "Timing contract"), implemented once in
:meth:`RetryPolicy.decide`, for a failure at ``t`` of a message queued at ``q``:

* ``t - q >= give_up_s``: the message bounces now; there is no next attempt and no
  delay warning (the bounce says everything a warning would).
* otherwise the next attempt is at the policy's next attempt time, always strictly
  after ``t``; and when ``warn_after_s`` is set, the first failure with
  ``t >= q + warn_after_s`` (the caller passes ``warned=False`` until then) carries
  ``warn=True``: the one delay warning DSN.

Concrete policies (defaults from the real systems, research/email-domain.md §3):

* :class:`FixedPolicy` (``fixed``): every ``interval_s`` (30 min, RFC 5321 §4.5.4.1),
  each message on its own.
* :class:`PostfixPolicy` (``postfix``): wait ``clamp(age, 300 s, 4000 s)``, taken up by
  the first deferred-queue scan (every 300 s) at most 1 s early (Postfix 3.7 ``qmgr``).
* :class:`EximPolicy` (``exim``): an Exim retry rule, default
  ``F,2h,15m; G,16h,1h,1.5; F,4d,6h``, tried at the queue runs (every 30 min) whose
  whole second has reached the retry time, with one last attempt at the first queue
  run after the give-up time (Exim 4.96).
* :class:`ExchangePolicy` (``exchange``): every 15 min, give up at 2 d, warn at 4 h
  (Exchange ``MessageRetryInterval``, ``MessageExpirationTimeOut``,
  ``DelayNotificationTimeOut``).
* :class:`BackoffPolicy` (``backoff``): the n-th failure waits
  ``min(initial_s * factor**(n - 1), max_s)``.

Destination state: ``postfix`` and ``exim`` also keep state per destination (a
Postfix next-hop domain, an Exim host) after a connection-level failure, as a
:class:`TryRecord` the caller stores (:meth:`RetryPolicy.destination_failed`); while
:meth:`RetryPolicy.destination_open` says no, a message due for that destination is
deferred without a connection (:meth:`RetryPolicy.decide_held`). The other policies
keep no such state: every message retries on its own.

:func:`make_policy` builds a policy from a scenario's retry settings,
:data:`POLICY_KEYS` and :data:`POLICY_DEFAULTS` give each policy's scenario keys and
their defaults (the one place they are defined), and :func:`schedule` lists the
attempt times of a message whose every attempt fails.

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
    "POLICY_DEFAULTS",
    "POLICY_KEYS",
    "POLICY_NAMES",
    "BackoffPolicy",
    "ExchangePolicy",
    "EximPolicy",
    "EximRule",
    "FixedPolicy",
    "PostfixPolicy",
    "RetryDecision",
    "RetryPolicy",
    "TryRecord",
    "make_policy",
    "parse_exim_rule",
    "schedule",
]

MINUTE_S = 60.0
HOUR_S = 3600.0
DAY_S = 86400.0

DEFAULT_EXIM_RULE = "F,2h,15m; G,16h,1h,1.5; F,4d,6h"

# A Postfix deferred-queue scan takes a message whose next-try time is at most this far ahead.
POSTFIX_SCAN_SLACK_S = 1.0


# --------------------------------------------------------------------------- #
# Decision and the policy base class
# --------------------------------------------------------------------------- #


@dataclass(frozen=True, slots=True)
class TryRecord:
    """Retry state kept between failures: Exim's retry record, a Postfix dead destination.

    ``first_failed_s`` is when the failures began, ``last_try_s`` the last failure and
    ``next_try_s`` the earliest time the next try is allowed. Exim keeps whole seconds.
    """

    first_failed_s: float
    last_try_s: float
    next_try_s: float


@dataclass(frozen=True, slots=True)
class RetryDecision:
    """What to do after one failed delivery attempt.

    ``action`` is ``"retry"`` or ``"bounce"``. ``next_attempt_s`` is the absolute
    simulated time of the next attempt when retrying and ``None`` when bouncing.
    ``warn`` is True when this failure must send the message's one delay warning.
    ``record`` is the message's retry record to pass back with its next failure
    (``exim`` only; None for the other policies).
    """

    action: Literal["retry", "bounce"]
    next_attempt_s: float | None
    warn: bool
    record: TryRecord | None = None


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


def _check_non_negative(name: str, value: float) -> None:
    if not (_is_number(value) and value >= 0):
        raise ValueError(f"{name} must be a finite number of seconds >= 0, got {value!r}")


def _first_run_s(at_least_s: float, after_s: float, phase_s: float, every_s: float) -> float:
    """The first time ``phase_s + k * every_s`` (k = 0, 1, ...) that is ``>= at_least_s`` and ``> after_s``."""
    k = max(0, math.ceil((max(at_least_s, after_s) - phase_s) / every_s))
    # The division can be off by one ulp either way: settle k on the exact comparisons.
    while k > 0 and phase_s + (k - 1) * every_s >= at_least_s and phase_s + (k - 1) * every_s > after_s:
        k -= 1
    while phase_s + k * every_s < at_least_s or phase_s + k * every_s <= after_s:
        k += 1
    return phase_s + k * every_s


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
    an implementation of :meth:`next_attempt_s`. A policy that keeps state per
    destination sets ``destination`` (``"domain"`` or ``"host"``: what the state is
    kept per) and overrides :meth:`destination_failed` and :meth:`destination_open`.
    """

    __slots__ = ()

    name: ClassVar[str]
    destination: ClassVar[str | None] = None
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
        record: TryRecord | None = None,
    ) -> RetryDecision:
        """Bounce, or retry at the next attempt time, and say whether to warn now.

        ``warned`` is True when this message already sent its delay warning. ``record``
        is the retry record the previous decision returned (None on the first failure).
        """
        _check_times(failed_at_s, queued_at_s, first_failure_s, failures)
        if failed_at_s - queued_at_s >= self.give_up_s:
            return RetryDecision(action="bounce", next_attempt_s=None, warn=False)
        nxt, new_record = self._plan(failed_at_s, queued_at_s, first_failure_s, failures, record)
        return RetryDecision("retry", nxt, self._warns(failed_at_s, queued_at_s, warned), new_record)

    def _warns(self, failed_at_s: float, queued_at_s: float, warned: bool) -> bool:
        return self.warn_after_s is not None and not warned and failed_at_s >= queued_at_s + self.warn_after_s

    def _plan(
        self, failed_at_s: float, queued_at_s: float, first_failure_s: float, failures: int,
        record: TryRecord | None,
    ) -> tuple[float, TryRecord | None]:
        """The next attempt time and the message's new retry record (None: the policy keeps none)."""
        return self.next_attempt_s(failed_at_s, queued_at_s, first_failure_s, failures), None

    # ---- destination state (postfix, exim) --------------------------------------------------

    def destination_failed(self, record: TryRecord | None, failed_at_s: float) -> TryRecord | None:
        """The destination's state after a connection-level failure at ``failed_at_s``.

        ``record`` is its state so far (None: none). None means this policy keeps no
        destination state: each message retries on its own.
        """
        return None

    def destination_open(self, record: TryRecord, now_s: float, queued_at_s: float) -> bool:
        """Whether a destination with this state may be tried at ``now_s`` for a message queued at ``queued_at_s``."""
        return True

    def decide_held(
        self,
        held_at_s: float,
        queued_at_s: float,
        first_failure_s: float,
        failures: int,
        warned: bool,
        record: TryRecord | None,
        reopen_s: float,
    ) -> RetryDecision:
        """A message was due at ``held_at_s`` but its destination is closed until ``reopen_s``:
        it is deferred without a connection. By default that is an ordinary failure at
        ``held_at_s`` (``failures`` counts it)."""
        return self.decide(held_at_s, queued_at_s, first_failure_s, failures, warned, record)


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
    """Postfix 3.7's queue manager: backoff by the message's age, taken up at queue scans.

    After a failure at ``t`` of a message queued at ``q`` the message waits
    ``clamp(t - q, min_backoff_s, max_backoff_s)`` (``minimal_backoff_time`` 300 s,
    ``maximal_backoff_time`` 4000 s, ``qmgr_active.c``). Only a scan of the deferred
    queue brings it back; scans run at ``queue_phase_s + k * queue_run_delay_s``
    (k = 0, 1, ...; ``queue_run_delay`` 300 s, on a grid fixed when the queue manager
    starts) and take a message whose next-try time is at most 1 s ahead. So the next
    attempt is at the first scan ``s`` with ``s >= t + clamp(t - q, min, max) - 1`` and
    ``s > t``. ``queue_run_delay_s = 0`` means no scans: the attempt is at
    ``t + clamp(t - q, min, max)`` exactly. Give up at ``maximal_queue_lifetime`` 5 d.

    Destination state: a connection-level failure marks the destination (the next-hop
    domain) dead for ``min_backoff_s``; a message due for it meanwhile is deferred
    without a connection, as an ordinary failure (its next attempt follows the backoff).
    """

    name: ClassVar[str] = "postfix"
    destination: ClassVar[str | None] = "domain"
    give_up_s: float = 5 * DAY_S
    warn_after_s: float | None = None
    min_backoff_s: float = 300.0
    max_backoff_s: float = 4000.0
    queue_run_delay_s: float = 300.0
    queue_phase_s: float = 0.0

    def __post_init__(self) -> None:
        _check_common(self.give_up_s, self.warn_after_s)
        _check_positive("min_backoff_s", self.min_backoff_s)
        _check_positive("max_backoff_s", self.max_backoff_s)
        _check_non_negative("queue_run_delay_s", self.queue_run_delay_s)
        _check_non_negative("queue_phase_s", self.queue_phase_s)
        if self.max_backoff_s < self.min_backoff_s:
            raise ValueError(
                f"max_backoff_s ({self.max_backoff_s!r}) must be >= min_backoff_s ({self.min_backoff_s!r})"
            )

    def wait_s(self, failed_at_s: float, queued_at_s: float) -> float:
        """The backoff after a failure at ``failed_at_s``: the message's age, clamped."""
        return min(max(failed_at_s - queued_at_s, self.min_backoff_s), self.max_backoff_s)

    def next_attempt_s(
        self, failed_at_s: float, queued_at_s: float, first_failure_s: float, failures: int
    ) -> float:
        _check_times(failed_at_s, queued_at_s, first_failure_s, failures)
        due_s = failed_at_s + self.wait_s(failed_at_s, queued_at_s)
        if self.queue_run_delay_s == 0:
            return due_s
        return _first_run_s(due_s - POSTFIX_SCAN_SLACK_S, failed_at_s, self.queue_phase_s, self.queue_run_delay_s)

    def destination_failed(self, record: TryRecord | None, failed_at_s: float) -> TryRecord:
        return TryRecord(failed_at_s, failed_at_s, failed_at_s + self.min_backoff_s)

    def destination_open(self, record: TryRecord, now_s: float, queued_at_s: float) -> bool:
        return now_s >= record.next_try_s


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


def exim_give_up_s(rule: str) -> float:
    """The give-up time of an Exim retry rule: its last cutoff."""
    return parse_exim_rule(rule)[-1].cutoff_s


@dataclass(frozen=True, slots=True)
class EximPolicy(RetryPolicy):
    """Exim 4.96: a retry rule (default ``F,2h,15m; G,16h,1h,1.5; F,4d,6h``) applied at queue runs.

    Exim keeps a retry record per address (and per host) with whole-second times: the
    first failure, the last failure ``last_try`` and the next-try time ``next_try``.
    After a failure at ``t`` (``T = floor(t)``):

    * the rule in force is the first whose cutoff the failing time has not passed
      (``elapsed <= cutoff``), else the last; for a message, ``elapsed`` is its age
      ``T - floor(q)`` (Exim uses the message's age when it exceeds the time since the
      first failure, which it always does for a message's own address); for a host,
      the time since the host's first failure;
    * ``next_try = T + wait``: for ``F`` the interval; for ``G``
      ``max(initial, factor * min(last planned gap, last actual gap))``, the planned
      gap being the previous record's ``next_try - last_try`` and the actual gap
      ``T - last_try`` (both 0 at the first failure), so lateness does not compound;
    * queue runs start at ``queue_phase_s + k * queue_interval_s`` (k = 0, 1, ...;
      Debian runs ``exim -q30m``); the next attempt is at the first queue run ``r``
      after ``t`` with ``floor(r) >= next_try``, or at the first queue run at which
      the message's age exceeds ``give_up_s`` (default: the rule's last cutoff, 4 d)
      if that comes first: Exim then tries the address whatever its retry time, and
      when that attempt fails the address bounces (``give_up_s`` has passed).

    ``queue_interval_s = 0`` means no queue runs: the attempt is at ``t + wait``.

    Destination state: a host that did not answer gets a record of its own; while
    ``floor(now) < next_try`` the host is skipped, and a message whose every host is
    skipped is deferred without a connection until the first queue run at or after
    the earliest ``next_try`` (or its give-up run, which tries every host); its own
    record does not change.

    Not modelled: ``retry_interval_max`` (24 h: no default wait reaches it), ``H``
    rules, retry records expiring (``retry_data_expire``, 7 d). Exim's source makes the
    ``G`` wait ``initial`` when the last gap is below ``initial`` and truncates
    ``gap * factor`` to whole seconds; the rule above (the scenario contract's) gives
    the same times for the default rule.
    """

    name: ClassVar[str] = "exim"
    destination: ClassVar[str | None] = "host"
    rule: str = DEFAULT_EXIM_RULE
    give_up_s: float = math.nan  # NaN: the rule's last cutoff
    warn_after_s: float | None = None
    queue_interval_s: float = 30 * MINUTE_S
    queue_phase_s: float = 0.0
    rules: tuple[EximRule, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "rules", parse_exim_rule(self.rule))
        if isinstance(self.give_up_s, float) and math.isnan(self.give_up_s):
            object.__setattr__(self, "give_up_s", self.rules[-1].cutoff_s)
        _check_common(self.give_up_s, self.warn_after_s)
        _check_non_negative("queue_interval_s", self.queue_interval_s)
        _check_non_negative("queue_phase_s", self.queue_phase_s)

    def rule_for(self, elapsed_s: float) -> EximRule:
        """The rule in force ``elapsed_s`` into the failures: the first with ``elapsed_s <= cutoff``, else the last."""
        for r in self.rules:
            if elapsed_s <= r.cutoff_s:
                return r
        return self.rules[-1]

    def record_after(self, record: TryRecord | None, failed_at_s: float, queued_at_s: float | None) -> TryRecord:
        """The retry record after a failure at ``failed_at_s`` (``record``: the one before, if any).

        ``queued_at_s`` is the message's arrival for an address record, None for a host's.
        """
        now_s = float(math.floor(failed_at_s))
        first_s = now_s if record is None else record.first_failed_s
        elapsed_s = now_s - first_s
        if queued_at_s is not None:
            elapsed_s = max(elapsed_s, now_s - math.floor(queued_at_s))
        r = self.rule_for(elapsed_s)
        if r.kind == "F":
            wait_s = r.interval_s
        else:
            last_gap_s = 0.0
            if record is not None:
                last_gap_s = min(record.next_try_s - record.last_try_s, now_s - record.last_try_s)
            wait_s = max(r.interval_s, r.factor * last_gap_s)
        return TryRecord(first_s, now_s, now_s + wait_s)

    def _give_up_run_s(self, after_s: float, queued_at_s: float) -> float:
        """The first queue run after ``after_s`` at which the message's age exceeds ``give_up_s``."""
        return _first_run_s(-math.inf, max(after_s, queued_at_s + self.give_up_s), self.queue_phase_s,
                            self.queue_interval_s)

    def _attempt_at_s(self, next_try_s: float, after_s: float, queued_at_s: float) -> float:
        run_s = _first_run_s(math.ceil(next_try_s), after_s, self.queue_phase_s, self.queue_interval_s)
        return min(run_s, self._give_up_run_s(after_s, queued_at_s))

    def _plan(
        self, failed_at_s: float, queued_at_s: float, first_failure_s: float, failures: int,
        record: TryRecord | None,
    ) -> tuple[float, TryRecord]:
        new = self.record_after(record, failed_at_s, queued_at_s)
        if self.queue_interval_s == 0:
            return failed_at_s + (new.next_try_s - new.last_try_s), new
        return self._attempt_at_s(new.next_try_s, failed_at_s, queued_at_s), new

    def next_attempt_s(
        self, failed_at_s: float, queued_at_s: float, first_failure_s: float, failures: int
    ) -> float:
        """The next attempt for a message with no retry record yet (see :meth:`decide` for the rest)."""
        _check_times(failed_at_s, queued_at_s, first_failure_s, failures)
        return self._plan(failed_at_s, queued_at_s, first_failure_s, failures, None)[0]

    def destination_failed(self, record: TryRecord | None, failed_at_s: float) -> TryRecord:
        return self.record_after(record, failed_at_s, None)

    def destination_open(self, record: TryRecord, now_s: float, queued_at_s: float) -> bool:
        # Past give-up a message tries its hosts whatever their retry time (its give-up run).
        return math.floor(now_s) >= record.next_try_s or now_s - queued_at_s > self.give_up_s

    def decide_held(
        self,
        held_at_s: float,
        queued_at_s: float,
        first_failure_s: float,
        failures: int,
        warned: bool,
        record: TryRecord | None,
        reopen_s: float,
    ) -> RetryDecision:
        _check_times(held_at_s, queued_at_s, first_failure_s, failures)
        if held_at_s - queued_at_s >= self.give_up_s:
            return RetryDecision("bounce", None, False)
        if self.queue_interval_s == 0:
            nxt = max(float(math.ceil(reopen_s)), math.floor(held_at_s) + 1.0)
        else:
            nxt = self._attempt_at_s(reopen_s, held_at_s, queued_at_s)
        return RetryDecision("retry", nxt, self._warns(held_at_s, queued_at_s, warned), record)


# --------------------------------------------------------------------------- #
# Construction from scenario settings, and the all-fail schedule
# --------------------------------------------------------------------------- #


POLICY_NAMES: tuple[str, ...] = ("fixed", "postfix", "exim", "exchange", "backoff")

_POLICY_CLASSES: dict[str, type[RetryPolicy]] = {
    "fixed": FixedPolicy,
    "postfix": PostfixPolicy,
    "exim": EximPolicy,
    "exchange": ExchangePolicy,
    "backoff": BackoffPolicy,
}

POLICY_KEYS: dict[str, tuple[str, ...]] = {
    "fixed": ("interval", "give_up", "warn_after"),
    "postfix": ("min_backoff", "max_backoff", "queue_run_delay", "queue_phase", "give_up", "warn_after"),
    "exim": ("rule", "queue_interval", "queue_phase", "give_up", "warn_after"),
    "exchange": ("interval", "give_up", "warn_after"),
    "backoff": ("initial", "factor", "max", "give_up", "warn_after"),
}
"""The scenario keys (besides ``policy``) each retry policy takes, by YAML name."""

# Scenario key -> the policy attribute (and the spec attribute) that holds it.
_ATTRIBUTES: dict[str, str] = {
    "interval": "interval_s", "give_up": "give_up_s", "warn_after": "warn_after_s", "initial": "initial_s",
    "factor": "factor", "max": "max_s", "min_backoff": "min_backoff_s", "max_backoff": "max_backoff_s",
    "queue_run_delay": "queue_run_delay_s", "queue_interval": "queue_interval_s", "queue_phase": "queue_phase_s",
    "rule": "rule",
}

POLICY_DEFAULTS: dict[str, dict[str, object]] = {
    name: {key: getattr(cls(), _ATTRIBUTES[key]) for key in POLICY_KEYS[name]} for name, cls in _POLICY_CLASSES.items()
}
"""Each policy's defaults by scenario key, in seconds (``warn_after`` None = no warning).

For ``exim`` with its own ``rule`` and no ``give_up``, give_up is the rule's last cutoff
(:func:`exim_give_up_s`).
"""

# Which optional spec attributes each policy accepts (the spec attribute is the constructor argument).
_POLICY_OPTIONS: dict[str, tuple[type[RetryPolicy], tuple[str, ...]]] = {
    name: (cls, tuple(_ATTRIBUTES[k] for k in POLICY_KEYS[name] if k not in ("give_up", "warn_after")))
    for name, cls in _POLICY_CLASSES.items()
}
_ALL_OPTIONS = tuple(attr for key, attr in _ATTRIBUTES.items() if key not in ("give_up", "warn_after"))


def make_policy(spec: Any) -> RetryPolicy:
    """Build a policy from an object with retry settings as attributes.

    ``spec.policy`` names the policy (one of :data:`POLICY_NAMES`). The attributes
    ``give_up_s`` and ``warn_after_s`` apply to every policy, ``interval_s`` to
    ``fixed`` and ``exchange``, ``initial_s``, ``factor`` and ``max_s`` to
    ``backoff``, ``rule``, ``queue_interval_s`` and ``queue_phase_s`` to ``exim``, and
    ``min_backoff_s``, ``max_backoff_s``, ``queue_run_delay_s`` and ``queue_phase_s`` to
    ``postfix`` (:data:`POLICY_KEYS`). A missing attribute or ``None`` means the
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
    for attr in options:
        value = getattr(spec, attr, None)
        if value is not None:
            kwargs[attr] = value
    for attr in _ALL_OPTIONS:
        if attr not in options and getattr(spec, attr, None) is not None:
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
    record: TryRecord | None = None
    while attempt_s <= horizon_s:
        if len(times) >= max_attempts:
            raise ValueError(f"more than {max_attempts} attempts before the message bounces")
        times.append(attempt_s)
        failed_at_s = attempt_s + attempt_duration_s
        if first_failure_s is None:
            first_failure_s = failed_at_s
        decision = policy.decide(failed_at_s, queued_at_s, first_failure_s, len(times), warned, record)
        warned = warned or decision.warn
        record = decision.record
        if decision.action == "bounce":
            times.append(failed_at_s)
            return times
        assert decision.next_attempt_s is not None
        attempt_s = decision.next_attempt_s
    return times
