"""Reminder calls the day before an appointment (frontdesk.agenda.reminders): the real daemon
against the simulator on the rig's virtual clock, with a seeded built-in agenda. The patient's
phone is an outside number of the simulator; the call is handed to the daemon's outbound
socket as FreeSWITCH does for ``originate … '&socket(…)'``."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import structlog.testing

from frontdesk.agenda import AgendaUnavailable, Appointment, AppointmentType, Practitioner
from frontdesk.agenda.reminders import ReminderDesk, spoken_appointment
from frontdesk.cli import main
from frontdesk.config import ConfigError, load_config
from frontdesk.rehearse import Rig
from frontdesk.sim import CallerScript
from frontdesk.store import Store
from helpers import set_in_section

PARIS = ZoneInfo("Europe/Paris")
MONDAY = datetime(2026, 12, 7, 9, 55, tzinfo=PARIS)
"""A Monday before the window (10:00-12:00); the appointments are on Tuesday 8 December."""
PATIENT = "0611223344"


def reminders_config(practice_dir: Path, **settings: object):
    path = practice_dir / "frontdesk.toml"
    path.write_text(set_in_section(path.read_text(), "reminders", {"enabled": True, **settings}))
    return load_config(path)


@pytest.fixture
def make_rig(practice_dir: Path, tmp_path: Path) -> Iterator:
    rigs: list[Rig] = []

    def make(**settings: object) -> Rig:
        rig = Rig(reminders_config(practice_dir, **settings), tmp_path)
        rig.moment = MONDAY
        seed_directory(rig.daemon.store)
        rigs.append(rig)
        return rig

    yield make
    for rig in rigs:
        rig.close()


def seed_directory(store: Store) -> None:
    store.add_practitioner(Practitioner("martin", "Docteur Martin"))
    store.add_appointment_type(AppointmentType("consultation", 20))


def book(rig: Rig, number: str, hour: int, minute: int = 0, name: str = "Jeanne Petit"):
    """A booked appointment for a new patient with `number`, Tuesday 8 December."""
    store = rig.daemon.store
    [(patient, _)] = store.add_patients([(name, number, None)])
    start = datetime(2026, 12, 8, hour, minute, tzinfo=PARIS)
    return store.book_appointment("martin", start, start + timedelta(minutes=20),
                                  "consultation", patient.id, by="cli:test", at=MONDAY)


def reminder_of(rig: Rig, appointment) -> object:
    [reminder] = [r for r in rig.daemon.store.reminders("2026-12-07")
                  if r.appointment_id == appointment.id]
    return reminder


def ended(rig: Rig, appointment) -> bool:
    reminders = [r for r in rig.daemon.store.reminders("2026-12-07")
                 if r.appointment_id == appointment.id]
    return bool(reminders) and reminders[0].state not in ("pending", "calling")


def test_the_reminder_is_placed_in_the_window_and_1_confirms_the_appointment(make_rig):
    rig = make_rig()
    patient = rig.sim.add_outside(PATIENT, answer_after=3, script=CallerScript(keys=["1"]))
    appointment = book(rig, PATIENT, 14, 30)

    assert not rig.wait_for(lambda: patient.shown, timeout=4 * 60)  # 09:59: before the window
    assert rig.wait_for(lambda: patient.shown, timeout=2 * 60)
    placed = rig.daemon.clock.wall().astimezone(PARIS)
    assert (placed.hour, placed.minute) == (10, 0)
    assert rig.wait_for(lambda: ended(rig, appointment), timeout=120)

    assert rig.daemon.store.get_appointment(int(appointment.id)).state == "confirmed"
    reminder = reminder_of(rig, appointment)
    assert (reminder.state, reminder.answer, reminder.attempts) == ("confirmed", "1", 1)
    assert patient.shown == [("0199000001", "Cabinet médical des Tilleuls")]
    [call] = patient.conversations
    texts = rig.daemon.announcer.texts
    heard = [texts.get(Path(prompt), prompt) for prompt in call.prompts_heard]
    assert heard[0] == (
        "Bonjour, ici Cabinet médical des Tilleuls, nous vous rappelons votre rendez-vous "
        "demain mardi huit décembre à quatorze heures trente avec le docteur Martin. Pour le "
        "confirmer tapez 1, pour l'annuler tapez 2."
    )
    assert heard[-1] == "Merci, votre rendez-vous est confirmé. Au revoir."


def test_2_then_1_cancels_the_appointment_and_its_slot_is_free_at_once(make_rig):
    rig = make_rig()
    patient = rig.sim.add_outside(PATIENT, script=CallerScript(keys=["2", "1"]))
    appointment = book(rig, PATIENT, 14, 30)

    assert rig.wait_for(lambda: ended(rig, appointment), timeout=10 * 60, every=1.0)

    reminder = reminder_of(rig, appointment)
    assert (reminder.state, reminder.answer) == ("cancelled", "2,1")
    assert rig.daemon.store.get_appointment(int(appointment.id)).state == "cancelled"
    assert rig.daemon.store.booked_times("martin", appointment.start, appointment.end) == []
    assert len(patient.conversations) == 1


def test_2_then_2_keeps_the_appointment(make_rig):
    rig = make_rig()
    rig.sim.add_outside(PATIENT, script=CallerScript(keys=["2", "2"]))
    appointment = book(rig, PATIENT, 14, 30)

    assert rig.wait_for(lambda: ended(rig, appointment), timeout=10 * 60, every=1.0)

    reminder = reminder_of(rig, appointment)
    assert (reminder.state, reminder.answer) == ("answered", "2,2")
    assert rig.daemon.store.get_appointment(int(appointment.id)).state == "booked"


def test_no_answer_is_tried_again_later_then_given_up(make_rig):
    rig = make_rig(retries=1, retry_minutes=15, ring_seconds=20)
    patient = rig.sim.add_outside(PATIENT, answer_after=None)
    appointment = book(rig, PATIENT, 14, 30)

    assert rig.wait_for(lambda: len(patient.shown) == 1, timeout=10 * 60, every=1.0)
    first = rig.daemon.clock.wall()
    assert rig.wait_for(lambda: len(patient.shown) == 2, timeout=30 * 60, every=1.0)
    assert rig.daemon.clock.wall() - first >= timedelta(minutes=15)
    assert rig.wait_for(lambda: ended(rig, appointment), timeout=120)
    assert not rig.wait_for(lambda: len(patient.shown) > 2, timeout=60 * 60, every=1.0)

    reminder = reminder_of(rig, appointment)
    assert (reminder.state, reminder.attempts, reminder.last_result) == (
        "no_answer", 2, "NO_ANSWER"
    )


def test_no_more_than_max_calls_at_once(make_rig):
    rig = make_rig(max_calls=2)
    numbers = [f"06112233{n:02d}" for n in range(5)]
    patients = [rig.sim.add_outside(number, answer_after=5, script=CallerScript(keys=["1"]))
                for number in numbers]
    appointments = [book(rig, number, 9 + n, name=f"Patient {n}")
                    for n, number in enumerate(numbers)]
    busiest = 0

    def all_ended() -> bool:
        nonlocal busiest
        busiest = max(busiest, sum(patient.state != "idle" for patient in patients))
        return all(ended(rig, appointment) for appointment in appointments)

    assert rig.wait_for(all_ended, timeout=30 * 60, every=1.0)
    assert busiest == 2
    assert all(len(patient.shown) == 1 for patient in patients)
    assert {reminder_of(rig, a).state for a in appointments} == {"confirmed"}


def test_a_restart_never_calls_the_same_appointment_twice(make_rig):
    rig = make_rig()
    confirming = rig.sim.add_outside(PATIENT, script=CallerScript(keys=["1"]))
    listening = rig.sim.add_outside("0622334455", script=CallerScript(keys=["", "", ""]))
    confirmed = book(rig, PATIENT, 9, 30)
    cut = book(rig, "0622334455", 14, 30, name="Louis Martin")
    assert rig.wait_for(lambda: ended(rig, confirmed) and listening.conversations,
                        timeout=10 * 60, every=1.0)

    rig.restart_daemon()  # while the second patient is listening to their reminder

    assert not rig.wait_for(lambda: len(confirming.shown) + len(listening.shown) > 2,
                            timeout=60 * 60, every=1.0)
    assert reminder_of(rig, confirmed).state == "confirmed"
    assert (reminder_of(rig, cut).state, reminder_of(rig, cut).last_result) == (
        "failed", "interrupted"
    )


def test_the_runs_reminded_days_skip_to_the_next_calling_day(practice_dir):
    desk = ReminderDesk(_Daemon(reminders_config(practice_dir)))
    friday, saturday = date(2026, 12, 11), date(2026, 12, 12)
    assert desk.reminded_days(friday) == [saturday]
    assert desk.reminded_days(saturday) == [date(2026, 12, 13), date(2026, 12, 14)]
    assert not desk.calling_day(date(2026, 12, 13))  # Sunday
    assert not desk.calling_day(date(2026, 12, 25))  # Christmas: a public holiday
    assert desk.calling_day(date(2026, 12, 24))


class _Daemon:
    def __init__(self, config) -> None:
        from frontdesk.schedule import Schedule

        self.config = config
        self.schedule = Schedule(config.schedule, config.practice)


def test_frontdesk_reminders_lists_the_run_from_the_database(practice_dir, capsys):
    config = reminders_config(practice_dir)
    at = datetime(2026, 12, 7, 10, 0, tzinfo=PARIS)
    with Store(config.storage.database) as store:
        for appointment, hour, number, name in (("7", 9, "0611223344", "Jeanne Petit"),
                                                ("8", 14, "0622334455", "Louis Martin")):
            store.reminder_planned(appointment, run_date="2026-12-07",
                                   starts_at=datetime(2026, 12, 8, hour, 30, tzinfo=PARIS),
                                   practitioner="Docteur Martin", patient_name=name,
                                   number=number, at=at)
        first, second = store.due_reminders("2026-12-07", at)
        store.reminder_calling(first.id, at=at)
        store.reminder_ended(first.id, state="confirmed", result="confirmed", at=at,
                             answer="1")
        store.reminder_calling(second.id, at=at)
        store.reminder_ended(second.id, state="pending", result="NO_ANSWER", at=at,
                             next_attempt_at=at + timedelta(minutes=30))
        store.flush(5)

    args = ["reminders", "--config", str(practice_dir / "frontdesk.toml"), "--date", "2026-12-07"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "Mon 07/12/2026" in out
    assert "Tue 08/12 09:30  Docteur Martin  Jeanne Petit  0611223344  1         confirmed" in out
    assert "Louis Martin  0622334455  1         pending, next at 10:30" in out

    assert main([*args, "--masked"]) == 0
    out = capsys.readouterr().out
    assert "Jeanne" not in out and "0611223344" not in out
    assert "06******44" in out


def test_an_appointment_gets_one_reminder_ever_and_is_called_once_at_most(tmp_path):
    at = datetime(2026, 12, 7, 10, 0, tzinfo=PARIS)
    with Store(tmp_path / "frontdesk.db") as store:
        for run in ("2026-12-07", "2026-12-07", "2026-12-08"):  # planned again, next day too
            store.reminder_planned("42", run_date=run, starts_at=at + timedelta(days=2),
                                   practitioner="Docteur Martin", patient_name="Jeanne Petit",
                                   number=PATIENT, at=at)
        [reminder] = store.due_reminders("2026-12-07", at)
        assert store.due_reminders("2026-12-08", at) == []
        assert store.reminder_calling(reminder.id, at=at)
        assert not store.reminder_calling(reminder.id, at=at)  # a second placing: refused
        store.reminders_cut(at)  # the next start: the call was cut
        store.reminders_over("2026-12-08", at)
        [after] = store.reminders("2026-12-07")
    assert (after.state, after.last_result, after.attempts) == ("failed", "interrupted", 1)


def test_pending_reminders_of_a_past_run_are_closed(tmp_path):
    at = datetime(2026, 12, 7, 19, 0, tzinfo=PARIS)
    with Store(tmp_path / "frontdesk.db") as store:
        for appointment in ("1", "2"):
            store.reminder_planned(appointment, run_date="2026-12-07",
                                   starts_at=at + timedelta(days=1), practitioner="Docteur Martin",
                                   patient_name="Jeanne Petit", number=PATIENT, at=at)
        first, _ = store.due_reminders("2026-12-07", at)
        store.reminder_calling(first.id, at=at)
        store.reminder_ended(first.id, state="pending", result="NO_ANSWER", at=at,
                             next_attempt_at=at + timedelta(minutes=30))
        store.reminders_over("2026-12-08", at + timedelta(hours=15))
        states = [(r.state, r.last_result) for r in store.reminders("2026-12-07")]
    assert states == [("no_answer", "NO_ANSWER"), ("failed", "outside the window")]


@pytest.mark.parametrize(("edit", "message"), [
    (lambda text: text.replace('adapter = "builtin"', 'adapter = "handoff"'),
     "reminders.enabled: reminder calls need an agenda that can be read"),
    (lambda text: text.replace("\n[agenda]\n", "\n[unused_agenda]\n"),
     "reminders.enabled: reminder calls need an [agenda] section"),
    (lambda text: set_in_section(text, "reminders", {"window": []}),
     "reminders.window: must not be empty"),
    (lambda text: set_in_section(text, "reminders", {"days": ["sunday", "funday"]}),
     "reminders.days[1]: must be one of"),
    (lambda text: set_in_section(text, "reminders", {"max_calls": 11}),
     "reminders.max_calls: must be between 1 and 10, not 11"),
])
def test_a_reminders_section_that_cannot_work_is_refused_naming_its_key(
    practice_dir, edit, message
):

    path = practice_dir / "frontdesk.toml"
    path.write_text(edit(set_in_section(path.read_text(), "reminders", {"enabled": True})))
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert any(message in error for error in caught.value.errors), caught.value.errors


def test_an_appointment_further_than_tomorrow_is_said_with_its_day():
    friday = date(2026, 12, 11)
    monday = Appointment("1", "martin", datetime(2026, 12, 14, 9, 0, tzinfo=PARIS),
                         datetime(2026, 12, 14, 9, 20, tzinfo=PARIS), "consultation", 1)
    assert spoken_appointment(monday, "Docteur Martin", friday, PARIS, "fr") == (
        "du lundi quatorze décembre à neuf heures avec le docteur Martin"
    )
    assert spoken_appointment(monday, "Docteur Martin", date(2026, 12, 12), PARIS, "fr") == (
        "après-demain lundi quatorze décembre à neuf heures avec le docteur Martin"
    )
    assert spoken_appointment(monday, "Dr Martin", date(2026, 12, 13), PARIS, "en") == (
        "tomorrow Monday the fourteenth of December at nine am with Doctor Martin"
    )


class _Unreachable:
    """An agenda that cannot be read (a CalDAV server down)."""

    def __init__(self, agenda) -> None:
        self.directory = agenda.directory

    def between(self, start, end):
        raise AgendaUnavailable("connection refused")


def test_an_unreachable_agenda_places_no_call_and_is_logged_once(make_rig):
    rig = make_rig()
    patient = rig.sim.add_outside(PATIENT, script=CallerScript(keys=["1"]))
    appointment = book(rig, PATIENT, 14, 30)
    agenda = rig.daemon.agenda
    with structlog.testing.capture_logs() as logs:
        rig.daemon.agenda = _Unreachable(agenda)
        assert not rig.wait_for(lambda: patient.shown, timeout=15 * 60, every=1.0)
        rig.daemon.agenda = agenda
        assert rig.wait_for(lambda: ended(rig, appointment), timeout=5 * 60)

    events = [entry["event"] for entry in logs if entry["event"].startswith("agenda.")]
    assert events == ["agenda.unavailable", "agenda.recovered"]
    assert reminder_of(rig, appointment).state == "confirmed"
