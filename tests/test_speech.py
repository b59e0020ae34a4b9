"""Numbers, durations, times, dates and phone numbers as a caller must hear them."""

from __future__ import annotations

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from frontdesk.speech import (
    appointment,
    cardinal,
    clock_time,
    day,
    duration,
    moment,
    ordinal,
    phone_number,
)


@pytest.mark.parametrize(
    ("number", "french", "english"),
    [
        (1, "un", "one"),
        (17, "dix-sept", "seventeen"),
        (21, "vingt et un", "twenty-one"),
        (71, "soixante et onze", "seventy-one"),
        (80, "quatre-vingts", "eighty"),
        (81, "quatre-vingt-un", "eighty-one"),
        (91, "quatre-vingt-onze", "ninety-one"),
        (200, "deux cents", "two hundred"),
    ],
)
def test_cardinals_are_spelled_as_natives_say_them(number: int, french: str, english: str):
    assert cardinal(number, "fr") == french
    assert cardinal(number, "en") == english


def test_french_cardinals_agree_with_a_feminine_noun():
    assert cardinal(1, "fr", feminine=True) == "une"
    assert cardinal(21, "fr", feminine=True) == "vingt et une"
    assert cardinal(81, "fr", feminine=True) == "quatre-vingt-une"
    assert cardinal(11, "fr", feminine=True) == "onze"


@pytest.mark.parametrize(
    ("number", "french", "english"),
    [(1, "premier", "first"), (2, "deuxième", "second"), (3, "troisième", "third"),
     (21, "vingt et unième", "twenty-first")],
)  # fmt: skip
def test_ordinals_give_a_queue_position(number: int, french: str, english: str):
    assert ordinal(number, "fr") == french
    assert ordinal(number, "en") == english


def test_the_first_in_french_agrees_with_a_feminine_noun():
    assert ordinal(1, "fr", feminine=True) == "première"
    assert ordinal(2, "fr", feminine=True) == "deuxième"


@pytest.mark.parametrize(
    ("seconds", "french", "english"),
    [
        (0, "moins d'une minute", "less than a minute"),
        (59, "moins d'une minute", "less than a minute"),
        (60, "environ une minute", "about one minute"),
        (170, "environ trois minutes", "about three minutes"),
        (21 * 60, "environ vingt minutes", "about twenty minutes"),
        (23 * 60, "environ vingt-cinq minutes", "about twenty-five minutes"),
        (57 * 60, "environ cinquante-cinq minutes", "about fifty-five minutes"),
        (58 * 60, "environ une heure", "about an hour"),
        (3601, "plus d'une heure", "more than an hour"),
        (3 * 3600, "plus d'une heure", "more than an hour"),
    ],
)
def test_waits_are_rounded_honestly(seconds: float, french: str, english: str):
    assert duration(seconds, "fr") == french
    assert duration(seconds, "en") == english


@pytest.mark.parametrize(
    ("moment", "french", "english"),
    [
        (time(14, 30), "quatorze heures trente", "two thirty pm"),
        (time(12, 0), "midi", "noon"),
        (time(12, 15), "midi quinze", "twelve fifteen pm"),
        (time(0, 0), "minuit", "midnight"),
        (time(1, 0), "une heure", "one am"),
        (time(21, 1), "vingt et une heures une", "nine oh one pm"),
        (time(8, 45), "huit heures quarante-cinq", "eight forty-five am"),
    ],
)
def test_clock_times(moment: time, french: str, english: str):
    assert clock_time(moment, "fr") == french
    assert clock_time(moment, "en") == english


def test_dates_name_the_weekday_and_month():
    assert day(date(2025, 3, 3), "fr") == "le lundi trois mars"
    assert day(date(2025, 3, 3), "en") == "Monday the third of March"
    assert day(date(2026, 8, 1), "fr") == "le samedi premier août"
    assert day(date(2026, 12, 21), "en") == "Monday the twenty-first of December"


def test_french_phone_numbers_are_spoken_in_pairs():
    assert phone_number("0639980001", "fr") == (
        "zéro six, trente-neuf, quatre-vingt-dix-huit, zéro zéro, zéro un"
    )
    assert phone_number("+33639980001", "fr") == (
        "plus trente-trois, six, trente-neuf, quatre-vingt-dix-huit, zéro zéro, zéro un"
    )


def test_short_numbers_are_said_whole_in_french_and_by_digits_in_english():
    assert phone_number("15", "fr") == "quinze"
    assert phone_number("112", "fr") == "cent douze"
    assert phone_number("116117", "fr") == "cent seize, cent dix-sept"
    assert phone_number("112", "en") == "one one two"
    assert phone_number("0639980001", "en") == (
        "zero six three, nine nine eight, zero zero zero one"
    )


def test_an_unknown_language_or_a_non_number_is_refused():
    with pytest.raises(ValueError, match="language"):
        cardinal(3, "de")
    with pytest.raises(ValueError, match="phone number"):
        phone_number("06 39", "fr")


PARIS = ZoneInfo("Europe/Paris")


def test_an_appointment_is_said_with_its_day_date_time_and_practitioner():
    start = datetime(2026, 12, 8, 14, 30, tzinfo=PARIS)
    assert appointment(start, "Docteur Martin", "fr") == (
        "mardi huit décembre à quatorze heures trente avec le docteur Martin"
    )
    assert appointment(start, "Dr Martin", "en") == (
        "Tuesday the eighth of December at two thirty pm with Doctor Martin"
    )


def test_a_french_doctor_title_takes_its_article():
    start = datetime(2026, 12, 8, 9, 0, tzinfo=PARIS)
    assert appointment(start, "Docteure Durand", "fr").endswith("avec la docteure Durand")
    assert appointment(start, "Dr. Martin", "fr").endswith("avec le docteur Martin")


def test_a_practitioner_without_a_doctor_title_is_said_as_written():
    start = datetime(2026, 12, 1, 9, 0, tzinfo=PARIS)
    assert appointment(start, "Sophie Leroy, sage-femme", "fr") == (
        "mardi premier décembre à neuf heures avec Sophie Leroy, sage-femme"
    )


def test_a_moment_is_said_in_the_local_time_it_carries():
    assert moment(datetime(2026, 3, 2, 12, 0, tzinfo=PARIS), "fr") == "lundi deux mars à midi"
    assert moment(datetime(2026, 3, 2, 8, 5, tzinfo=PARIS), "en") == (
        "Monday the second of March at eight oh five am"
    )


def test_an_appointment_is_said_with_its_day_date_and_time():
    when = datetime(2026, 12, 8, 14, 30)
    assert moment(when, "fr") == "mardi huit décembre à quatorze heures trente"
    assert moment(when, "en") == "Tuesday the eighth of December at two thirty pm"
    assert moment(datetime(2027, 3, 1, 9, 0), "fr") == "lundi premier mars à neuf heures"
