"""SMTP replies as a transcript shows them: the enhanced status code (RFC 3463) and the text of
each reply code a run can give, shared by the SMTP dialogue (the replies to RCPT) and the
delivery status notifications (their ``Status`` and ``Diagnostic-Code`` fields)."""

from __future__ import annotations

__all__ = ["REASONS", "STATUS", "rcpt_reply"]

STATUS = {"550": "5.1.1", "552": "5.3.4", "554": "5.7.1", "450": "4.7.1", "421": "4.4.1", "451": "4.4.2"}

REASONS = {
    "550": "Recipient address rejected: User unknown in local recipient table",
    "552": "Message size exceeds fixed limit",
    "554": "Relay access denied",
    "450": "Recipient address rejected: Greylisted, try again later",
    "421": "Connection timed out",
    "451": "Connection lost during the session",
}


def rcpt_reply(rcpt: str, code: str) -> str:
    if code == "250":
        return "250 2.1.5 Ok"
    if code == "550":
        return f"550 5.1.1 <{rcpt}>: Recipient address rejected: User unknown in local recipient table"
    if code == "554":
        return f"554 5.7.1 <{rcpt}>: Relay access denied"
    if code == "450":
        return f"450 4.7.1 <{rcpt}>: Recipient address rejected: Greylisted, please try again later"
    status = STATUS.get(code, "4.0.0" if code.startswith("4") else "5.0.0")
    return f"{code} {status} <{rcpt}>: {REASONS.get(code, 'refused')}"
