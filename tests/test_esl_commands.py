"""The command strings built by frontdesk.esl.commands: the exact text sent, and what FreeSWITCH
splits them on (blanks, commas, braces, quotes) cannot come from the text put into them."""

from __future__ import annotations

import pytest

from frontdesk.esl import commands
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

HOSTILE = "x y',z}{a=b}[c]|^\\/"
"""A value from a caller or the config with every character that splits a command."""


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


def test_the_commands_on_channels_are_sent_as_freeswitch_expects_them() -> None:
    assert commands.uuid_kill("u-1") == "uuid_kill u-1"
    assert commands.uuid_kill("u-1", "NORMAL_CLEARING") == "uuid_kill u-1 NORMAL_CLEARING"
    assert commands.uuid_break("u-1") == "uuid_break u-1 all"
    assert commands.uuid_bridge("u-1", "u-2") == "uuid_bridge u-1 u-2"
    assert (commands.uuid_broadcast("u-2", "tone_stream://%(1500,3500,440);loops=-1")
            == "uuid_broadcast u-2 tone_stream://%(1500,3500,440);loops=-1 aleg")
    assert commands.registrations("desk") == "sofia xmlstatus profile desk reg"


@pytest.mark.parametrize("build", [
    lambda word: commands.uuid_kill(word),
    lambda word: commands.uuid_kill("u-1", word),
    lambda word: commands.uuid_break(word),
    lambda word: commands.uuid_bridge("u-1", word),
    lambda word: commands.uuid_broadcast("u-1", word),
    lambda word: commands.record(word, 120, 200, 3),
])
@pytest.mark.parametrize("word", ["a b", "a\tb", "a\nb", ""])
def test_a_blank_in_one_argument_is_refused_not_sent(build, word) -> None:
    with pytest.raises(ValueError):
        build(word)


def test_a_staff_phone_is_rung_with_the_callers_digits_and_the_callback_label() -> None:
    command = commands.ring(
        "leg-1",
        commands.user_target("1001", "192.168.1.10"),
        30.0,
        commands.shown_to_staff("+33 6 39,user/9}", "Rappel"),
    )

    assert command == (
        "originate {origination_uuid=leg-1,ignore_early_media=true,originate_timeout=30,"
        "origination_caller_id_number=+336399,origination_caller_id_name=Rappel}"
        "user/1001@192.168.1.10 &park()"
    )
    assert commands.shown_to_staff(None) == {}
    assert commands.shown_to_staff("anonymous", "Rappel") == {
        "origination_caller_id_name": "Rappel"
    }


def test_a_patient_is_rung_through_the_gateway_showing_the_practice() -> None:
    command = commands.ring(
        "leg-2",
        commands.gateway_target("trunk", "0639981234"),
        30,
        caller_id("0199000001", "Cabinet Martin"),
    )

    assert command == (
        "originate {origination_uuid=leg-2,ignore_early_media=true,originate_timeout=30,"
        "origination_caller_id_number=0199000001,origination_caller_id_name='Cabinet Martin'}"
        "sofia/gateway/trunk/0639981234 &park()"
    )


def test_a_reminder_call_is_handed_to_the_daemons_socket_once_answered() -> None:
    command = commands.into_socket(
        "leg-4",
        commands.gateway_target("trunk", "0639981234"),
        30,
        {"frontdesk_token": "abc123", commands.REMINDER: "7",
         **caller_id("0199000001", "Cabinet Martin")},
        ("127.0.0.1", 8084),
    )

    assert command == (
        "originate {origination_uuid=leg-4,ignore_early_media=true,originate_timeout=30,"
        "frontdesk_token=abc123,frontdesk_reminder=7,origination_caller_id_number=0199000001,"
        "origination_caller_id_name='Cabinet Martin'}sofia/gateway/trunk/0639981234 "
        "'&socket(127.0.0.1:8084 async full)'"
    )
    assert len(split_outside_quotes(command, " ")) == 3  # the application is one argument
    with pytest.raises(ValueError):
        commands.originate("user/1001", "socket", "127.0.0.1:8084 'async full")


def test_values_from_the_config_or_a_caller_cannot_split_an_originate() -> None:
    command = commands.ring(
        "leg-3",
        commands.user_target(HOSTILE, HOSTILE),
        30,
        commands.shown_to_staff(HOSTILE + "0612", HOSTILE),
    )

    arguments = split_outside_quotes(command, " ")
    assert len(arguments) == 3 and arguments[0] == "originate" and arguments[2] == "&park()"
    variables, targets = parse_dialstring(arguments[1])
    assert set(variables) == {"origination_uuid", "ignore_early_media", "originate_timeout",
                              "origination_caller_id_number", "origination_caller_id_name"}
    assert variables["origination_caller_id_number"] == "0612"
    assert variables["origination_caller_id_name"] == "x yza=bc/"
    assert targets == ["user/xyza=bc@xyza=bc"]
    assert commands.gateway_target(HOSTILE, HOSTILE) == "sofia/gateway/xyza=bc/xyza=bc"
    assert commands.registrations(HOSTILE) == "sofia xmlstatus profile xyza=bc reg"


@pytest.mark.parametrize(("number", "digits"), [
    ("+33 6 39-98.12 34", "+33639981234"),
    ("06,user/9999}x", "069999"),
    ("+33 6 99+99 99", "+336999999"),
    (" +41 22", "+4122"),
    ("anonymous", ""),
    ("+", ""),
    (None, ""),
])
def test_a_number_keeps_its_digits_and_a_leading_plus_only(number, digits) -> None:
    assert commands.digits(number) == digits


def test_play_and_get_digits_gets_one_try_and_its_arguments_in_order() -> None:
    arguments = commands.play_and_get_digits(
        "/prompts/menu.wav",
        "silence_stream://250",
        variable="fd_key_1",
        regex="^[12]$",
        timeout_ms=5000,
        min_digits=1,
        max_digits=1,
        inter_digit_ms=5000,
    )

    assert arguments == (
        "1 1 1 5000 # /prompts/menu.wav silence_stream://250 fd_key_1 ^[12]$ 5000"
    )
    with pytest.raises(ValueError):  # a prompt with a blank would shift every argument after it
        commands.play_and_get_digits("/prompts/my menu.wav", "silence_stream://250",
                                     variable="v", regex="^1$", timeout_ms=1, min_digits=1,
                                     max_digits=1, inter_digit_ms=1)


def test_record_gets_its_file_its_length_and_its_silence() -> None:
    assert commands.record("/msg/u-1.wav", 120, 200, 3) == "/msg/u-1.wav 120 200 3"


def test_a_reply_tells_success_or_its_cause() -> None:
    assert commands.succeeded("+OK 1f0e\n")
    assert not commands.succeeded("-ERR NO_ANSWER\n")
    assert commands.cause("-ERR NO_ANSWER\n") == "NO_ANSWER"
    assert commands.cause("-ERR\n") == "FAILED"


def test_a_bridge_to_an_outside_number_rings_its_time_showing_the_practice() -> None:
    dial = commands.bridge_dial(
        commands.gateway_target("trunk", "0612345678"), 25.0, caller_id("0199000001", "Cabinet")
    )

    assert dial == (
        "{originate_timeout=25,ignore_early_media=true,origination_caller_id_number=0199000001,"
        "origination_caller_id_name=Cabinet}sofia/gateway/trunk/0612345678"
    )
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
