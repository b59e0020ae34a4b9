"""Values turned into the words a caller hears, in the practice's language ("fr" or "en").

Announcements are synthesised from text, and a TTS reads "1er", "14h30" or "0639980001"
badly, so everything numeric is spelled out here: cardinals and ordinals, honest durations,
clock times, dates and phone numbers. Cardinals and ordinals come from `num2words` (maintained,
correct for French and English: "vingt et un", "quatre-vingt-onze", "soixante et onze");
what it lacks (feminine forms, times, dates, phone numbers spoken in pairs) is added here.
"""

from __future__ import annotations

from datetime import date, datetime, time

from num2words import num2words

LANGUAGES = ("fr", "en")

_FR_DAYS = ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche")
_FR_MONTHS = (
    "janvier", "février", "mars", "avril", "mai", "juin",
    "juillet", "août", "septembre", "octobre", "novembre", "décembre",
)  # fmt: skip
_EN_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_EN_MONTHS = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip
_EN_DIGITS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")


def _check(language: str) -> None:
    if language not in LANGUAGES:
        raise ValueError(f"unsupported language {language!r}: one of {', '.join(LANGUAGES)}")


def cardinal(number: int, language: str, *, feminine: bool = False) -> str:
    """`21` -> "vingt et un" ("vingt et une" when `feminine`, as in "vingt et une minutes")."""
    _check(language)
    words = num2words(number, lang=language)
    if feminine and language == "fr" and (words == "un" or words.endswith((" un", "-un"))):
        words += "e"
    return words


def ordinal(number: int, language: str, *, feminine: bool = False) -> str:
    """`1` -> "premier" ("première" when `feminine`) / "first"; `2` -> "deuxième" / "second"."""
    _check(language)
    if number == 1 and language == "fr" and feminine:
        return "première"
    return num2words(number, lang=language, to="ordinal")


def duration(seconds: float, language: str) -> str:
    """An estimated wait, rounded so it never sounds more precise than it is.

    Under a minute: "moins d'une minute" / "less than a minute"; then the nearest minute up
    to 10 minutes, the nearest 5 minutes up to an hour ("environ 25 minutes" / "about 25
    minutes"), "environ une heure" / "about an hour", and "plus d'une heure" / "more than an
    hour" beyond.
    """
    _check(language)
    if seconds < 60:
        return "moins d'une minute" if language == "fr" else "less than a minute"
    if seconds > 3600:
        return "plus d'une heure" if language == "fr" else "more than an hour"
    minutes = int(seconds / 60 + 0.5)
    if minutes > 10:
        minutes = 5 * int(minutes / 5 + 0.5)
    if minutes == 60:
        return "environ une heure" if language == "fr" else "about an hour"
    if language == "fr":
        unit = "minute" if minutes == 1 else "minutes"
        return f"environ {cardinal(minutes, 'fr', feminine=True)} {unit}"
    return "about one minute" if minutes == 1 else f"about {cardinal(minutes, 'en')} minutes"


def clock_time(moment: time, language: str) -> str:
    """`14:30` -> "quatorze heures trente" / "two thirty pm"; noon and midnight by name."""
    _check(language)
    hour, minute = moment.hour, moment.minute
    if language == "fr":
        if hour in (0, 12):
            words = "minuit" if hour == 0 else "midi"
        else:
            words = f"{cardinal(hour, 'fr', feminine=True)} {'heure' if hour == 1 else 'heures'}"
        return f"{words} {cardinal(minute, 'fr', feminine=True)}" if minute else words
    if minute == 0 and hour in (0, 12):
        return "midnight" if hour == 0 else "noon"
    suffix = "am" if hour < 12 else "pm"
    words = cardinal(hour % 12 or 12, "en")
    if minute:
        words += " oh " + _EN_DIGITS[minute] if minute < 10 else " " + cardinal(minute, "en")
    return f"{words} {suffix}"


def day(when: date, language: str) -> str:
    """`2025-03-03` -> "le lundi trois mars" / "Monday the third of March"."""
    _check(language)
    return f"le {_date(when, 'fr')}" if language == "fr" else _date(when, "en")


def _date(when: date, language: str) -> str:
    if language == "fr":
        number = ordinal(1, "fr") if when.day == 1 else cardinal(when.day, "fr")
        return f"{_FR_DAYS[when.weekday()]} {number} {_FR_MONTHS[when.month - 1]}"
    return (
        f"{_EN_DAYS[when.weekday()]} the {ordinal(when.day, 'en')} of {_EN_MONTHS[when.month - 1]}"
    )


def moment(when: datetime, language: str) -> str:
    """A day and a time, as the practice says them (local time of `when`): "mardi huit
    décembre à quatorze heures trente" / "Tuesday the eighth of December at two thirty pm"."""
    _check(language)
    at = "à" if language == "fr" else "at"
    return f"{_date(when.date(), language)} {at} {clock_time(when.time(), language)}"


_FR_TITLES = {"docteur": "le docteur", "dr": "le docteur", "docteure": "la docteure",
              "dre": "la docteure", "professeur": "le professeur", "pr": "le professeur"}
_EN_TITLES = {"doctor": "Doctor", "dr": "Doctor", "professor": "Professor"}


def practitioner(name: str, language: str) -> str:
    """A practitioner's name as said after "with" or "for": a French title takes its article
    ("Docteur Martin", "Dr Martin" -> "le docteur Martin"; "Docteure Durand" -> "la docteure
    Durand"), an English "Dr" is "Doctor"; any other name is said as written ("Sophie Leroy,
    sage-femme")."""
    _check(language)
    title, _, rest = name.strip().partition(" ")
    titles = _FR_TITLES if language == "fr" else _EN_TITLES
    spoken = titles.get(title.lower().rstrip("."))
    return f"{spoken} {rest}" if spoken and rest else name.strip()


def appointment(when: datetime, practitioner_name: str, language: str) -> str:
    """An appointment as the caller hears it: "mardi huit décembre à quatorze heures trente
    avec le docteur Martin" / "Tuesday the eighth of December at two thirty pm with Doctor
    Martin"."""
    with_ = "avec" if language == "fr" else "with"
    return f"{moment(when, language)} {with_} {practitioner(practitioner_name, language)}"


def phone_number(number: str, language: str) -> str:
    """A number as people say it: in French by pairs ("zéro six, trente-neuf, …"; short
    numbers whole: "quinze", "cent douze"; six digits by threes: "cent seize, cent dix-sept");
    in English digit by digit in groups ("zero six three, nine nine eight, …")."""
    _check(language)
    digits = number.lstrip("+")
    if not digits.isdigit():
        raise ValueError(f"not a phone number: {number!r}")
    lead = "plus " if number.startswith("+") else ""
    if language == "en":
        groups = [digits[i : i + 3] for i in range(0, len(digits), 3)]
        if len(groups) > 1 and len(groups[-1]) == 1:
            groups[-2:] = [groups[-2] + groups[-1]]
        spoken = [" ".join(_EN_DIGITS[int(d)] for d in group) for group in groups]
        return lead + ", ".join(spoken)
    if lead and digits.startswith("33") and len(digits) == 11:
        groups = ["33", digits[2]] + _pairs(digits[3:])
    elif len(digits) <= 3:
        groups = [digits]
    elif len(digits) == 6:
        groups = [digits[:3], digits[3:]]
    else:
        groups = _pairs(digits)
    return lead + ", ".join(_french_group(group) for group in groups)


def _pairs(digits: str) -> list[str]:
    start = len(digits) % 2
    return ([digits[0]] if start else []) + [
        digits[i : i + 2] for i in range(start, len(digits), 2)
    ]


def _french_group(group: str) -> str:
    """ "06" -> "zéro six", "00" -> "zéro zéro", "39" -> "trente-neuf"."""
    zeros = len(group) - len(group.lstrip("0"))
    rest = group[zeros:]
    return " ".join(["zéro"] * zeros + ([cardinal(int(rest), "fr")] if rest else []))
