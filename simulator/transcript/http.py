"""A webmail (HTTP) session as a conversation: the webmail layout it was timed by, worded and placed.

The inbox request and its JSON listing of the new messages are the ``HTTP_INBOX`` stretch of
:mod:`simulator.protocols.retrieval`, from the session's start; then a GET at each fetch's
``requested_s``, answered with the message (``message/rfc822``) over the fetch's transfer. The
client closes the connection when it has them all.
"""

from __future__ import annotations

import json

from ..protocols import retrieval as layout
from ..protocols.dialogue import lay_out
from ..protocols.trace import HttpTrace
from .content import content_for
from .conversation import Conversation, Send
from .facts import Facts

__all__ = ["build_http"]


def build_http(conv: Conversation, trace: HttpTrace, facts: Facts) -> None:
    """Fill ``conv`` with the webmail requests and responses of ``trace``."""
    t0, d, host = conv.start_s, conv.delay_s, conv.server
    fetches = trace.fetches
    conv.message_ids = [x.message_id for x in fetches]
    placed, t = lay_out((layout.HTTP_INBOX,), t0, d)  # t: where the first GET of a message leaves
    (inbox_s, _), (listing_s, _) = placed
    conv.say(inbox_s, "C", ["GET /api/inbox?unread=1 HTTP/1.1", f"Host: {host}",
                            "Accept: application/json", "Connection: keep-alive", ""])
    listing = json.dumps({"user": conv.user, "new": [{"id": x.message_id, "size": x.size_bytes} for x in fetches]},
                         separators=(",", ":"))
    conv.sends.append(Send(listing_s, "S", "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                           f"Content-Length: {len(listing)}\r\n\r\n{listing}"))
    for mid, size, requested, _, end in fetches:
        start = requested + layout.FETCH_REQUEST_D * d  # the GET reaches the server
        conv.say(requested, "C", [f"GET /api/messages/{mid} HTTP/1.1", f"Host: {host}",
                                  "Accept: message/rfc822", "Connection: keep-alive", ""], mid)
        prefix = f"HTTP/1.1 200 OK\r\nContent-Type: message/rfc822\r\nContent-Length: {size}\r\n\r\n"
        conv.sends.append(Send(start, "S", prefix, mid, content_for(facts, mid, size), max(start, end)))
        t = end + layout.FETCH_TAIL_D * d
    if trace.cut_s is not None:
        conv.cut(trace.cut_s)
        return
    conv.close("C", t)
