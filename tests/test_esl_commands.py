"""Dial strings built by frontdesk.esl.commands: what FreeSWITCH splits them on cannot come from
the text put into them."""

from __future__ import annotations

from frontdesk.esl.commands import caller_id, dial_string, gateway_known, originate
from frontdesk.sim._legs import parse_dialstring, split_outside_quotes


def test_a_name_with_spaces_is_quoted_and_cannot_add_variables_or_arguments() -> None:
    dial = dial_string(
        "sofia/gateway/trunk/0639981234",
        caller_id("0199000001", "Cabinet d'O'Brien, {x=y} [z] | ^^:"),
    )
    command = originate(dial)

    dial_arg = split_outside_quotes(command, " ")[1]
    variables, targets = parse_dialstring(dial_arg)
    assert variables == {
        "origination_caller_id_number": "0199000001",
        "origination_caller_id_name": "Cabinet dOBrien x=y z :",
    }
    assert targets == ["sofia/gateway/trunk/0639981234"]
    assert command.endswith(" &park()")


def test_no_number_presents_nothing() -> None:
    assert caller_id(None, "Cabinet") == {}
    assert dial_string("user/1001", {}) == "user/1001"


def test_the_gateway_status_reply_tells_a_missing_gateway() -> None:
    assert not gateway_known("Invalid Gateway!\n")
    assert not gateway_known("-ERR no reply\n")
    assert gateway_known("=" * 97 + "\nName    \ttrunk\n")
