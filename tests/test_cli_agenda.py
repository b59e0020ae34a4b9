"""`frontdesk agenda`, as the technician sets the practice up and the desk books by hand."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

import gevent
import pytest

from frontdesk.agenda import Agenda, Slot, SlotTaken, open_agenda
from frontdesk.cli import main
from frontdesk.config import load_config
from frontdesk.store import Store
from helpers import set_in_section, wait_for
from radicale_rig import USERNAME, Radicale

PARIS = ZoneInfo("Europe/Paris")


@pytest.fixture
def config(practice_dir: Path) -> str:
    return str(practice_dir / "frontdesk.toml")


def agenda(config: str, *args: str) -> int:
    return main(["agenda", *args, "--config", config])


def set_up(config: str) -> None:
    assert agenda(config, "practitioner", "add", "martin", "Docteur Martin") == 0
    assert agenda(config, "hours", "martin", "monday", "08:30-12:00", "14:00-18:00") == 0
    assert agenda(config, "hours", "martin", "tue", "09:00-12:00") == 0
    assert agenda(config, "type", "add", "consultation", "30", "--label", "Consultation") == 0
    assert agenda(config, "patient", "add", "Marie Dupont", "06 12 34 56 78",
                  "--born", "1970-05-01") == 0


def test_the_technician_sets_up_the_directory_and_the_desk_books_and_cancels(
    config: str, capsys: pytest.CaptureFixture[str]
) -> None:
    set_up(config)
    out = capsys.readouterr().out
    assert "martin: monday 08:30-12:00 14:00-18:00" in out
    assert "patient 1: Marie Dupont, 0612345678" in out

    assert agenda(config, "practitioner", "list") == 0
    assert "mon 08:30-12:00 14:00-18:00; tue 09:00-12:00" in capsys.readouterr().out

    assert agenda(config, "book", "martin", "2026-12-07", "09:00", "consultation",
                  "--patient", "0612345678") == 0
    assert "booked: REF 1, Mon 07/12/2026 09:00, martin, consultation, Marie Dupont" in (
        capsys.readouterr().out)

    assert agenda(config, "book", "martin", "2026-12-07", "09:15", "consultation",
                  "--patient", "1") == 1
    assert "martin is booked at that time" in capsys.readouterr().err

    assert agenda(config, "day", "2026-12-07") == 0
    day = capsys.readouterr().out.splitlines()
    assert day[0] == "Monday 07/12/2026:"
    assert day[2].split() == ["09:00", "martin", "consultation", "Marie", "Dupont",
                              "0612345678", "1"]

    assert agenda(config, "cancel", "1") == 0
    assert agenda(config, "day", "2026-12-07") == 0
    assert capsys.readouterr().out.splitlines()[-1] == "Monday 07/12/2026: none"
    assert agenda(config, "cancel", "1") == 1
    assert "no appointment 1" in capsys.readouterr().err


def test_an_absence_given_as_whole_days_shows_what_was_booked_and_keeps_the_desk_from_booking(
    config: str, capsys: pytest.CaptureFixture[str]
) -> None:
    set_up(config)
    assert agenda(config, "book", "martin", "2026-12-24", "08:30", "consultation",
                  "--patient", "1") == 0
    capsys.readouterr()
    assert agenda(config, "absence", "add", "martin", "2026-12-24", "2026-12-25",
                  "--reason", "holidays") == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "martin: absent from Thu 24/12/2026 00:00 to Sat 26/12/2026 00:00"
    assert out[1].startswith("Appointments booked then (kept: call these patients")
    assert out[3].split() == ["Thu", "24/12", "08:30", "consultation", "Marie", "Dupont",
                              "0612345678", "1"]
    assert agenda(config, "book", "martin", "2026-12-25", "17:30", "consultation",
                  "--patient", "1") == 1
    assert "martin is absent at that time" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (("hours", "martin", "someday", "08:00-12:00"), 2, "'someday' is not a weekday"),
        (("hours", "martin", "monday", "8h-12h"), 2, "'8h' is not a time of day"),
        (("hours", "martin", "monday", "12:00-08:00"), 1, "ends before it starts"),
        (("hours", "nobody", "monday", "08:00-12:00"), 1, "no practitioner 'nobody'"),
        (("book", "martin", "07/12/2026", "09:00", "consultation", "--patient", "1"), 2,
         "'07/12/2026' is not a date"),
        (("book", "martin", "2026-12-07", "09:00", "vaccine", "--patient", "1"), 1,
         "no appointment type 'vaccine'"),
        (("book", "martin", "2026-12-07", "09:00", "consultation", "--patient", "0699999999"),
         1, "no patient with number or ID '0699999999'"),
        (("practitioner", "add", "dr martin", "Docteur Martin"), 1, "letters, digits"),
        (("practitioner", "remove", "nobody"), 1, "no practitioner 'nobody'"),
        (("patient", "add", "Jean Petit", "+33 6 12 34 56 78"), 1, "as dialled from the practice"),
    ],
)
def test_a_mistake_is_refused_with_a_clear_message(
    config: str, capsys: pytest.CaptureFixture[str], args: tuple[str, ...], code: int,
    message: str,
) -> None:
    set_up(config)
    capsys.readouterr()
    assert agenda(config, *args) == code
    assert message in capsys.readouterr().err


def test_a_number_shared_by_a_family_asks_for_the_patient_s_id(
    config: str, capsys: pytest.CaptureFixture[str]
) -> None:
    set_up(config)
    assert agenda(config, "patient", "add", "Léa Dupont", "0612345678") == 0
    capsys.readouterr()
    assert agenda(config, "book", "martin", "2026-12-07", "09:00", "consultation",
                  "--patient", "06.12.34.56.78") == 1
    assert "give the ID (1 Marie Dupont, 2 Léa Dupont)" in capsys.readouterr().err
    assert agenda(config, "book", "martin", "2026-12-07", "09:00", "consultation",
                  "--patient", "2") == 0


# --- importing patients ----------------------------------------------------------------------


def test_a_csv_with_a_bad_row_names_its_line_and_imports_nothing(
    config: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    export = tmp_path / "patients.csv"
    export.write_text(
        "\ufeffName;Phone;Birth_date\n"
        "Marie Dupont;06 12 34 56 78;01/05/1970\n"
        'Paul "Polo" Martin;0698765432;\n'
        "Jean Petit;06-11-22;31/02/1980\n"
        ";0600000000;1990-01-01\n",
        encoding="utf-8",
    )

    assert agenda(config, "patients", "import", str(export)) == 1
    err = capsys.readouterr().err
    assert f"{export}:4: birth date '31/02/1980'" in err
    assert f"{export}:5: no name" in err
    with Store(load_config(config).storage.database) as store:
        assert store.patients_by_phone("0612345678") == []

    lines = export.read_text(encoding="utf-8").splitlines()
    export.write_text("\n".join([*lines[:3], "Jean Petit;06-11-22;28/02/1980"]) + "\n",
                      encoding="utf-8")
    assert agenda(config, "patients", "import", str(export)) == 0
    assert "3 patient(s) added, 0 already known" in capsys.readouterr().out
    assert agenda(config, "patients", "import", str(export)) == 0
    assert "0 patient(s) added, 3 already known" in capsys.readouterr().out
    with Store(load_config(config).storage.database) as store:
        (marie,) = store.patients_by_phone("0612345678")
        assert (marie.name, marie.birth_date) == ("Marie Dupont", date(1970, 5, 1))
        assert store.patients_by_phone("061122")[0].name == "Jean Petit"


def test_a_csv_without_the_needed_columns_says_which_are_missing(
    config: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    export = tmp_path / "patients.csv"
    export.write_text("nom,telephone\nMarie Dupont,0612345678\n", encoding="utf-8")
    assert agenda(config, "patients", "import", str(export)) == 1
    assert f"{export}:1: no column name, phone" in capsys.readouterr().err


# --- the desk and the daemon at the same moment ---------------------------------------------


def test_the_desk_s_command_and_the_daemon_booking_the_same_slot_only_one_gets_it(
    config: str, practice_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Two processes: `frontdesk agenda book` and this one's store. A third connection holds
    the database's write lock until both are on their way (the command has the database open,
    the store's worker is busy), so they meet at the lock."""
    set_up(config)
    database = load_config(config).storage.database
    start = datetime.combine(date(2026, 12, 7), time(9, 0), PARIS)
    with Store(database) as store:
        ((other, _),) = store.add_patients([("Paul Martin", "0698765432", None)])
        holder = sqlite3.connect(database, isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        desk = subprocess.Popen(
            [sys.executable, "-m", "frontdesk.cli", "agenda", "book", "martin", "2026-12-07",
             "09:00", "consultation", "--patient", "0612345678", "--config", config],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        try:
            assert wait_for(lambda: desk.poll() is not None or _has_open(desk.pid, database),
                            timeout=30)
            daemon = gevent.spawn(
                store.book_appointment, "martin", start, start.replace(minute=30),
                "consultation", other.id, by="phone", at=datetime.now(UTC),
            )
            assert wait_for(store.working)  # its transaction waits for the lock too
        finally:
            holder.rollback()
            holder.close()
        out, err = desk.communicate(timeout=60)
        daemon.join()

        if desk.returncode == 0:
            assert isinstance(daemon.exception, SlotTaken)
        else:
            assert (desk.returncode, daemon.exception) == (1, None), err
            assert "martin is booked at that time" in err
        day = store.appointments_between(start, start.replace(hour=23))
        assert len(day) == 1


def _has_open(pid: int, path: Path) -> bool:
    """The process `pid` has the file open (Linux's /proc)."""
    target = os.path.realpath(path)
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            if os.readlink(fd) == target:
                return True
        except FileNotFoundError:  # closed meanwhile
            continue
    return False


# --- the agenda the phone books into ----------------------------------------------------------


def configure_agenda(config: str, **settings: str) -> None:
    path = Path(config)
    path.write_text(set_in_section(path.read_text(), "agenda", settings))


def test_with_the_hand_off_adapter_the_desk_is_told_where_the_requests_are(
    config: str, capsys: pytest.CaptureFixture[str]
) -> None:
    set_up(config)
    configure_agenda(config, adapter="handoff")
    capsys.readouterr()
    for args in (("day", "2026-12-07"), ("cancel", "1"),
                 ("book", "martin", "2026-12-07", "09:00", "consultation", "--patient", "1")):
        assert agenda(config, *args) == 1
        assert "not kept by frontdesk" in capsys.readouterr().err
    assert agenda(config, "practitioner", "list") == 0  # the directory serves every adapter
    assert "Docteur Martin" in capsys.readouterr().out


def test_a_ref_that_is_no_appointment_is_refused(
    config: str, capsys: pytest.CaptureFixture[str]
) -> None:
    set_up(config)
    capsys.readouterr()
    assert agenda(config, "cancel", "frontdesk-martin-20261207T080000Z#0badcafe") == 1
    assert "no appointment 'frontdesk-martin-20261207T080000Z#0badcafe'" in (
        capsys.readouterr().err)


MONDAY = date(2027, 3, 1)
NINE = datetime.combine(MONDAY, time(9), PARIS)


@pytest.fixture(scope="module")
def radicale(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Radicale]:
    with Radicale(tmp_path_factory.mktemp("radicale")) as server:
        yield server


def set_up_caldav(config: str, server: Radicale) -> str:
    """The practice on `server`: Docteur Martin's calendar made there; its URL."""
    configure_agenda(config, adapter="caldav", caldav_url=server.url,
                     caldav_username=USERNAME, caldav_password_file=str(server.password_file))
    set_up(config)
    calendar = f"{uuid.uuid4().hex[:8]}-martin"
    assert agenda(config, "practitioner", "add", "martin", "Docteur Martin",
                  "--calendar", calendar) == 0
    return server.make_calendar(calendar)


def caldav_agenda(config: str, store: Store) -> Agenda:
    opened = open_agenda(load_config(config), store)
    assert opened is not None and opened.name == "caldav"
    return opened


def another_agenda_writes(server: Radicale, url: str, start: str, end: str, summary: str) -> None:
    """An event (local times, YYYYMMDDTHHMMSS) written to the calendar at `url` by another
    agenda."""
    server.client().calendar(url=url).add_event("\r\n".join([
        "BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//another agenda//EN", "BEGIN:VEVENT",
        f"UID:other-{uuid.uuid4()}", "DTSTAMP:20270101T000000Z",
        f"DTSTART;TZID=Europe/Paris:{start}", f"DTEND;TZID=Europe/Paris:{end}",
        f"SUMMARY:{summary}", "END:VEVENT", "END:VCALENDAR", "",
    ]))


def test_day_lists_the_calendar_and_other_busy_times_and_an_absence_the_patients_booked(
    config: str, radicale: Radicale, capsys: pytest.CaptureFixture[str]
) -> None:
    url = set_up_caldav(config, radicale)
    with Store(load_config(config).storage.database) as store:
        calendar = caldav_agenda(config, store)
        (marie,) = store.patients_by_phone("0612345678")
        booked = calendar.book(Slot("martin", NINE, NINE.replace(minute=30), "consultation"),
                               marie, by="phone")
    another_agenda_writes(radicale, url, "20270301T140000", "20270301T150000",
                          "Jean Petit, private")
    another_agenda_writes(radicale, url, "20270301T180000", "20270302T080000", "On call")
    capsys.readouterr()

    assert agenda(config, "day", "2027-03-01") == 0
    day = capsys.readouterr().out.splitlines()
    assert day[0] == "Monday 01/03/2027:"
    assert day[2].split() == ["09:00", "martin", "consultation", "Marie", "Dupont",
                              "0612345678", booked.id]
    assert day[3].split() == ["14:00", "martin", "busy", "(another", "agenda)", "until",
                              "15:00", "-", "-", "-"]
    assert day[4].split() == ["18:00", "martin", "busy", "(another", "agenda)", "until",
                              "Tue", "02/03", "08:00", "-", "-", "-"]
    assert "Jean Petit" not in "\n".join(day)
    assert agenda(config, "day", "2027-03-02") == 0
    assert capsys.readouterr().out.splitlines()[2].split() == [
        "00:00", "martin", "busy", "(another", "agenda)", "until", "08:00", "-", "-", "-"]

    assert agenda(config, "absence", "add", "martin", "2027-03-01", "2027-03-01") == 0
    out = capsys.readouterr().out.splitlines()
    assert out[1].startswith("Appointments booked then (kept: call these patients")
    assert out[3].split() == ["Mon", "01/03", "09:00", "consultation", "Marie", "Dupont",
                              "0612345678", booked.id]


def test_the_desk_books_into_the_calendar_and_cancels_by_the_ref_day_shows(
    config: str, radicale: Radicale, capsys: pytest.CaptureFixture[str]
) -> None:
    set_up_caldav(config, radicale)
    capsys.readouterr()
    book = ("book", "martin", "2027-03-01", "09:00", "consultation", "--patient", "0612345678")

    assert agenda(config, *book) == 0
    out = capsys.readouterr().out
    assert "Mon 01/03/2027 09:00, martin, consultation, Marie Dupont" in out
    with Store(load_config(config).storage.database) as store:
        (written,) = caldav_agenda(config, store).between(NINE, NINE.replace(hour=23))
    assert (written.start, written.patient_name) == (NINE, "Marie Dupont")
    assert written.booked_by.startswith("cli:")
    assert f"REF {written.id}," in out

    assert agenda(config, *book) == 1
    assert "martin is booked at that time" in capsys.readouterr().err
    assert agenda(config, "absence", "add", "martin", "2027-03-01T10:00", "2027-03-01T11:00") == 0
    assert agenda(config, "book", "martin", "2027-03-01", "10:30", "consultation",
                  "--patient", "1") == 1
    assert "martin is absent at that time" in capsys.readouterr().err

    assert agenda(config, "cancel", written.id) == 0
    assert f"REF {written.id}: cancelled (Mon 01/03/2027 09:00, martin, Marie Dupont)" in (
        capsys.readouterr().out)
    with Store(load_config(config).storage.database) as store:
        calendar = caldav_agenda(config, store)
        assert calendar.between(NINE, NINE.replace(hour=23)) == []
        assert calendar.free_slots("consultation", "martin", NINE, 1)[0].start == NINE
    for ref in (written.id, "1", "frontdesk-nobody-20270301T080000Z#0badcafe"):
        assert agenda(config, "cancel", ref) == 1
        assert f"no appointment {ref} (or it was cancelled)" in capsys.readouterr().err


def test_a_stopped_caldav_server_is_a_clear_error_and_nothing_is_written(
    config: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with Radicale(tmp_path / "radicale") as server:
        set_up_caldav(config, server)
        assert agenda(config, "book", "martin", "2027-03-01", "09:00", "consultation",
                      "--patient", "1") == 0
        ref = capsys.readouterr().out.split("REF ")[1].split(",")[0]
        server.stop()

        for args in (("day", "2027-03-01"), ("cancel", ref),
                     ("book", "martin", "2027-03-01", "10:00", "consultation", "--patient", "1")):
            assert agenda(config, *args) == 1
            err = capsys.readouterr().err
            assert err.startswith("frontdesk agenda: CalDAV agenda, ") and err.count("\n") == 1
            assert "connection failed" in err and "Connection refused" in err
