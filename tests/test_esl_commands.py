"""Dial strings built by frontdesk.esl.commands: what FreeSWITCH splits them on cannot come from
the text put into them."""

from __future__ import annotations

import pytest

from frontdesk.esl.commands import (
    UnreadableReply,
    caller_id,
    dial_string,
    gateway_known,
    originate,
    registered_users,
    registrations,
)
from frontdesk.sim._legs import parse_dialstring, split_outside_quotes
from helpers import captured_reply


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


EMPTY_LISTING = (
    '<?xml version="1.0" encoding="ISO-8859-1"?>\n<profile>\n  <registrations>\n'
    "  </registrations>\n</profile>\n"
)
XML_LISTING = captured_reply("inbound-sofia-status", "api sofia xmlstatus profile fsref reg")
"""What a real FreeSWITCH 1.10.12 answered with 1001 and 1002 registered."""


def test_the_registered_users_are_read_from_a_real_xml_listing() -> None:
    assert registrations("desk") == "sofia xmlstatus profile desk reg"
    assert registered_users(XML_LISTING) == {"1001", "1002"}
    assert registered_users(EMPTY_LISTING) == set()


@pytest.mark.parametrize(
    "reply",
    [
        "",
        "Invalid Profile!\n",
        "-ERR no reply\n",
        "\nRegistrations:\n" + "=" * 97 + "\nUser:       \t1001@127.0.0.1\n",
        EMPTY_LISTING[:60],
        '<?xml version="1.0"?>\n<profiles>\n</profiles>\n',
        '<?xml version="1.0"?>\n<!DOCTYPE profile [<!ENTITY a "1001">]>\n'
        "<profile><registrations><registration><user>&a;@x</user></registration>"
        "</registrations></profile>",
    ],
    ids=["empty", "wrong-profile", "error", "table", "truncated", "other-xml", "doctype"],
)
def test_a_reply_that_is_not_a_registration_listing_is_refused(reply: str) -> None:
    with pytest.raises(UnreadableReply):
        registered_users(reply)
