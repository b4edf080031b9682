"""The reject text's ``key=value`` context has one spelling per kind of value (PROTOCOL.md §2)."""

from __future__ import annotations

from engine.messages import Reject, reject_text


def test_booleans_are_spelt_true_and_false() -> None:
    assert reject_text(Reject.NOT_AUTHORISED, atomic=True, role="member") == "NOT_AUTHORISED: atomic=true role=member"
    assert reject_text(Reject.NOT_AUTHORISED, atomic=False) == "NOT_AUTHORISED: atomic=false"


def test_text_that_could_forge_context_is_a_json_string_and_numbers_are_plain() -> None:
    assert reject_text(Reject.UNKNOWN_ACCOUNT, account='A1 x="y"') == 'UNKNOWN_ACCOUNT: account="A1 x=\\"y\\""'
    assert reject_text(Reject.INVALID_AMOUNT, quantity=-5) == "INVALID_AMOUNT: quantity=-5"
