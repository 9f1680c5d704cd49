"""A webmail (HTTP) session as a conversation, timed by its trace.

With ``d`` the path's one-way delay, a session starting at ``t0`` sends the inbox request at
``t0 + 2d`` and gets a JSON listing of the new messages back; then a GET at each fetch's
``requested`` time, answered with the message (``message/rfc822``) over the fetch's transfer.
The client closes the connection when it has them all.
"""

from __future__ import annotations

import json
from typing import Any

from .content import content_for
from .conversation import Conversation, Send
from .facts import Facts

__all__ = ["build_http"]


def build_http(conv: Conversation, trace: dict[str, Any], facts: Facts) -> None:
    """Fill ``conv`` with the webmail requests and responses of ``trace``."""
    t0, d, host = conv.start_s, conv.delay_s, conv.server
    fetches = list(trace.get("fetches") or ())
    conv.message_ids = [x[0] for x in fetches]
    conv.say(t0 + 2 * d, "C", ["GET /api/inbox?unread=1 HTTP/1.1", f"Host: {host}",
                               "Accept: application/json", "Connection: keep-alive", ""])
    listing = json.dumps({"user": conv.user, "new": [{"id": x[0], "size": int(x[1])} for x in fetches]},
                         separators=(",", ":"))
    conv.sends.append(Send(t0 + 3 * d, "S", "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                           f"Content-Length: {len(listing)}\r\n\r\n{listing}"))
    t = t0 + 4 * d
    for mid, size, requested, _, end in fetches:
        start = float(requested) + d  # the GET reaches the server
        conv.say(float(requested), "C", [f"GET /api/messages/{mid} HTTP/1.1", f"Host: {host}",
                                         "Accept: message/rfc822", "Connection: keep-alive", ""], mid)
        prefix = f"HTTP/1.1 200 OK\r\nContent-Type: message/rfc822\r\nContent-Length: {size}\r\n\r\n"
        conv.sends.append(Send(start, "S", prefix, mid, content_for(facts, mid, int(size)),
                               max(start, float(end))))
        t = float(end) + d
    if trace.get("cut_at") is not None:
        conv.cut(float(trace["cut_at"]))
        return
    conv.close("C", t)
