"""User agents: a user's mail client, which submits what the user sends to the user's server.

Submission is an SMTP session from the user's node to the server holding the user's domain.
``submitted_at`` is when the user presses send; the message enters the server's queue when the
server accepts it. If the server cannot be reached, or the session is cut, the message stays in
the client's outbox and submission is tried again ``SUBMIT_RETRY_S`` later: nothing is lost.
A recipient the server refuses at submission (unknown local user, oversized message) is
reported to the user at once; no DSN is sent, since the server never accepted the message.
A session cut after the server accepted but before the client saw the 250 is submitted again,
so the server gets the message twice: a duplicate, as in real SMTP.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

from .context import Context
from .message import Message
from .protocols import smtp
from .server import CUT, MailServer, log_created

SUBMIT_RETRY_S = 60.0
SUBMIT_CONNECT_TIMEOUT_S = 30.0


class UserAgent:
    """One user: an address, the node its devices sit at, and its home server."""

    def __init__(self, ctx: Context, address: str, node: str, server: MailServer, spec: Any) -> None:
        self.ctx = ctx
        self.address = address
        self.node = node
        self.server = server
        self.spec = spec

    def send(self, message: Message) -> None:
        """The user presses send now."""
        ctx = self.ctx
        log_created(ctx, message, self.node)
        ctx.hold()
        ctx.env.process(self._submit(message))

    def _submit(self, message: Message) -> Generator[Any, Any, None]:
        """Submit ``message`` to the home server until it accepts or refuses it.

        Time: the SMTP session's round trips and transfer; on a failed connect,
        ``SUBMIT_CONNECT_TIMEOUT_S`` then ``SUBMIT_RETRY_S``. Cut by outages of the server or path.
        """
        ctx, env, server = self.ctx, self.ctx.env, self.server
        process = env.active_process
        assert process is not None
        pending = message.recipients

        def refused(rcpt: str, code: str) -> None:
            ctx.log.append(env.now, "bounced", message.id, self.node,
                           f"rcpt={rcpt} code={code} reason=submission dsn=-")

        while pending:
            path = ctx.net.path(self.node, server.name)
            if path is None or not server.up:
                yield env.timeout(SUBMIT_CONNECT_TIMEOUT_S)
                ctx.log.append(env.now, "submit_failed", message.id, self.node,
                               f"host={server.name} code={CUT} next={env.now + SUBMIT_RETRY_S!r}")
                yield env.timeout(SUBMIT_RETRY_S)
                continue
            handle = ctx.sessions.open(process, path)
            try:
                result = yield from smtp.session(
                    env, ctx.net, path, server, message, pending, self.node, refused, submission=True
                )
            finally:
                ctx.sessions.close(handle)
            if not result.cut:
                break
            ctx.log.append(env.now, "submit_failed", message.id, self.node,
                           f"host={server.name} code={CUT} next={env.now + SUBMIT_RETRY_S!r}")
            yield env.timeout(SUBMIT_RETRY_S)
        ctx.release()
