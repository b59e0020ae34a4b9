"""The front-desk queue seen from FreeSWITCH: the real daemon against the simulator, with
simulated staff phones. Time runs a hundred times faster (time_scale 0.01): the tests assert
orders and states, never tight timings, and wait on conditions, never on sleeps."""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import structlog

from frontdesk.config import load_config
from frontdesk.rehearse import Rig
from frontdesk.sim import CallerScript, SimCall
from helpers import set_in_section

TUESDAY_MORNING = datetime(2026, 12, 1, 10, 0, tzinfo=ZoneInfo("Europe/Paris"))
SCALE = 0.01
DESK = ("1001", "1002", "1003")
DOCTORS = ("1011", "1012", "1013")
TO_THE_DESK = ("0",)
"""Keys that take a caller to the desk node (the operator key)."""
LONG_ANNOUNCEMENT = "silence_stream://3000000"
"""50 simulated minutes of announcement: a phone answering during it must not wait for it."""



def make_rig(
    practice_dir: Path,
    tmp_path: Path,
    *,
    queue: dict | None = None,
    desk_ring_timeout: int | None = None,
) -> Rig:
    """A Rig on the example practice with `queue` settings added to its [queue] section (and
    the desk node's ring timeout)."""
    path = practice_dir / "frontdesk.toml"
    text = path.read_text()
    text = set_in_section(text, "queue", (queue or {}))
    text = text.replace(
        "\n[flow]\n",
        f'\n[prompts.long_announcement]\nfile = "{LONG_ANNOUNCEMENT}"\ntext = "Patientez."\n'
        "\n[flow]\n",
        1,
    )
    if desk_ring_timeout is not None:
        text = text.replace("ring_timeout = 25\nthen", f"ring_timeout = {desk_ring_timeout}\nthen")
    path.write_text(text)
    return Rig(load_config(path), tmp_path)


@pytest.fixture
def no_speech(monkeypatch, tmp_path: Path) -> None:
    """A box without espeak-ng and sox: spoken announcements cannot be rendered, the static
    prompts of [queue] are played instead."""
    monkeypatch.setenv("PATH", str(tmp_path / "no-tools"))


@pytest.fixture
def rigs(practice_dir: Path, tmp_path: Path) -> Iterator:
    """`rigs(**options)` -> a started Rig (see make_rig), closed after the test."""
    started: list[Rig] = []

    def start(**options) -> Rig:
        rig = make_rig(practice_dir, tmp_path, **options)
        started.append(rig)
        for phone in rig.sim.phones.values():
            phone.talk_seconds = 600  # the callers' scripts decide when calls end
        assert rig.daemon.control.wait_connected(5)
        assert rig.wait_for(lambda: rig.daemon.queue.board.phones["1001"].registered)
        return rig

    yield start
    for rig in started:
        rig.close()


def only_registered(rig: Rig, *extensions: str) -> None:
    """Unregister every other staff phone (FreeSWITCH sends sofia::unregister)."""
    for ext in (*DESK, *DOCTORS):
        if ext not in extensions:
            rig.sim.set_registered(ext, False)
    board = rig.daemon.queue.board
    assert rig.wait_for(
        lambda: all(phone.registered == (ext in extensions) for ext, phone in board.phones.items())
    )


def staff(rig: Rig, ext: str) -> str:
    return rig.daemon.queue.board.phones[ext].state


def queue_events(rig: Rig, call: SimCall, until: str | None = None) -> list[dict]:
    """The call's stored queue events (once `until` has been written, the writes being
    asynchronous)."""
    store = rig.daemon.store
    if until is not None:
        assert rig.wait_for(lambda: until in [e["event"] for e in store.queue_events(call.uuid)])
    return store.queue_events(call.uuid)


def steps(events: list[dict]) -> list[tuple[str, str | None]]:
    """(event, extension) of each event but the announcements."""
    return [(e["event"], e["extension"]) for e in events if e["event"] != "announced"]


def waiting(rig: Rig, call: SimCall) -> bool:
    entry = rig.daemon.queue.waiting.get(call.uuid)
    return entry is not None and entry.state == "waiting"


def staff_states(rig: Rig, ext: str) -> list[str]:
    """Every state the phone went through, as stored."""
    with sqlite3.connect(rig.daemon.config.storage.database) as db:
        rows = db.execute(
            "SELECT state FROM staff_states WHERE extension = ? ORDER BY id", (ext,)
        ).fetchall()
    return [row[0] for row in rows]


def no_phone_stuck(rig: Rig) -> bool:
    board = rig.daemon.queue.board
    return all(not p.offers and p.state != "ringing" for p in board.phones.values()) and all(
        p.state == "idle" for p in rig.sim.phones.values()
    )


# -- dispatch ---------------------------------------------------------------------------


def test_longest_idle_dispatch_gives_each_phone_its_turn_the_longest_idle_first(rigs):
    rig = rigs(queue={"wrapup_seconds": 0})

    answered_by = []
    for _ in range(6):
        _, result = rig.call(CallerScript(keys=TO_THE_DESK, talk_seconds=3), at=TUESDAY_MORNING)
        assert result.outcome == "answered"
        answered_by.append(result.answered_by)
        assert rig.wait_for(lambda: staff(rig, answered_by[-1]) == "idle")

    assert answered_by == ["1001", "1002", "1003", "1001", "1002", "1003"]


def test_a_phone_that_does_not_answer_is_skipped_and_the_caller_keeps_their_place(rigs):
    # The longest ring and skip, and a long call on 1002: the second caller reaches the queue
    # while 1001 still rings for the first, and the first still waits when the third calls,
    # however slow the machine (simulated time is scaled real time until issue #10).
    rig = rigs(
        queue={"wrapup_seconds": 0, "skip_seconds": 3600, "max_wait": 1800},
        desk_ring_timeout=120,
    )
    only_registered(rig, "1001", "1002")
    rig.sim.phones["1001"].answer_after = None  # rings out
    first = rig.place(CallerScript(keys=TO_THE_DESK, talk_seconds=5), at=TUESDAY_MORNING)
    assert rig.wait_for(lambda: staff(rig, "1001") == "ringing")
    busy = rig.place(CallerScript(keys=TO_THE_DESK, talk_seconds=300), at=TUESDAY_MORNING)
    assert rig.wait_for(lambda: staff(rig, "1002") == "on_call")
    assert rig.wait_for(lambda: staff(rig, "1001") == "skipped")  # rang out for the first caller
    later = rig.place(CallerScript(keys=TO_THE_DESK, talk_seconds=5), at=TUESDAY_MORNING)
    assert rig.wait_for(lambda: waiting(rig, later))

    queue = rig.daemon.queue
    assert waiting(rig, first)
    positions = [queue.position(queue.waiting[call.uuid]) for call in (first, later)]
    assert positions == [1, 2]
    assert rig.result(first).answered_by == "1002"
    assert rig.result(later).answered_by == "1002"
    assert rig.result(busy).answered_by == "1002"
    assert steps(queue_events(rig, first))[:5] == [
        ("entered", None),
        ("offered", "1001"),
        ("not_answered", "1001"),
        ("offered", "1002"),
        ("answered", "1002"),
    ]
    assert [e["detail"] for e in queue_events(rig, first) if e["event"] == "not_answered"] == [
        "NO_ANSWER"
    ]
    first_answer = queue_events(rig, first, "answered")[-1]
    later_answer = queue_events(rig, later, "answered")[-1]
    assert first_answer["id"] < later_answer["id"]  # served in the order they called
    assert "1001" not in [e["extension"] for e in queue_events(rig, later)]  # still skipped


def test_wrap_up_holds_a_phone_back_after_a_call(rigs):
    rig = rigs(queue={"wrapup_seconds": 60})
    only_registered(rig, "1001")
    first = rig.place(CallerScript(keys=TO_THE_DESK, talk_seconds=40), at=TUESDAY_MORNING)
    assert rig.wait_for(lambda: staff(rig, "1001") == "on_call")
    second = rig.place(CallerScript(keys=TO_THE_DESK, talk_seconds=5), at=TUESDAY_MORNING)
    assert rig.wait_for(lambda: waiting(rig, second))

    assert rig.wait_for(lambda: staff(rig, "1001") == "wrapup")
    assert waiting(rig, second) and not rig.daemon.queue.waiting[second.uuid].offers
    assert rig.result(first).answered_by == "1001"
    assert rig.result(second).answered_by == "1001"

    states = staff_states(rig, "1001")
    wrapup = states.index("wrapup")
    assert states[wrapup : wrapup + 3] == ["wrapup", "idle", "ringing"]
    answered = queue_events(rig, second, "answered")[-1]
    assert answered["wait"] >= 60  # the rest of the first call, then the whole wrap-up


def test_an_emergency_caller_arriving_after_others_is_connected_first(rigs):
    rig = rigs(queue={"wrapup_seconds": 0})
    only_registered(rig, "1001")
    talking = rig.place(CallerScript(keys=TO_THE_DESK, talk_seconds=40), at=TUESDAY_MORNING)
    assert rig.wait_for(lambda: staff(rig, "1001") == "on_call")
    patient = rig.place(CallerScript(keys=TO_THE_DESK, talk_seconds=5), at=TUESDAY_MORNING)
    assert rig.wait_for(lambda: waiting(rig, patient))
    emergency = rig.place(CallerScript(barge="1", talk_seconds=5), at=TUESDAY_MORNING)
    assert rig.wait_for(lambda: waiting(rig, emergency))

    queue = rig.daemon.queue
    assert queue.position(queue.waiting[emergency.uuid]) == 1
    assert rig.result(emergency).outcome == "emergency_answered"
    assert rig.result(patient).outcome == "answered"
    assert rig.result(talking).outcome == "answered"
    assert (
        queue_events(rig, emergency, "answered")[-1]["id"]
        < queue_events(rig, patient, "answered")[-1]["id"]
    )
    assert queue_events(rig, emergency)[0]["detail"] == "emergency"


# -- callers leaving ----------------------------------------------------------------------


def test_a_caller_who_hangs_up_while_waiting_is_recorded_as_abandoned_with_their_wait(rigs):
    rig = rigs(queue={"skip_seconds": 600, "call_back_missed": False})
    only_registered(rig, "1001")
    rig.sim.phones["1001"].answer_after = None

    call, result = rig.call(CallerScript(keys=TO_THE_DESK, patience=70), at=TUESDAY_MORNING)

    assert result.outcome == "abandoned"
    row = rig.daemon.store.get_call(call.uuid)
    assert row["outcome"] == "abandoned"
    events = queue_events(rig, call, "abandoned")
    assert steps(events) == [
        ("entered", None),
        ("offered", "1001"),
        ("not_answered", "1001"),
        ("abandoned", None),
    ]
    wait = events[-1]["wait"]
    assert 25 < wait < 70  # rang out (25 s), then waited until the caller's patience ran out


def test_a_caller_who_hangs_up_while_a_phone_rings_stops_the_ringing_at_once(rigs):
    rig = rigs(desk_ring_timeout=120, queue={"call_back_missed": False})  # no ringing again
    only_registered(rig, "1001")
    rig.sim.phones["1001"].answer_after = None

    call = rig.place(CallerScript(keys=TO_THE_DESK, patience=30), at=TUESDAY_MORNING)
    assert rig.wait_for(lambda: rig.sim.phones["1001"].state == "ringing")
    assert call.wait_done(5)

    # 120 simulated seconds of ringing are 1.2 s here: the phone must stop well before
    assert rig.wait_for(lambda: rig.sim.phones["1001"].state == "idle", timeout=50)
    assert rig.wait_for(lambda: staff(rig, "1001") == "idle", timeout=50)  # not skipped
    events = queue_events(rig, call, "not_answered")
    assert [(e["event"], e["detail"]) for e in events if e["event"] == "not_answered"] == [
        ("not_answered", "cancelled")
    ]


@pytest.mark.parametrize("failure", ["no_answer", "not_registered", "caller_gone"])
def test_no_staff_phone_stays_ringing_after_its_call_is_gone(rigs, failure):
    rig = rigs(queue={"skip_seconds": 600, "call_back_missed": False})  # no ringing again
    only_registered(rig, "1001", "1002")
    phone = rig.sim.phones["1001"]
    if failure == "not_registered":
        phone.registered = False  # FreeSWITCH lost it without telling: originate fails
    else:
        phone.answer_after = None
    patience = 20 if failure == "caller_gone" else None

    call = rig.place(CallerScript(keys=TO_THE_DESK, patience=patience, talk_seconds=3),
                     at=TUESDAY_MORNING)
    result = rig.result(call)

    assert rig.wait_for(lambda: no_phone_stuck(rig))
    if failure == "caller_gone":
        assert result.outcome == "abandoned"
        assert staff(rig, "1001") == "idle"
    else:
        assert result.answered_by == "1002"  # the next phone was tried
        cause = "NO_ANSWER" if failure == "no_answer" else "USER_NOT_REGISTERED"
        not_answered = [e for e in queue_events(rig, call) if e["event"] == "not_answered"]
        assert [(e["extension"], e["detail"]) for e in not_answered] == [("1001", cause)]
        assert staff(rig, "1001") == "skipped"


# -- announcements ------------------------------------------------------------------------


def test_a_phone_answered_during_an_announcement_is_connected_at_once(rigs, no_speech):
    rig = rigs(queue={"announce_prompt": "long_announcement", "announce_every": 600},
               desk_ring_timeout=120)
    only_registered(rig, "1001")
    rig.sim.phones["1001"].answer_after = 50

    call = rig.place(CallerScript(keys=TO_THE_DESK, talk_seconds=5), at=TUESDAY_MORNING)

    # the announcement lasts 3000 simulated seconds (30 s here); the phone answers after 50
    assert rig.wait_for(lambda: call.bridged_to is not None, timeout=500)
    assert LONG_ANNOUNCEMENT in call.prompts_heard
    assert rig.result(call).answered_by == "1001"
    events = queue_events(rig, call, "completed")
    assert [e["event"] for e in events if e["event"] != "announced"] == [
        "entered", "offered", "answered", "completed"
    ]
    assert next(e for e in events if e["event"] == "answered")["wait"] < 100


# -- configuration and restarts -----------------------------------------------------------


def test_a_config_reload_neither_drops_nor_duplicates_staff_or_waiting_callers(
    rigs, practice_dir
):
    rig = rigs(queue={"wrapup_seconds": 0})
    only_registered(rig, "1001")
    rig.sim.add_phone("1004")  # registered on FreeSWITCH, not yet a staff phone
    talking = rig.place(CallerScript(keys=TO_THE_DESK, talk_seconds=40), at=TUESDAY_MORNING)
    assert rig.wait_for(lambda: staff(rig, "1001") == "on_call")
    patient = rig.place(CallerScript(keys=TO_THE_DESK, talk_seconds=5), at=TUESDAY_MORNING)
    assert rig.wait_for(lambda: waiting(rig, patient))
    queue = rig.daemon.queue
    entry = queue.waiting[patient.uuid]
    phones_before = dict(queue.board.phones)

    path = practice_dir / "frontdesk.toml"
    text = path.read_text().replace("wrapup_seconds = 0\n", "wrapup_seconds = 5\n")
    text = text.replace('\nextensions = ["1001", "1002", "1003"]\nring_timeout = 25\n',
                        '\nextensions = ["1001", "1002", "1003", "1004"]\nring_timeout = 25\n')
    path.write_text(text)
    rig.daemon.config_path = path
    assert rig.daemon.reload()

    assert queue.settings.wrapup_seconds == 5
    assert list(queue.waiting) == [patient.uuid] and queue.waiting[patient.uuid] is entry
    assert set(queue.board.phones) == set(phones_before) | {"1004"}
    assert all(queue.board.phones[ext] is phone for ext, phone in phones_before.items())
    assert staff(rig, "1001") == "on_call"
    assert rig.wait_for(lambda: staff(rig, "1004") == "idle")  # it was registered all along
    assert rig.result(patient).answered_by == "1001"  # the desk node's own phones
    assert steps(queue_events(rig, patient)).count(("entered", None)) == 1
    assert [e["event"] for e in queue_events(rig, patient)].count("answered") == 1
    assert rig.result(talking).outcome == "answered"


def test_a_daemon_restart_during_a_busy_queue_reconciles_registrations_logins_and_calls(rigs):
    rig = rigs(queue={"wrapup_seconds": 0})
    for phone in rig.sim.phones.values():
        phone.talk_seconds = 3600  # conversations that outlast the restart, in any time it takes
    rig.sim.set_registered("1011", False)
    assert rig.daemon.queue.set_logged_in("1003", False)
    calls = [
        rig.place(CallerScript(keys=TO_THE_DESK), at=TUESDAY_MORNING) for _ in range(2)
    ]
    assert rig.wait_for(lambda: {staff(rig, "1001"), staff(rig, "1002")} == {"on_call"})
    waiting_caller = rig.place(CallerScript(keys=TO_THE_DESK, patience=40), at=TUESDAY_MORNING)
    assert rig.wait_for(lambda: waiting(rig, waiting_caller))

    daemon = rig.restart_daemon()
    assert daemon.control.wait_connected(5)

    board = daemon.queue.board
    expected = {"1001": "on_call", "1002": "on_call", "1003": "logged_out",
                "1011": "unregistered", "1012": "idle", "1013": "idle"}
    assert rig.wait_for(lambda: {ext: p.state for ext, p in board.phones.items()} == expected), {
        ext: p.state for ext, p in board.phones.items()}
    for call in calls:  # the bridged calls went on through the restart
        assert call.wait_done(5)
        assert call.bridged_to is not None
    assert rig.wait_for(lambda: staff(rig, "1001") == staff(rig, "1002") == "idle")


def test_staff_registrations_are_read_from_freeswitch_xml_status_after_a_reconnection(rigs):
    rig = rigs()
    board = rig.daemon.queue.board
    rig.sim.phones["1002"].registered = False  # lost without an event: only a listing shows it
    with structlog.testing.capture_logs() as logs:
        rig.sim.restart_esl()
        assert rig.wait_for(lambda: "queue.reconciled" in [e["event"] for e in logs])

    assert not board.phones["1002"].registered
    assert board.phones["1001"].registered and board.phones["1003"].registered


def test_an_unreadable_registration_listing_leaves_the_staff_board_as_it_was(rigs):
    rig = rigs()
    board = rig.daemon.queue.board
    before = {ext: (p.registered, p.state) for ext, p in board.phones.items()}
    rig.sim.profiles.clear()  # FreeSWITCH answers "Invalid Profile!" for the desk profile
    with structlog.testing.capture_logs() as logs:
        rig.sim.restart_esl()
        assert rig.wait_for(lambda: "queue.reconciled" in [e["event"] for e in logs])

    assert {ext: (p.registered, p.state) for ext, p in board.phones.items()} == before
    about_registrations = [e for e in logs if e["event"].startswith("queue.registrations")]
    assert [(e["event"], e["log_level"], e["profile"]) for e in about_registrations] == [
        ("queue.registrations_unreadable", "warning", "desk")
    ]


# -- overflow ---------------------------------------------------------------------------


def test_without_hold_music_the_caller_hears_the_ringing_tone_not_a_loop_of_playbacks(
    rigs, practice_dir, no_speech
):
    shutil.rmtree(practice_dir / "prompts" / "moh")  # as on the box before this fix
    rig = rigs(queue={"max_wait": 3600, "skip_seconds": 3600})
    for phone in rig.sim.phones.values():
        phone.answer_after = None

    with structlog.testing.capture_logs() as logs:
        call, result = rig.call(CallerScript(keys=TO_THE_DESK, patience=300),
                                at=TUESDAY_MORNING)

    assert result.outcome == "abandoned"
    holds = [path for app, path in call.apps if app == "playback" and "_stream://" in path]
    ringing = "tone_stream://%(1500,3500,440);loops=-1"  # France's ringback
    assert ringing in holds
    minutes = 5
    assert holds.count("local_stream://moh") <= minutes + 1  # tried again once a minute
    assert len(holds) <= 6 * minutes  # a few per announcement period, never a tight loop
    warnings = [e for e in logs if e["event"] == "hold.music_unavailable"]
    assert [(e["log_level"], e["source"]) for e in warnings] == [("warning", "local_stream://moh")]


def test_hold_music_shipped_by_the_install_plays_until_the_caller_is_connected(rigs):
    rig = rigs(desk_ring_timeout=120)
    only_registered(rig, "1001")
    rig.sim.phones["1001"].answer_after = 90.0  # after the announcement, during the music

    call, result = rig.call(CallerScript(keys=TO_THE_DESK, talk_seconds=5), at=TUESDAY_MORNING)

    assert result.outcome == "answered"
    holds = [path for app, path in call.apps if app == "playback" and "_stream://" in path]
    assert holds and set(holds) == {"local_stream://moh"}


@pytest.mark.parametrize(
    ("action", "outcome"), [("voicemail", "voicemail"), ("answering_service", "transferred")]
)
def test_a_caller_who_waited_max_wait_overflows(rigs, action, outcome):
    rig = rigs(queue={"max_wait": 30, "on_max_wait": action, "skip_seconds": 600})
    for phone in rig.sim.phones.values():
        phone.answer_after = None

    call, result = rig.call(CallerScript(keys=TO_THE_DESK), at=TUESDAY_MORNING)

    assert result.outcome == outcome
    events = queue_events(rig, call, "overflowed")
    overflowed = [e for e in events if e["event"] == "overflowed"]
    assert [e["detail"] for e in overflowed] == [f"max_wait:{action}"]
    assert overflowed[0]["wait"] >= 30
    if action == "answering_service":
        assert call.bridged_to.endswith("/" + rig.config.numbers["answering_service"])
    assert rig.wait_for(lambda: no_phone_stuck(rig))


def test_a_caller_who_would_make_the_queue_too_long_overflows(rigs):
    rig = rigs(queue={"max_length": 1, "on_max_length": "answering_service"})
    for phone in rig.sim.phones.values():
        phone.answer_after = None
    first = rig.place(CallerScript(keys=TO_THE_DESK, patience=600), at=TUESDAY_MORNING)
    assert rig.wait_for(lambda: waiting(rig, first))

    call, result = rig.call(CallerScript(keys=TO_THE_DESK), at=TUESDAY_MORNING)

    assert result.outcome == "transferred"
    assert result.answered_by == "answering_service"
    assert [(e["event"], e["detail"]) for e in queue_events(rig, call, "overflowed")] == [
        ("overflowed", "max_length:answering_service")
    ]
    assert waiting(rig, first)  # the caller already waiting keeps their place


def test_a_caller_when_nobody_is_logged_in_goes_to_voicemail(rigs):
    rig = rigs(queue={"on_nobody": "voicemail"})
    for ext in DESK:
        assert rig.daemon.queue.set_logged_in(ext, False)

    call, result = rig.call(CallerScript(keys=TO_THE_DESK), at=TUESDAY_MORNING)

    assert result.outcome == "voicemail"
    assert call.recorded
    assert [(e["event"], e["detail"]) for e in queue_events(rig, call, "overflowed")] == [
        ("overflowed", "nobody:voicemail")
    ]
    assert not any(number.startswith("user/") for number, _ in call.apps)


# -- the record -------------------------------------------------------------------------


def test_waits_and_handle_times_can_be_recomputed_from_the_database_alone(rigs, no_speech):
    rig = rigs(
        queue={"wrapup_seconds": 15, "announce_prompt": "connecting", "announce_every": 15},
    )
    served = [
        rig.place(CallerScript(keys=TO_THE_DESK, talk_seconds=20), at=TUESDAY_MORNING)
        for _ in range(3)
    ]
    assert rig.wait_for(lambda: all(staff(rig, ext) == "on_call" for ext in DESK))
    gone = rig.place(CallerScript(keys=TO_THE_DESK, patience=30), at=TUESDAY_MORNING)
    for call in (*served, gone):
        assert rig.result(call) is not None
    queue_events(rig, gone, "abandoned")

    store = rig.daemon.store
    events: dict[str, list[dict]] = {}
    for event in store.queue_events():
        events.setdefault(event["call_uuid"], []).append(event)
    calls = {row["uuid"]: row for row in store.calls()}
    assert set(events) == {call.uuid for call in (*served, gone)}
    for call in served:
        by_name = {e["event"]: e for e in events[call.uuid]}
        assert [e["event"] for e in events[call.uuid]][0] == "entered"
        answered = by_name["answered"]
        assert by_name["offered"]["extension"] == answered["extension"]
        assert calls[call.uuid]["answered_by"] == answered["extension"]
        wait = (answered["at"] - by_name["entered"]["at"]).total_seconds()
        assert wait == pytest.approx(answered["wait"], abs=1.0)
        completed = by_name["completed"]
        assert completed["extension"] == answered["extension"]
        handle = (completed["at"] - answered["at"]).total_seconds()
        # the caller talked 20 s; at time_scale 0.01, 5 simulated seconds are 50 ms of real
        # scheduling (the answer is recorded once the bridge's reply is back)
        assert handle == pytest.approx(20, abs=5)
        assert float(completed["detail"].removeprefix("handle=")) == pytest.approx(handle, abs=0.5)
    by_name = {e["event"]: e for e in events[gone.uuid]}
    assert by_name["announced"]["detail"].startswith("position=1,")
    abandoned_after = (by_name["abandoned"]["at"] - by_name["entered"]["at"]).total_seconds()
    assert abandoned_after == pytest.approx(by_name["abandoned"]["wait"], abs=1.0)
    assert 0 < by_name["abandoned"]["wait"] < 30
    assert calls[gone.uuid]["outcome"] == "abandoned"



def test_after_a_daemon_restart_a_caller_is_hung_up_when_the_staff_member_hangs_up(rigs):
    rig = rigs(queue={"wrapup_seconds": 0})
    only_registered(rig, "1001")
    rig.sim.phones["1001"].talk_seconds = 60  # the staff member ends the conversation
    call = rig.place(CallerScript(keys=TO_THE_DESK, talk_seconds=6000), at=TUESDAY_MORNING)
    assert rig.wait_for(lambda: call.bridged_to is not None)

    daemon = rig.restart_daemon()
    assert daemon.control.wait_connected(5)

    # the new daemon never held this caller: parked after the bridge, they would stay on a
    # silent line until they gave up
    assert call.wait_done(5)
    assert rig.sim.channels.get(call.uuid) is None
    assert rig.wait_for(lambda: staff(rig, "1001") == "idle")
