"""The final mail pairs (mail to a final recipient) as a mask over the deliveries table's columns
agree with the rule a pair at a time (:func:`simulator.results.is_final_mail`)."""

from hypothesis import given
from hypothesis import strategies as st

from simulator.results import final_mail, final_mail_mask, final_mail_positions, is_final_mail

KINDS = st.sampled_from(["mail", "dsn-bounce", "dsn-delay", "Mail"])
STATUSES = st.sampled_from(["delivered", "bounced", "pending", "expanded", "expanded "])


def test_the_rule_keeps_mail_not_taken_by_a_list() -> None:
    assert is_final_mail("mail", "delivered")
    assert is_final_mail("mail", "pending")
    assert not is_final_mail("mail", "expanded")
    assert not is_final_mail("dsn-bounce", "delivered")


@given(st.lists(st.tuples(KINDS, STATUSES), max_size=60))
def test_mask_positions_and_rows_agree_with_the_rule(pairs: list[tuple[str, str]]) -> None:
    columns = {"kind": [k for k, _ in pairs], "status": [s for _, s in pairs]}
    wanted = [is_final_mail(k, s) for k, s in pairs]
    assert final_mail_mask(columns).tolist() == wanted
    assert final_mail_positions(columns) == [i for i, w in enumerate(wanted) if w]
    rows = [{"kind": k, "status": s} for k, s in pairs]
    assert final_mail(rows) == [r for r, w in zip(rows, wanted, strict=True) if w]
