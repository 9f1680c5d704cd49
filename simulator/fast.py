"""The fast path: a hop that nothing can disturb runs as timer callbacks, with no process.

In a run where no session can be cut (no outages) and none is being recorded, an SMTP hop
whose outcome is plain acceptance (size within the limit, every recipient accepted, no
greylisting) is fully known when it starts: one transfer whose lead-in is the command round
trips and whose tail is the last byte's trip to the server. Such a hop does not need a SimPy
process to wait for it; a callback on the transfer does what the process would have done when
it woke. Anything else (a refusal, a full set of session slots, a host that is down, a retry)
goes the ordinary way, through the processes of :mod:`simulator.agents` and
:mod:`simulator.server`, which the fast path mirrors step for step; the event log is the same
either way.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .network import FINISHED, Flow
from .protocols import smtp

if TYPE_CHECKING:
    from .agents import UserAgent
    from .message import Message
    from .server import Job


def when_done(flow: Flow, then: Callable[[Any], None]) -> None:
    """Call ``then`` when the transfer is over (now, if it already is)."""
    if flow.stage >= FINISHED:
        then(None)
    else:
        (flow._done or flow.done).callbacks.append(then)


def start_jobs(jobs: list[Job]) -> None:
    """What ``server.run_jobs`` does from a process, done from a callback."""
    for job in jobs[1:]:
        job.server.ctx.env.process(job.run())
    if jobs:
        jobs[0].start()


def try_submit(agent: UserAgent, message: Message) -> bool:
    """Submit ``message`` on the fast path if its submission is a plain acceptance."""
    ctx, server = agent.ctx, agent.server
    if not ctx.fast or not server.up:
        return False
    path = ctx.net.path(agent.node, server.name)
    if path is None:
        return False
    rcpts = message.recipients
    flow = smtp.plain_exchange(ctx.net, path, server, message, rcpts, agent.node, True)  # a submission
    if flow is None:
        return False

    def accepted(_event: Any) -> None:
        jobs = server.accept(message, rcpts, agent.node)
        ctx.release()  # the hold the user agent put on the run for this submission
        if jobs:
            start_jobs(jobs)

    when_done(flow, accepted)
    return True


def try_relay(job: Job) -> bool:
    """Make a job's first attempt on the fast path if it is a plain acceptance by the first MX."""
    server, message = job.server, job.message
    ctx = server.ctx
    if not ctx.fast or job.state is not None or not server.up or server.destinations:
        return False
    host = job.hosts[0]
    remote = ctx.servers[host]
    path = ctx.net.path(server.name, host)
    if path is None or not remote.up or not server.slots.take():
        return False
    rcpts = job.rcpts
    flow = smtp.plain_exchange(ctx.net, path, remote, message, rcpts, server.name, False, server.eight_bit_mime)
    if flow is None:
        server.slots.give()
        return False
    listed = ",".join(rcpts)
    ctx.append_record((ctx.env._now, "attempt", message.id, server.name, f"rcpts={listed} hosts={','.join(job.hosts)}"))

    def accepted(_event: Any) -> None:
        followups = remote.accept(message, rcpts, server.name)
        ctx.append_record((ctx.env._now, "sent", message.id, server.name, f"host={host} rcpts={listed} code=250"))
        server.slots.give()
        server._dequeue(message)
        if followups:
            start_jobs(followups)

    when_done(flow, accepted)
    return True
