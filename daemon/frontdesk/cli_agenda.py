"""`frontdesk agenda …`: the practice's directory and its agenda, by hand.

The directory (practitioners, hours, types, absences, patients) is the database, whatever the
adapter. `day`, `book` and `cancel` go through the configured agenda (`open_agenda`), the one
the phone books into, with the daemon's checks: the built-in agenda checks and writes a booking
in the same write-locked transaction as the daemon's, the CalDAV one writes it so the server
refuses a second booking of the slot; so the desk and a caller cannot both get the same time.
Works whether the daemon runs or not. Dates and times are the practice's local time ([practice]
timezone). Exit 0 when done, 1 when refused (a slot taken, something unknown, bad rows in a
file, an agenda that cannot be reached or is not kept by frontdesk), 2 when the command line
itself is wrong.
"""

from __future__ import annotations

import argparse
import csv
import getpass
import re
import sys
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import gevent

from frontdesk.agenda import (
    WEEKDAYS,
    Absence,
    Agenda,
    AgendaError,
    AppointmentType,
    OtherEvent,
    Patient,
    Practitioner,
    PractitionerAbsent,
    Slot,
    SlotTaken,
    open_agenda,
    within,
)
from frontdesk.cli import _load_or_report, _titled_table
from frontdesk.config.model import Config
from frontdesk.store import Store, StoreError


class Refused(Exception):
    """The command cannot be done (exit 1); the message says why."""


class Misused(Exception):
    """The command line is wrong (exit 2); the message says how."""


@dataclass(frozen=True)
class Desk:
    """What every action gets: the open database, the practice's time zone and its config."""

    store: Store
    zone: ZoneInfo
    config: Config

    def agenda(self) -> Agenda:
        """The configured agenda. `Refused` where frontdesk keeps none."""
        agenda = open_agenda(self.config, self.store)
        if agenda is not None:
            return agenda
        if self.config.agenda is None:
            raise Refused("frontdesk keeps no agenda for this practice (no [agenda] section "
                          "in the config)")
        raise Refused("this practice's agenda is not kept by frontdesk ([agenda] adapter = "
                      "\"handoff\"): the callers' booking requests are in 'frontdesk messages'")

    def reading(self) -> gevent.Timeout:
        """The agenda's read bound ([agenda] timeout), as on the phone."""
        assert self.config.agenda is not None  # there is an agenda to read
        return within(self.config.agenda.timeout)


def add_agenda_parser(commands: argparse._SubParsersAction, default_config: Path) -> None:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", type=Path, default=default_config, help="config file")
    agenda = commands.add_parser(
        "agenda",
        help="the practitioners, their hours, appointment types, absences, patients, and the "
        "agenda's appointments",
        description="Manage the practice's directory (frontdesk's database, used by every "
        "[agenda] adapter), and list, book or cancel in the configured agenda (built-in or "
        "CalDAV: the one the phone books into) by hand. With or without the daemon running. "
        "Dates are YYYY-MM-DD, times HH:MM, local time.",
    )
    actions = agenda.add_subparsers(dest="agenda_action", required=True, metavar="ACTION")

    practitioner = actions.add_parser(
        "practitioner", help="add, list or remove a practitioner",
        description="A practitioner's ID is short (letters, digits, - and _): 'martin'. "
        "Removing one keeps their appointments; adding the ID again brings them back.")
    what = practitioner.add_subparsers(dest="what", required=True, metavar="add|list|remove")
    add = what.add_parser("add", parents=[common], help="add a practitioner (or rename one)")
    add.add_argument("id", metavar="ID")
    add.add_argument("name", metavar="NAME", help='as callers hear it: "Docteur Martin"')
    add.add_argument("--calendar", help="CalDAV adapter: the practitioner's calendar")
    add.set_defaults(act=_practitioner_add)
    listing = what.add_parser("list", parents=[common],
                              help="the practitioners with their weekly hours")
    listing.set_defaults(act=_practitioner_list)
    remove = what.add_parser("remove", parents=[common], help="nobody books them any more")
    remove.add_argument("id", metavar="ID")
    remove.set_defaults(act=_practitioner_remove)

    hours = actions.add_parser(
        "hours", parents=[common], help="set a practitioner's consultation hours on one weekday",
        description="Replace the practitioner's hours on that weekday: 'hours martin monday "
        "08:30-12:00 14:00-18:00'. No range: they do not consult that day.")
    hours.add_argument("id", metavar="ID")
    hours.add_argument("day", metavar="DAY", help="monday … sunday")
    hours.add_argument("ranges", nargs="*", metavar="HH:MM-HH:MM")
    hours.set_defaults(act=_hours)

    kind = actions.add_parser("type", help="add or list appointment types",
                              description="An appointment type and its length in minutes.")
    what = kind.add_subparsers(dest="what", required=True, metavar="add|list")
    add = what.add_parser("add", parents=[common], help="add an appointment type (or change it)")
    add.add_argument("name", metavar="NAME", help="consultation, long, …")
    add.add_argument("minutes", type=int, metavar="MINUTES")
    add.add_argument("--label", default="", help="as the staff read it")
    add.set_defaults(act=_type_add)
    listing = what.add_parser("list", parents=[common], help="the appointment types")
    listing.set_defaults(act=_type_list)

    absence = actions.add_parser(
        "absence", help="a practitioner's absence: no slot is offered then",
        description="'absence add martin 2026-12-24 2026-12-31' (whole days, both included) "
        "or with times: '2026-12-07T14:00 2026-12-07T18:00'. Appointments already booked "
        "then are kept: 'day' shows them.")
    what = absence.add_subparsers(dest="what", required=True, metavar="add")
    add = what.add_parser("add", parents=[common], help="add an absence")
    add.add_argument("id", metavar="ID")
    add.add_argument("start", metavar="FROM", help="YYYY-MM-DD or YYYY-MM-DDTHH:MM")
    add.add_argument("end", metavar="TO", help="YYYY-MM-DD (included) or YYYY-MM-DDTHH:MM")
    add.add_argument("--reason", default="")
    add.set_defaults(act=_absence_add)

    day = actions.add_parser("day", parents=[common], help="a day's appointments",
                             description="Every appointment of the day in the agenda, all "
                             "practitioners, with the patient's name and number and its REF "
                             "(for cancel); CalDAV: also the events another agenda wrote, as "
                             "'busy (another agenda)'.")
    day.add_argument("date", nargs="?", metavar="DATE", help="YYYY-MM-DD (default: today)")
    day.set_defaults(act=_day)

    book = actions.add_parser("book", parents=[common], help="book an appointment by hand",
                              description="Book even outside the consultation hours; refused "
                              "when it overlaps another appointment, another agenda's event "
                              "(CalDAV) or an absence.")
    book.add_argument("id", metavar="ID", help="the practitioner")
    book.add_argument("date", metavar="DATE")
    book.add_argument("time", metavar="HH:MM")
    book.add_argument("type", metavar="TYPE")
    book.add_argument("--patient", required=True, metavar="PHONE|ID",
                      help="the patient's number (when only one patient has it) or ID")
    book.set_defaults(act=_book)

    cancel = actions.add_parser("cancel", parents=[common], help="cancel an appointment",
                                description="Its slot is free at once.")
    cancel.add_argument("ref", metavar="REF",
                        help="the appointment's REF as 'day' shows it (built-in: a number; "
                        "CalDAV: frontdesk-<practitioner>-<start>#<token>)")
    cancel.set_defaults(act=_cancel)

    patients = actions.add_parser(
        "patients", help="import patients from a CSV file",
        description="The file's first line names the columns: name, phone and optionally "
        "birth_date (YYYY-MM-DD or DD/MM/YYYY); comma or semicolon separated, UTF-8. Phones "
        "as dialled from the practice (0612345678; blanks, dots and dashes are dropped). A "
        "patient already known (same name, phone and birth date) is not added again. A "
        "file with a bad row imports nothing and names each bad line.")
    what = patients.add_subparsers(dest="what", required=True, metavar="import")
    imported = what.add_parser("import", parents=[common], help="import a CSV file")
    imported.add_argument("file", type=Path, metavar="FILE.csv")
    imported.set_defaults(act=_patients_import)

    patient = actions.add_parser("patient", help="add one patient")
    what = patient.add_subparsers(dest="what", required=True, metavar="add")
    add = what.add_parser("add", parents=[common], help="add one patient")
    add.add_argument("name", metavar="NAME")
    add.add_argument("phone", metavar="PHONE")
    add.add_argument("--born", metavar="DATE", help="date of birth")
    add.set_defaults(act=_patient_add)

    agenda.set_defaults(handler=cmd_agenda)


def cmd_agenda(args: argparse.Namespace) -> int:
    config = _load_or_report(args.config)
    if config is None:
        return 1
    try:
        with Store(config.storage.database) as store:
            args.act(Desk(store, ZoneInfo(config.practice.timezone), config), args)
    except Misused as error:
        print(f"frontdesk agenda: {error}", file=sys.stderr)
        return 2
    except (Refused, AgendaError, StoreError, ValueError) as error:
        print(f"frontdesk agenda: {error}", file=sys.stderr)
        return 1
    return 0


# --- the actions ----------------------------------------------------------------------------


def _practitioner_add(desk: Desk, args: argparse.Namespace) -> None:
    desk.store.add_practitioner(Practitioner(args.id, args.name.strip(), args.calendar))
    print(f"{args.id}: {args.name.strip()}")


def _practitioner_list(desk: Desk, args: argparse.Namespace) -> None:
    rows: list[tuple[str, ...]] = [
        (p.id, p.name, p.calendar or "-", _week(desk.store, p.id))
        for p in desk.store.practitioners()
    ]
    print(_titled_table("Practitioners", ("id", "name", "calendar", "hours"), rows))


def _week(store: Store, practitioner: str) -> str:
    days: dict[int, list[str]] = {}
    for hours in store.consultation_hours(practitioner):
        days.setdefault(hours.weekday, []).append(f"{hours.start:%H:%M}-{hours.end:%H:%M}")
    return "; ".join(f"{WEEKDAYS[day][:3]} {' '.join(ranges)}" for day, ranges in days.items()
                     ) or "none"


def _practitioner_remove(desk: Desk, args: argparse.Namespace) -> None:
    if not desk.store.remove_practitioner(args.id):
        raise Refused(f"no practitioner {args.id!r}")
    print(f"{args.id}: removed (their appointments are kept)")


def _hours(desk: Desk, args: argparse.Namespace) -> None:
    weekday = _weekday(args.day)
    ranges = [_range(text) for text in args.ranges]
    desk.store.set_hours(args.id, weekday, ranges)
    shown = " ".join(args.ranges) or "no consultation"
    print(f"{args.id}: {WEEKDAYS[weekday]} {shown}")


def _type_add(desk: Desk, args: argparse.Namespace) -> None:
    desk.store.add_appointment_type(AppointmentType(args.name, args.minutes, args.label))
    print(f"{args.name}: {args.minutes} min")


def _type_list(desk: Desk, args: argparse.Namespace) -> None:
    rows: list[tuple[str, ...]] = [
        (t.name, str(t.minutes), t.label) for t in desk.store.appointment_types()
    ]
    print(_titled_table("Appointment types", ("name", "minutes", "label"), rows))


def _absence_add(desk: Desk, args: argparse.Namespace) -> None:
    start = _moment(args.start, desk.zone, end_of_day=False)
    end = _moment(args.end, desk.zone, end_of_day=True)
    desk.store.add_absence(Absence(args.id, start, end, args.reason))
    print(f"{args.id}: absent from {start:%a %d/%m/%Y %H:%M} to {end:%a %d/%m/%Y %H:%M}")
    agenda = open_agenda(desk.config, desk.store)
    if agenda is None:  # the hand-off adapter: the appointments are not frontdesk's to list
        return
    with desk.reading():  # from a day before: an appointment begun then may run into it
        booked = agenda.between(start - timedelta(days=1), end)
    kept = [a for a in booked if a.practitioner == args.id and a.end > start]
    print(_titled_table(
        "Appointments booked then (kept: call these patients, then cancel them)",
        ("when", "type", "patient", "phone", "ref"),
        [(f"{a.start.astimezone(desk.zone):%a %d/%m %H:%M}", a.kind, a.patient_name or "-",
          a.phone or "-", a.id) for a in kept],
    ))


def _day(desk: Desk, args: argparse.Namespace) -> None:
    day = _date(args.date) if args.date else datetime.now(desk.zone).date()
    start = datetime.combine(day, time(), desk.zone)
    end = datetime.combine(day + timedelta(days=1), time(), desk.zone)
    agenda = desk.agenda()
    with desk.reading():
        appointments = agenda.between(start, end)
        others = agenda.other_events(start, end)
    rows: list[tuple[datetime, tuple[str, ...]]] = [
        (a.start, (f"{a.start.astimezone(desk.zone):%H:%M}", a.practitioner, a.kind,
                   a.patient_name or "-", a.phone or "-", a.id,
                   "confirmed" if a.state == "confirmed" else ""))
        for a in appointments
    ]
    rows += [(max(e.start, start), _other_event(e, start, end, desk.zone)) for e in others]
    print(_titled_table(f"{day:%A %d/%m/%Y}",
                        ("time", "practitioner", "type", "patient", "phone", "ref", ""),
                        [row for _, row in sorted(rows, key=lambda r: (r[0], r[1][1]))]))


def _other_event(
    event: OtherEvent, start: datetime, end: datetime, zone: ZoneInfo
) -> tuple[str, ...]:
    """A row of `day` for a time another agenda made busy: when (within the day), never
    what."""
    until = event.end.astimezone(zone)
    shown = f"{until:%H:%M}" if event.end <= end else f"{until:%a %d/%m %H:%M}"
    return (f"{max(event.start, start).astimezone(zone):%H:%M}", event.practitioner,
            f"busy (another agenda) until {shown}", "-", "-", "-", "")


def _book(desk: Desk, args: argparse.Namespace) -> None:
    agenda = desk.agenda()
    if args.id not in {p.id for p in desk.store.practitioners()}:
        raise Refused(f"no practitioner {args.id!r} (see 'frontdesk agenda practitioner list')")
    minutes = {t.name: t.minutes for t in desk.store.appointment_types()}
    if args.type not in minutes:
        raise Refused(f"no appointment type {args.type!r} (see 'frontdesk agenda type list')")
    patient = _patient(desk.store, args.patient)
    start = datetime.combine(_date(args.date), _clock(args.time), desk.zone)
    slot = Slot(args.id, start, start + timedelta(minutes=minutes[args.type]), args.type)
    try:
        booked = agenda.book(slot, patient, by=_by())
    except PractitionerAbsent:
        raise Refused(f"{args.id} is absent at that time") from None
    except SlotTaken:  # the adapter's reason names its internals (CalDAV: an event's URL)
        raise Refused(f"{args.id} is booked at that time") from None
    print(f"booked: REF {booked.id}, {booked.start.astimezone(desk.zone):%a %d/%m/%Y %H:%M}, "
          f"{booked.practitioner}, {booked.kind}, {patient.name}")


def _cancel(desk: Desk, args: argparse.Namespace) -> None:
    agenda = desk.agenda()
    with desk.reading():
        appointment = agenda.appointment(args.ref)
    agenda.cancel(appointment, by=_by())
    when = appointment.start.astimezone(desk.zone)
    print(f"REF {args.ref}: cancelled ({when:%a %d/%m/%Y %H:%M}, {appointment.practitioner}, "
          f"{appointment.patient_name or '-'})")


def _patients_import(desk: Desk, args: argparse.Namespace) -> None:
    entries, problems = _read_patients(args.file)
    if problems:
        raise Refused("nothing imported:\n" + "\n".join(problems))
    added = desk.store.add_patients(entries)
    new = sum(created for _, created in added)
    print(f"{args.file}: {new} patient(s) added, {len(added) - new} already known")


def _patient_add(desk: Desk, args: argparse.Namespace) -> None:
    born = _date(args.born) if args.born else None
    ((patient, created),) = desk.store.add_patients([(args.name.strip(), _phone(args.phone),
                                                      born)])
    print(f"patient {patient.id}: {patient.name}, {patient.phone}"
          f"{'' if created else ' (already known)'}")


# --- reading what the staff type -----------------------------------------------------------

CLOCK = re.compile(r"(\d{1,2}):(\d{2})")
SEPARATORS = re.compile(r"[\s.\-/()]")


def _weekday(text: str) -> int:
    matches = [i for i, name in enumerate(WEEKDAYS) if len(text) >= 3
               and name.startswith(text.lower())]
    if len(matches) != 1:
        raise Misused(f"{text!r} is not a weekday (monday … sunday)")
    return matches[0]


def _clock(text: str) -> time:
    match = CLOCK.fullmatch(text)
    if match is None or int(match[1]) > 23 or int(match[2]) > 59:
        raise Misused(f"{text!r} is not a time of day (HH:MM)")
    return time(int(match[1]), int(match[2]))


def _range(text: str) -> tuple[time, time]:
    start, dash, end = text.partition("-")
    if not dash:
        raise Misused(f"{text!r} is not a range of hours (HH:MM-HH:MM)")
    return _clock(start), _clock(end)


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise Misused(f"{text!r} is not a date (YYYY-MM-DD)") from None


def _moment(text: str, zone: ZoneInfo, *, end_of_day: bool) -> datetime:
    """A local date-time; a date alone is that day's start (its end, for `end_of_day`)."""
    day, _, clock = text.replace(" ", "T").partition("T")
    if clock:
        return datetime.combine(_date(day), _clock(clock), zone)
    start = datetime.combine(_date(day), time(), zone)
    return datetime.combine(_date(day) + timedelta(days=1), time(), zone) if end_of_day else start


def _phone(text: str) -> str:
    phone = SEPARATORS.sub("", text)
    if not phone.isdigit():
        raise Refused(f"phone {text!r}: write it as dialled from the practice (0612345678)")
    return phone


def _birth_date(text: str) -> date | None:
    text = text.strip()
    if not text:
        return None
    try:
        if "/" in text:
            day, month, year = (int(part) for part in text.split("/"))
            return date(year, month, day)
        return date.fromisoformat(text)
    except ValueError:
        raise Refused(f"birth date {text!r}: YYYY-MM-DD or DD/MM/YYYY") from None


def _patient(store: Store, ref: str) -> Patient:
    """The patient of a phone number (when it is theirs alone) or of an ID."""
    phone = SEPARATORS.sub("", ref)
    found = store.patients_by_phone(phone) if phone.isdigit() else []
    if len(found) == 1:
        return found[0]
    if found:
        names = ", ".join(f"{p.id} {p.name}" for p in found)
        raise Refused(f"several patients have {phone}: give the ID ({names})")
    patient = store.get_patient(int(ref)) if ref.isdigit() else None
    if patient is None:
        raise Refused(f"no patient with number or ID {ref!r} ('patient add' adds one)")
    return patient


def _read_patients(path: Path) -> tuple[list[tuple[str, str, date | None]], list[str]]:
    """The file's patients, and a `FILE:LINE: problem` for each row that is not one."""
    try:
        with path.open(encoding="utf-8-sig", newline="") as lines:
            dialect = _dialect(lines.readline())
            lines.seek(0)
            reader = csv.DictReader(lines, dialect=dialect)
            header = [name.strip().lower() for name in reader.fieldnames or ()]
            missing = {"name", "phone"} - set(header)
            if missing:
                return [], [f"{path}:1: no column {', '.join(sorted(missing))} (the first line "
                            "names the columns: name, phone, birth_date)"]
            reader.fieldnames = header
            return _rows(path, reader)
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise Refused(f"{path}: cannot be read: {error}") from error


def _dialect(header: str) -> type[csv.Dialect]:
    """Comma, semicolon (spreadsheets set to French) or tab, as the first line has it."""
    try:
        return csv.Sniffer().sniff(header, delimiters=",;\t")
    except csv.Error:  # a single column
        return csv.excel


def _rows(
    path: Path, reader: csv.DictReader[str]
) -> tuple[list[tuple[str, str, date | None]], list[str]]:
    entries: list[tuple[str, str, date | None]] = []
    problems: list[str] = []
    for row in reader:
        try:
            name = (row.get("name") or "").strip()
            if not name:
                raise Refused("no name")
            entries.append((name, _phone(row.get("phone") or ""),
                            _birth_date(row.get("birth_date") or "")))
        except Refused as error:
            problems.append(f"{path}:{reader.line_num}: {error}")
    return entries, problems


def _by() -> str:
    return f"cli:{getpass.getuser()}"
