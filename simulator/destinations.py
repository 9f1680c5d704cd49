"""Destination state, for the retry policies that keep it (``postfix``: per next-hop domain,
``exim``: per host): which destinations a job may try now, and what an attempt's connections
teach about them.

A server holds the state (``MailServer.destinations``: domain or host -> its retry record); its
delivery jobs read it before an attempt and update it after one (:mod:`simulator.delivery`).
"""

from __future__ import annotations

from .addresses import domain_of
from .retry import RetryPolicy, TryRecord


def open_hosts(
    policy: RetryPolicy, states: dict[str, TryRecord], rcpts: list[str], hosts: tuple[str, ...], queued_at_s: float,
    now_s: float,
) -> tuple[tuple[str, ...], float | None]:
    """The hosts a job may try now and, when it may try none, the time its destination reopens.

    ``postfix``: the job waits while every domain of its recipients is dead. ``exim``: hosts
    whose retry time has not come are skipped; the job waits when that is all of them.
    """
    if policy.destination == "domain":
        records = [states.get(domain_of(r)) for r in rcpts]
        closed = [r for r in records if r is not None and not policy.destination_open(r, now_s, queued_at_s)]
        if len(closed) < len(records):
            return hosts, None
        return hosts, min(rec.next_try_s for rec in closed)
    open_hosts = []
    reopen_s = None
    for host in hosts:
        rec = states.get(host)
        if rec is None or policy.destination_open(rec, now_s, queued_at_s):
            open_hosts.append(host)
        elif reopen_s is None or rec.next_try_s < reopen_s:
            reopen_s = rec.next_try_s
    return (tuple(open_hosts), None) if open_hosts else (hosts, reopen_s)


def learn(
    policy: RetryPolicy, states: dict[str, TryRecord], rcpts: list[str], contacts: list[tuple[str, bool, float]]
) -> None:
    """Update the destination state from an attempt's connections: (host, answered, when).

    ``postfix``: no host answered, so every domain of the recipients is dead now; a host
    that answered makes them alive. ``exim``: each host that did not answer gets (or
    extends) its retry record; one that answered loses it.
    """
    if not contacts:
        return
    if policy.destination == "domain":
        answered = any(ok for _, ok, _ in contacts)
        for domain in {domain_of(r) for r in rcpts}:
            if answered:
                states.pop(domain, None)
            else:
                record = policy.destination_failed(states.get(domain), contacts[-1][2])
                if record is not None:
                    states[domain] = record
        return
    for host, ok, when_s in contacts:
        if ok:
            states.pop(host, None)
        else:
            record = policy.destination_failed(states.get(host), when_s)
            if record is not None:
                states[host] = record
