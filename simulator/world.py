"""Build the simulated world from a Scenario, start its processes, and run it to the end.

Building creates servers, mailboxes, user agents and the network but starts no process, so a
wiring error shows before time 0 and tests can inspect a world without running it. ``start``
launches traffic, scripted messages and outages; ``run`` steps from one event to the next (the
clock jumps over idle time) until the run's end condition (or ``until``, or until a ``stop``
callback asks it to stop early) and returns the end time, reporting its :class:`RunStatus` to a
progress callback now and then.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import simpy
from simpy.core import StopSimulation
from simpy.events import EventPriority

from . import campaigns, collector, kernel, lists, outages, traffic
from .addresses import domain_of
from .agents import UserAgent
from .behaviour import Behaviour
from .binning import Bins
from .context import Context
from .eventlog import EventLog
from .mailbox import Mailbox
from .network import Network
from .randomness import Streams
from .server import MailServer
from .workers import Workers

PROGRESS_EVERY_EVENTS = 1000
"""How many events ``World.run`` processes between two calls of its progress callback."""

# SimPy orders the events of one instant by priority (URGENT 0, NORMAL 1), then by creation;
# the hard stop at ``until`` takes a priority behind both, so everything due at ``until`` runs.
_AFTER_EVERYTHING = EventPriority(2)


class RunStatus:
    """A live view of a running world for progress displays: each figure is read when asked
    for, so a display that shows one line a second costs the run nothing in between."""

    def __init__(self, world: World) -> None:
        self._world = world

    @property
    def now_s(self) -> float:
        """The simulated time."""
        return self._world.env.now

    @property
    def duration_s(self) -> float:
        """The traffic period: traffic entries create messages until then; after it the run drains."""
        return float(self._world.scenario.duration_s)

    @property
    def until_s(self) -> float | None:
        """The hard stop, if the scenario has one."""
        until_s = self._world.scenario.until_s
        return None if until_s is None else float(until_s)

    @property
    def events(self) -> int:
        """SimPy events processed so far (counted per batch between progress calls)."""
        return self._world.events_processed

    @property
    def messages_created(self) -> int:
        """Messages created so far: sent by users, scripted, replies, forwards and DSNs."""
        return self._world.ctx.messages_created

    @property
    def busy(self) -> int:
        """What keeps the run going: delivery jobs, submissions in flight, mail waiting to be
        retrieved, replies waiting out their think time."""
        return self._world.ctx.busy

    @property
    def queued_messages(self) -> int:
        """Messages in the servers' outgoing queues (summed over the servers)."""
        return sum(len(server.queued) for server in self._world.ctx.servers.values())

    @property
    def next_event_s(self) -> float | None:
        """When the next event is due (a retry, a poll, an outage's end ...); None if none is."""
        next_s = self._world.env.peek()
        return None if next_s == float("inf") else next_s

    @property
    def finished(self) -> bool:
        """Whether the run has ended (stopped early included)."""
        return self._world.ended

    @property
    def stopped(self) -> bool:
        """Whether the run was stopped early, before its end condition (see ``World.run``)."""
        return self._world.stopped


# Called during a run with the world's status (see World.run).
Progress = Callable[[RunStatus], None]


class World:
    """Every simulated component of one run, wired together."""

    def __init__(
        self,
        scenario: Any,
        seed: int | np.random.SeedSequence | None = None,
        trace: bool = False,
        trace_messages: frozenset[str] | None = None,
        bin_s: float | None = None,
    ) -> None:
        """Build the world; with ``trace``, sessions record their timelines in ``ctx.traces``
        (only the SMTP sessions of ``trace_messages`` and the retrievals that fetch them, if given).
        Link and session loads are counted in time bins of ``bin_s`` (default: see simulator.binning)."""
        self.scenario = scenario
        self.seed = scenario.seed if seed is None else seed
        self.env = kernel.Environment(initial_time=0.0)
        self.log = EventLog()
        self.streams = Streams(self.seed)
        self.ctx = ctx = Context(self.env, Network(self.env, scenario.links, Bins(bin_s)), self.log)
        ctx.sessions.enabled = bool(scenario.outages)  # without outages nothing can cut a session
        if trace:
            ctx.traces = []
            ctx.trace_filter = trace_messages
        for name, spec in scenario.servers.items():
            server = ctx.servers[name] = MailServer(ctx, spec)
            if spec.processing is not None:
                server.workers = Workers(server, spec.workers, spec.processing, self.streams.get(f"processing.{name}"))
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
        if scenario.lists or scenario.aliases:
            lists.install(ctx.servers, ctx.home, scenario, self.select)
        if any(Behaviour.wanted(spec) for spec in scenario.traffic):
            behaviour = Behaviour(
                ctx, scenario.traffic, [self.streams.get(f"behaviour.{i}") for i in range(len(scenario.traffic))],
                [self.select(spec.forward.to or spec.to) if getattr(spec, "forward", None) else []
                 for spec in scenario.traffic],
            )
            for agent in ctx.agents.values():
                agent.behaviour = behaviour
        self.started = False
        self.ended = False
        self.stopped = False  # ended early, by ``stop``
        self.events_processed = 0
        self.status = RunStatus(self)

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
                                  origin=i, arrivals_rng=self.streams.get(f"traffic.{i}.arrivals")).start()
        for agent in ctx.agents.values():
            agent.start()
        scripts = [*sc.messages, *campaigns.as_scripted(sc.campaigns, self.select, self.streams.get)]
        if scripts:
            ctx.end.source_started()
            env.process(traffic.scripted(ctx, scripts))
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

    def run(self, progress: Progress | None = None, stop: Callable[[], bool] | None = None) -> float:
        """Run until everything is delivered, bounced or given up (or ``until``); the end time.

        The clock jumps from one event to the next, however far apart they are. ``progress``, if
        given, is called with :attr:`status` after every :data:`PROGRESS_EVERY_EVENTS` events and
        once at the end: a count of events, not of simulated time, so idle days cost nothing.
        ``stop``, if given, is asked before the first batch and after each whether to stop now;
        when it says so, the run ends there, at the simulated time reached (:attr:`stopped` is then
        True), with every event taken so far processed whole and nothing after it.
        """
        with collector.paused():  # (no reference cycle per message: nothing for it to find)
            self.start()
            return self._advance(progress, stop)

    def _advance(self, progress: Progress | None, stop: Callable[[], bool] | None) -> float:
        """Step through the events until the run's end (see :meth:`run`).

        The run ends when ``ctx.done`` has fired and the condition waiting on it has been
        processed (events already scheduled for that instant before it go first), or, with
        ``until``, once every event at ``until`` or before has been processed: the stop is
        scheduled at ``until`` behind every other event of that instant.
        """
        env, ctx, until_s = self.env, self.ctx, self.scenario.until_s
        if ctx.done.triggered:  # nothing to do at all: the run ends at time 0
            self.ended = True
            return env.now
        finished = env.any_of([ctx.done])
        finished.callbacks.append(StopSimulation.callback)
        if until_s is not None:
            hard_stop = simpy.Event(env)
            hard_stop._ok, hard_stop._value = True, None
            hard_stop.callbacks.append(StopSimulation.callback)
            env.schedule(hard_stop, _AFTER_EVERYTHING, until_s - env.now)
        # Batches of events processed in one call (kernel.run_events: each event as env.step()
        # would take it, without a call per event), with the progress and stop checks between;
        # a stop asked before the first (a Ctrl-C while the world was built) ends the run at 0.
        self.stopped = stop is not None and stop()
        while not self.stopped:
            processed, stopped = kernel.run_events(env, PROGRESS_EVERY_EVENTS)
            self.events_processed += processed
            if stopped or processed < PROGRESS_EVERY_EVENTS:
                break  # the run's end, or the schedule ran out
            if progress is not None:
                progress(self.status)
            if stop is not None and stop():
                self.stopped = True
                break
        self.ended = True
        if progress is not None:
            progress(self.status)
        return env.now
