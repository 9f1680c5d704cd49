"""The plan of an SMTP session (simulator.protocols.smtp.plan), as data: what a session of one
transfer is made of, and that a plan made on the hot path is the same Plan as one made by name."""

from __future__ import annotations

from typing import Any

import pytest

from simulator.message import Message
from simulator.network import Path
from simulator.protocols import smtp


class Receiver:
    """A receiving server that accepts everyone but ``refuse`` (550)."""

    max_message_size_bytes = 10_000_000
    eight_bit_mime = True
    greylist = None
    admission = None
    inbound = None

    def __init__(self, pipelining: bool, refuse: frozenset[str] = frozenset()) -> None:
        self.pipelining = pipelining
        self.refuse = refuse

    def rcpt_reply(self, rcpt: str, submission: bool, client: str, sender: str) -> str:
        return "550" if rcpt in self.refuse else smtp.OK

    def accept(self, message: Message, rcpts: tuple[str, ...], client: str) -> list[Any]:
        return []


def message(rcpts: tuple[str, ...]) -> Message:
    return Message("m1", "mail", "a@x.example", "a@x.example", rcpts, 5000, 5400, 0.0)


@pytest.mark.parametrize("pipelining", [True, False])
@pytest.mark.parametrize("count", [1, 3])
def test_a_session_everyone_accepts_is_one_transfer_after_its_whole_dialogue(pipelining: bool, count: int) -> None:
    rcpts = tuple(f"r{i}@y.example" for i in range(count))
    path = Path(("a", "b"), (), 0.02)
    plan = smtp.plan(path, Receiver(pipelining), message(rcpts), rcpts, "a")
    assert isinstance(plan, smtp.Plan)
    expected = smtp.Plan(5400, [(r, smtp.OK) for r in rcpts], rcpts, False, smtp.NO_STEPS,
                         smtp.layout(pipelining, count).lead_in_d * 0.02)
    assert plan == expected
    assert (plan.refused, plan.refusal, plan.steps) == ("", None, [])
    # the data starts 4 RTT after the SYN with PIPELINING, else 5 RTT and one more per RCPT
    assert plan.lead_in_s == pytest.approx((8 if pipelining else 10 + 2 * count) * 0.02)
    assert plan._replace(too_big=True).too_big  # a NamedTuple like any other


def test_a_refused_recipient_makes_the_session_step_by_step() -> None:
    rcpts = ("ok@y.example", "no@y.example")
    plan = smtp.plan(Path(("a", "b"), (), 0.02), Receiver(False, frozenset({"no@y.example"})), message(rcpts),
                     rcpts, "a")
    assert plan.accepted == ("ok@y.example",) and plan.lead_in_s == 0.0
    assert [replies for _, replies in plan.steps if replies] == [[("ok@y.example", smtp.OK)],
                                                                  [("no@y.example", "550")]]
