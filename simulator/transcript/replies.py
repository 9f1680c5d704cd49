"""SMTP replies as a transcript shows them: the enhanced status code (RFC 3463) and the text of
each reply code a run can give, shared by the SMTP dialogue (the replies to MAIL and RCPT) and
the delivery status notifications (their ``Status`` and ``Diagnostic-Code`` fields)."""

from __future__ import annotations

__all__ = ["REASONS", "STATUS", "rcpt_reply", "reply_line"]

STATUS = {"550": "5.1.1", "552": "5.3.4", "554": "5.7.1", "450": "4.7.1", "421": "4.4.1", "451": "4.4.2"}

REASONS = {
    "550": "Recipient address rejected: User unknown in local recipient table",
    "552": "Message size exceeds fixed limit",
    "554": "Relay access denied",
    "450": "Recipient address rejected: Greylisted, please try again later",
    "421": "Connection timed out",
    "451": "Connection lost during the session",
}


def reply_line(code: str) -> str:
    """The reply line of ``code`` (one of :data:`STATUS`'s codes)."""
    return f"{code} {STATUS[code]} {REASONS[code]}"


def rcpt_reply(rcpt: str, code: str) -> str:
    """The reply to ``RCPT TO:<rcpt>`` with ``code``."""
    if code == "250":
        return "250 2.1.5 Ok"
    status = STATUS.get(code, "4.0.0" if code.startswith("4") else "5.0.0")
    return f"{code} {status} <{rcpt}>: {REASONS.get(code, 'refused')}"
