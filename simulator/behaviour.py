"""What users do with mail they have read: reply, forward, file it into a folder.

Each traffic entry may say, for the messages it created, with what probability a recipient
replies, forwards or files a message after reading it (its first retrieval on any device),
and after what think time. A reply goes back to the author and belongs to the same entry, so
conversations continue with the same probabilities; a forward goes to a user drawn from the
entry's ``forward.to`` (default: the entry's ``to``) and carries the original attachments.
Filing moves the message to a folder: on the server for IMAP and webmail (every device sees
it there), on the device for POP3. Each entry draws from its own random stream.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from . import kernel
from .message import Message
from .traffic import make_message

if TYPE_CHECKING:
    from .agents import UserAgent
    from .wiring import BehaviourWiring


class Behaviour:
    """Reply, forward and file decisions for the messages of every traffic entry."""

    def __init__(
        self,
        ctx: BehaviourWiring,
        specs: Sequence[Any],
        rngs: Sequence[np.random.Generator],
        forward_targets: Sequence[Sequence[str]],
    ) -> None:
        self.ctx = ctx
        self.specs = specs
        self.rngs = rngs
        self.forward_targets = forward_targets

    @staticmethod
    def wanted(spec: Any) -> bool:
        return any(getattr(spec, key, None) is not None for key in ("reply", "forward", "file"))

    def on_read(self, agent: UserAgent, message: Message) -> None:
        """``agent``'s user has just read ``message``: decide what to do with it."""
        if message.origin < 0 or message.is_dsn:
            return
        spec, rng = self.specs[message.origin], self.rngs[message.origin]
        if spec.reply is not None and rng.random() < spec.reply.probability:
            self._later(spec.reply.think.sample(rng), lambda: self._reply(agent, message, spec, rng))
        if spec.forward is not None and rng.random() < spec.forward.probability:
            self._later(spec.forward.think.sample(rng), lambda: self._forward(agent, message, spec, rng))
        if spec.file is not None and rng.random() < spec.file.probability:
            self._later(spec.file.think.sample(rng), lambda: self._file(agent, message, spec.file.folder))

    def _later(self, delay_s: float, action: Callable[[], None]) -> None:
        """Run ``action`` after the think time (counted from a step of its own, now); the run
        waits for it."""
        self.ctx.end.hold()
        kernel.call_soon(self.ctx.env, _ThinkTime(self.ctx, max(0.0, float(delay_s)), action).start)

    def _reply(self, agent: UserAgent, message: Message, spec: Any, rng: np.random.Generator) -> None:
        text = max(0, round(spec.size.sample(rng)))
        reply = make_message(self.ctx, agent.address, (message.author,), text, (), message.origin)
        self._log(reply, "reply", message, agent)
        agent.send(reply)

    def _forward(self, agent: UserAgent, message: Message, spec: Any, rng: np.random.Generator) -> None:
        targets = [t for t in self.forward_targets[message.origin] if t != agent.address]
        if not targets:
            return
        to = targets[int(rng.integers(len(targets)))]
        text = max(0, round(spec.size.sample(rng)))
        forward = make_message(self.ctx, agent.address, (to,), text, message.attachments, message.origin)
        self._log(forward, "forward", message, agent)
        agent.send(forward)

    def _file(self, agent: UserAgent, message: Message, folder: str) -> None:
        where = "local" if agent.spec.access.protocol == "pop3" else "server"
        if where == "server":
            agent.server.mailboxes[agent.address].folders[message.id] = folder
        ctx = self.ctx
        ctx.record("filed", message.id, agent.node, (agent.address, folder, where))

    def _log(self, new: Message, how: str, original: Message, agent: UserAgent) -> None:
        ctx = self.ctx
        ctx.record(how, original.id, agent.node, (new.id, agent.address))


class _ThinkTime:
    """A decided action waiting out its think time."""

    __slots__ = ("action", "ctx", "delay_s")

    def __init__(self, ctx: BehaviourWiring, delay_s: float, action: Callable[[], None]) -> None:
        self.ctx = ctx
        self.delay_s = delay_s
        self.action = action

    def start(self, _event: Any) -> None:
        kernel.timer(self.ctx.env, self.delay_s, self._over)

    def _over(self, _event: Any) -> None:
        self.action()
        self.ctx.end.release()
