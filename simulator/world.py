"""Build the simulated world from a Scenario, start its processes, and run it to the end.

Building creates servers, mailboxes, user agents and the network but starts no process, so a
wiring error shows before time 0 and tests can inspect a world without running it. ``start``
launches traffic, scripted messages and outages; ``run`` advances the clock until the run's
end condition (or ``until``) and returns the end time.
"""

from __future__ import annotations

import gc
from collections.abc import Callable
from typing import Any

import numpy as np
import simpy

from . import outages, traffic
from .agents import UserAgent
from .behaviour import Behaviour
from .context import Context
from .eventlog import EventLog
from .mailbox import Mailbox
from .network import Network
from .randomness import Streams
from .server import MailServer, domain_of

# Called now and then during a run with (simulated time, expected horizon, messages created, busy).
Progress = Callable[[float, float, int, int], None]


class World:
    """Every simulated component of one run, wired together."""

    def __init__(
        self,
        scenario: Any,
        seed: int | np.random.SeedSequence | None = None,
        trace: bool = False,
        trace_messages: frozenset[str] | None = None,
    ) -> None:
        """Build the world; with ``trace``, sessions record their timelines in ``ctx.traces``
        (only the SMTP sessions of ``trace_messages`` and the retrievals that fetch them, if given)."""
        self.scenario = scenario
        self.seed = scenario.seed if seed is None else seed
        self.env = simpy.Environment(initial_time=0.0)
        self.log = EventLog()
        self.streams = Streams(self.seed)
        self.ctx = ctx = Context(self.env, Network(self.env, scenario.links), self.log)
        ctx.sessions.enabled = bool(scenario.outages)  # without outages nothing can cut a session
        if trace:
            ctx.traces = []
            ctx.trace_filter = trace_messages
        for name, spec in scenario.servers.items():
            ctx.servers[name] = MailServer(ctx, spec)
            for domain in spec.domains:
                ctx.home[domain] = name
        ctx.dns = {domain: tuple((r.host, r.preference) for r in records) for domain, records in scenario.dns.items()}
        self.users = scenario.expanded_users()
        self._selected: dict[str, list[str]] = {}
        for user in self.users:
            server = ctx.servers[ctx.home[domain_of(user.address)]]
            server.mailboxes[user.address] = Mailbox(user.address)
            agent = ctx.agents[user.address] = UserAgent(ctx, user.address, user.at, server, user)
            agent.add_devices([self.streams.get(f"device.{user.address}.{k + 1}") for k in range(user.access.devices)])
        if any(Behaviour.wanted(spec) for spec in scenario.traffic):
            behaviour = Behaviour(
                ctx, scenario.traffic, [self.streams.get(f"behaviour.{i}") for i in range(len(scenario.traffic))],
                [self.select(spec.forward.to or spec.to) if getattr(spec, "forward", None) else []
                 for spec in scenario.traffic],
            )
            for agent in ctx.agents.values():
                agent.behaviour = behaviour
        self.started = False

    # ---- selection of users for traffic ----------------------------------------------------

    def select(self, selector: str) -> list[str]:
        """Addresses named by a domain, a group prefix, or one address (each worked out once:
        traffic entries name the same few, and a scan looks at every user)."""
        selected = self._selected.get(selector)
        if selected is None:
            selected = self._selected[selector] = self._select(selector)
        return selected

    def _select(self, selector: str) -> list[str]:
        if selector in self.ctx.home:
            return [u.address for u in self.users if domain_of(u.address) == selector]
        if "@" in selector:
            return [selector]
        return [u.address for u in self.users if getattr(u, "group", None) == selector]

    # ---- phases ------------------------------------------------------------------------------

    def start(self) -> None:
        """Launch the traffic sources and outages (once)."""
        if self.started:
            return
        self.started = True
        sc, ctx, env = self.scenario, self.ctx, self.env
        for i, spec in enumerate(sc.traffic):
            ctx.end.source_started()
            rng = self.streams.get(f"traffic.{i}")
            traffic.PoissonSource(ctx, spec, self.select(spec.from_), self.select(spec.to), sc.duration_s, rng,
                                  origin=i).start()
        for agent in ctx.agents.values():
            agent.start()
        if sc.messages:
            ctx.end.source_started()
            env.process(traffic.scripted(ctx, sc.messages))
        targets: dict[str, outages.Target] = {}  # one per server or link, however many outages name it
        for i, spec in enumerate(sc.outages):
            fresh = outages.Target(ctx, spec.target)
            target = targets.setdefault(fresh.name, fresh)
            if spec.mtbf_s is not None:
                rng = self.streams.get(f"outage.{i}")
                env.process(outages.random_failures(ctx, target, spec.mtbf_s, spec.mttr_s, rng))
            else:
                env.process(outages.scheduled(ctx, target, spec.start_s, spec.end_s))
        ctx.end.check()

    def run(self, progress: Progress | None = None, chunks: int = 200) -> float:
        """Run until everything is delivered, bounced or given up (or ``until``); the end time.

        The clock advances in chunks of the expected horizon so ``progress`` can report.
        """
        self.start()
        # The run makes many short-lived objects and few cycles: collecting the young generation
        # less often saves a tenth of the time and changes no result.
        thresholds = gc.get_threshold()
        gc.set_threshold(50_000, 20, 100)
        try:
            return self._advance(progress, chunks)
        finally:
            gc.set_threshold(*thresholds)

    def _advance(self, progress: Progress | None, chunks: int) -> float:
        env, ctx, sc = self.env, self.ctx, self.scenario
        horizon = sc.until_s if sc.until_s is not None else max(sc.duration_s, 1.0)
        step = horizon / chunks
        while not ctx.done.triggered:
            target = env.now + step
            if sc.until_s is not None:
                target = min(target, sc.until_s)
            if env.peek() == float("inf"):
                break
            env.run(until=env.any_of([ctx.done, env.timeout(target - env.now)]))
            if progress is not None:
                progress(env.now, horizon, ctx._next_id, ctx.busy)
            if sc.until_s is not None and env.now >= sc.until_s:
                break
        return env.now
