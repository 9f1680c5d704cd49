"""Scheduled and random failures of servers and links.

A scheduled outage takes its target down at ``start`` and back up at ``end``. A random one
alternates exponential up times (mean ``mtbf``) and down times (mean ``mttr``) from its own
random stream, for as long as the run goes on. Overlapping outages of one target nest: it is
up again when the last of them ends. Taking a host or link down cuts every session through
it and makes routing go around it.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import numpy as np

from .wiring import OutageWiring


class Target:
    """Something that can fail: a server (with its network node) or a link."""

    def __init__(self, ctx: OutageWiring, name: str) -> None:
        self.ctx = ctx
        self.name = name
        self.depth = 0  # outages holding it down now
        self.link = None
        if "--" in name:
            a, _, b = name.partition("--")
            self.link = ctx.net.link(a, b)
            self.name = self.link.name

    def down(self) -> None:
        """One more outage holds the target down; the first one takes it down and cuts sessions.

        This is the one place that counts overlapping outages: the server and the network are
        told only when the target goes down and when it is back."""
        ctx = self.ctx
        self.depth += 1
        if self.depth > 1:
            return
        if self.link is not None:
            ctx.net.set_link_up(self.link, False)
            ctx.record("link_down", "", self.name)
            ctx.sessions.cut_link(self.link)
            return
        server = ctx.servers.get(self.name)
        if server is not None:
            server.go_down()
        ctx.net.set_node_up(self.name, False)
        ctx.record("server_down", "", self.name)
        ctx.sessions.cut_node(self.name)

    def up(self) -> None:
        """One outage ends; the target is back when the last one holding it has ended."""
        ctx = self.ctx
        self.depth -= 1
        if self.depth > 0:
            return
        if self.link is not None:
            ctx.net.set_link_up(self.link, True)
            ctx.record("link_up", "", self.name)
            return
        ctx.net.set_node_up(self.name, True)
        ctx.record("server_up", "", self.name)
        server = ctx.servers.get(self.name)
        if server is not None:
            server.come_up()


def scheduled(ctx: OutageWiring, target: Target, start_s: float, end_s: float) -> Generator[Any, Any, None]:
    """Down from ``start_s`` to ``end_s`` (absolute simulated times)."""
    env = ctx.env
    yield env.timeout(start_s)
    target.down()
    yield env.timeout(end_s - start_s)
    target.up()


def random_failures(
    ctx: OutageWiring, target: Target, mtbf_s: float, mttr_s: float, rng: np.random.Generator
) -> Generator[Any, Any, None]:
    """Exponential up and down times, forever; the run's end condition stops it."""
    env = ctx.env
    while True:
        yield env.timeout(float(rng.exponential(mtbf_s)))
        target.down()
        yield env.timeout(float(rng.exponential(mttr_s)))
        target.up()
