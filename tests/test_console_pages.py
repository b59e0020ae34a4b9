"""The console's pages and actions as a receptionist meets them: the real daemon against the
simulator (simulated time), its console's WSGI app driven by Werkzeug's test client."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from html import unescape

import pytest

from console_helpers import (
    EMERGENCY,
    FR,
    PARIS,
    PATIENT,
    PRESCRIPTION,
    RESULTS,
    TUESDAY_MORNING,
    Browser,
    Receptionist,
    cell,
    console_rig,
    flash,
    place,
    row,
    waiting,
)
from frontdesk.config import load_config
from frontdesk.config.model import REASONS, Config
from frontdesk.console.texts import TEXTS
from frontdesk.control_socket import status
from frontdesk.logs import mask_number
from frontdesk.overrides import MODES
from frontdesk.queue.callbacks import MISSED_REF_LENGTH, REFUSALS, missed_patients
from frontdesk.queue.staff import STATES
from frontdesk.rehearse import Rig
from frontdesk.sim import CallerScript
from helpers import set_in_section


@pytest.fixture
def rig(practice: Config, tmp_path) -> Iterator[Rig]:
    with console_rig(practice, tmp_path) as running:
        yield running


# --- the live view ---------------------------------------------------------------------------


def test_a_caller_waiting_shows_with_position_number_and_reason(rig: Rig) -> None:
    desk = Receptionist(rig)
    call = place(rig, RESULTS)
    assert rig.wait_for(lambda: waiting(rig, call))

    caller = row(desk.get("/"), "caller", "call", call.uuid)

    assert caller
    assert cell(caller, "position") == "1"
    assert cell(caller, "number") == PATIENT  # the staff call back: the whole number
    assert FR["reason_results"] in cell(caller, "reason")
    assert "renewal_menu" in cell(caller, "reason")  # the menu path
    since = re.search(r'data-since="(\d+)"', caller).group(1)
    assert int(since) == pytest.approx(rig.daemon.clock.wall().timestamp(), abs=60)


def test_frontdesk_status_says_why_each_caller_called_with_the_number_masked(rig: Rig) -> None:
    call = place(rig, RESULTS)
    assert rig.wait_for(lambda: waiting(rig, call))

    (caller,) = status(rig.daemon)["waiting"]

    assert (caller["reason"], caller["caller"]) == ("results", mask_number(PATIENT))
    assert caller["path"][-2:] == ["renewal_menu", "results"]
    assert PATIENT not in str(status(rig.daemon))


def test_an_emergency_caller_is_marked_in_words_not_only_in_colour(rig: Rig) -> None:
    desk = Receptionist(rig)
    call = place(rig, EMERGENCY)
    assert rig.wait_for(lambda: waiting(rig, call))

    caller = row(desk.get("/"), "caller", "call", call.uuid)

    assert 'class="caller emergency"' in caller
    assert FR["emergency"] in cell(caller, "reason")


def test_the_wait_announced_is_the_figure_the_caller_heard(rig: Rig) -> None:
    desk = Receptionist(rig)
    call = place(rig, RESULTS)
    assert rig.wait_for(lambda: waiting(rig, call)
                        and rig.daemon.queue.waiting[call.uuid].announced_wait is not None)
    said = rig.daemon.queue.waiting[call.uuid].announced_wait

    caller = row(desk.get("/"), "caller", "call", call.uuid)

    assert cell(caller, "announced") == desk.app._wait_words(round(said))


def test_a_caller_who_asked_to_be_called_back_waits_their_turn_in_the_callbacks_table(
    rig: Rig,
) -> None:
    desk = Receptionist(rig)
    asker = rig.place(CallerScript(keys=("3", "2", "1"), hold_key="5", hold_key_after=20),
                      at=TUESDAY_MORNING, caller_number=PATIENT)
    assert rig.wait_for(lambda: asker.done.is_set() and asker.uuid in rig.daemon.queue.waiting)

    page = desk.get("/")

    callback = row(page, "callback", "call", asker.uuid)
    assert callback and cell(callback, "kind") == FR["kind_requested"]
    assert cell(callback, "number") == PATIENT
    assert not row(page, "caller", "call", asker.uuid)


def test_the_desk_phones_show_their_state_and_the_practice_its_state(rig: Rig) -> None:
    desk = Receptionist(rig)

    page = desk.get("/")

    phone = row(page, "phone", "ext", "1001")
    assert re.search(r'class="state" data-state="idle"', phone)
    assert 'class="logout"' in phone
    assert f'name="csrf" value="{desk.csrf}"' in phone  # the form works without the script
    assert 'id="practice" data-state="open"' in page
    assert 'id="freeswitch" data-connected="true"' in page


# --- actions ---------------------------------------------------------------------------------


def test_a_phone_logged_out_from_the_console_is_no_longer_rung_and_who_did_it_is_kept(
    rig: Rig,
) -> None:
    desk = Receptionist(rig)

    page = desk.act("/staff/1002/logout")

    assert flash(page) == FR["flash_logged_out"].format(ext="1002")
    assert not rig.daemon.queue.board.phones["1002"].logged_in
    assert re.search(r'data-state="logged_out"', row(page, "phone", "ext", "1002"))
    assert 'class="login"' in row(page, "phone", "ext", "1002")
    call = place(rig, RESULTS)
    assert rig.wait_for(lambda: {"1001", "1003"} <= offered(rig, call))
    assert "1002" not in offered(rig, call)
    (action,) = [a for a in rig.daemon.store.console_actions() if a.action == "staff_logout"]
    assert (action.user, action.target) == ("alice", "1002")
    assert rig.daemon.store.latest_staff_states()["1002"]["logged_in"] is False


def offered(rig: Rig, call) -> set[str]:
    """The desk phones the queue rang for `call`."""
    return {e["extension"] for e in rig.daemon.store.queue_events(call.uuid)
            if e["event"] == "offered"}


def test_a_phone_not_of_the_queue_is_refused(rig: Rig) -> None:
    desk = Receptionist(rig)

    page = desk.act("/staff/9999/logout")

    assert flash(page) == FR["flash_not_a_phone"].format(ext="9999")
    assert "9999" not in rig.daemon.queue.board.phones


def test_an_override_with_an_end_time_is_what_callers_get_and_is_shown(rig: Rig) -> None:
    desk = Receptionist(rig)
    until = (rig.daemon.clock.wall().astimezone(PARIS) + timedelta(hours=2)).strftime("%H:%M")

    page = desk.act("/override", mode="closed", until=until)

    assert flash(page) == FR["flash_override_set"].format(state=FR["state_closed"])
    practice = re.search(r'<p id="practice" data-state="closed">(.*?)</p>', page, re.S)
    assert practice and until in practice.group(1) and "console:alice" in practice.group(1)
    assert "manual override" not in practice.group(1)  # the schedule's English detail
    _, result = rig.call(CallerScript(keys=("",)), at=TUESDAY_MORNING)
    assert result is not None and "closed_menu" in [step.node for step in result.path]
    override = rig.daemon.store.get_override(now=rig.daemon.clock.wall())
    assert (override.mode, override.set_by) == ("closed", "console:alice")
    assert f"{override.until.astimezone(PARIS):%H:%M}" == until


def test_an_override_refused_says_why_in_the_practices_language(rig: Rig) -> None:
    desk = Receptionist(rig)

    page = desk.act("/override", mode="auto", until="12:00")

    assert flash(page) == FR["override_refused_auto_until"]
    assert rig.daemon.store.get_override(now=rig.daemon.clock.wall()) is None


# --- messages --------------------------------------------------------------------------------


def left_a_message(rig: Rig) -> str:
    """A caller leaves a prescription message through the flow: its inbox ref."""
    _, result = rig.call(PRESCRIPTION, at=TUESDAY_MORNING, caller_number=PATIENT)
    assert result is not None and result.message_file
    return next(item.ref for item in rig.daemon.console._app._inbox()
                if item.call_uuid and result.message_file.endswith(f"{item.call_uuid}.wav"))


def test_a_message_is_listed_with_its_player_and_its_audio_served_in_ranges(rig: Rig) -> None:
    desk = Receptionist(rig)
    ref = left_a_message(rig)

    message = row(desk.get("/messages"), "message", "ref", ref)
    assert f'src="/messages/{ref}/audio"' in message
    assert FR["reason_prescription"] in cell(message, "reason")
    whole = desk.client.get(f"/messages/{ref}/audio")
    part = desk.client.get(f"/messages/{ref}/audio", headers={"Range": "bytes=0-43"})

    assert whole.status_code == 200 and whole.mimetype == "audio/wav"
    assert whole.data[:4] == b"RIFF"
    assert part.status_code == 206 and part.data == whole.data[:44]
    assert part.headers["Content-Range"] == f"bytes 0-43/{len(whole.data)}"


def test_a_recording_is_refused_without_a_session_and_for_a_ref_not_in_the_inbox(
    rig: Rig,
) -> None:
    desk = Receptionist(rig)
    ref = left_a_message(rig)
    stranger = Browser(desk.app)

    assert stranger.get(f"/messages/{ref}/audio").status_code == 401
    assert desk.client.get("/messages/deadbeef/audio").status_code == 404
    assert desk.client.get("/messages/..%2F..%2Fetc%2Fpasswd/audio").status_code == 404
    assert desk.client.get(f"/messages/{ref}/audio").status_code == 200


def test_a_message_marked_done_leaves_the_list_with_who_did_it(rig: Rig) -> None:
    desk = Receptionist(rig)
    ref = left_a_message(rig)

    page = desk.act(f"/messages/{ref}/done")

    assert flash(page) == FR["flash_done"].format(ref=ref)
    assert not row(page, "message", "ref", ref)
    assert desk.client.get(f"/messages/{ref}/audio").status_code == 404
    marks = rig.daemon.store.message_marks()
    assert [by for _, by in marks.values()] == ["console:alice"]


# --- language --------------------------------------------------------------------------------


def test_every_word_exists_in_french_and_english() -> None:
    assert set(TEXTS["fr"]) == set(TEXTS["en"])
    for key, french in TEXTS["fr"].items():
        assert re.findall(r"{\w+}", french) == re.findall(r"{\w+}", TEXTS["en"][key]), key


def test_every_refusal_and_state_has_its_words() -> None:
    keys = {f"call_now_{reason}" for reason in REFUSALS}
    keys |= {f"override_refused_{reason}" for reason in ("bad_time", "auto_until", "past", "mode")}
    keys |= {f"phone_{state}" for state in STATES} | {f"mode_{mode}" for mode in MODES}
    keys |= {f"reason_{reason}" for reason in REASONS}
    assert keys <= set(TEXTS["fr"])


def test_the_pages_speak_the_practices_language(rig: Rig) -> None:
    desk = Receptionist(rig)

    for path in ("/", "/callbacks", "/messages"):
        page = desk.get(path)
        assert '<html lang="fr">' in page
        assert FR["skip"] in page and 'id="nav"' in page


# --- callbacks -------------------------------------------------------------------------------

MISSED_QUEUE = {"missed_after": 30, "call_back_missed": False}
"""Patients who hung up after 30 s in the queue are listed for the staff, not called back."""
RECEPTIONIST = "1002"


@pytest.fixture
def missed_rig(practice_dir, tmp_path) -> Iterator[Rig]:
    """A patient waited a minute and hung up: a missed patient in the staff's list. The
    receptionist's own phone (1002) answers."""
    path = practice_dir / "frontdesk.toml"
    path.write_text(set_in_section(path.read_text(), "queue", MISSED_QUEUE))
    with console_rig(load_config(path), tmp_path) as running:
        running.sim.phones[RECEPTIONIST].answer_after = 2.0
        running.daemon.set_staff_login(RECEPTIONIST, False, by="test")  # the queue rings others
        call = running.place(CallerScript(keys=("3", "2"), patience=60), at=TUESDAY_MORNING,
                             caller_number=PATIENT)
        assert running.wait_for(lambda: missed_patients(running.daemon.store,
                                                        running.daemon.clock.wall(),
                                                        missed_after=30))
        assert call.done.is_set()
        yield running


def missed_ref(rig: Rig) -> str:
    (missed,) = missed_patients(rig.daemon.store, rig.daemon.clock.wall(), missed_after=30)
    return missed.call_uuid[:MISSED_REF_LENGTH]


def test_call_back_now_rings_the_receptionists_chosen_phone_then_the_patient(
    missed_rig: Rig,
) -> None:
    rig = missed_rig
    patient = rig.sim.add_outside(PATIENT, answer_after=2.0, talk_seconds=600)
    desk = Receptionist(rig)
    ref = missed_ref(rig)
    listed = row(desk.get("/callbacks"), "missed", "ref", ref)
    assert 'class="call-now"' in listed and 'class="done"' in listed
    assert cell(listed, "number") == PATIENT

    page = desk.act("/callbacks/my-phone", extension=RECEPTIONIST)
    assert flash(page) == FR["flash_phone_saved"].format(ext=RECEPTIONIST)
    assert f'<option value="{RECEPTIONIST}" selected>' in page
    page = desk.act(f"/callbacks/{ref}/call")

    assert flash(page) == FR["flash_calling"].format(ext=RECEPTIONIST)
    assert rig.sim.phone_state(RECEPTIONIST) == "ringing"
    assert rig.wait_for(lambda: rig.daemon.store.callbacks(("completed",)))
    assert patient.calls_answered == 1 and rig.sim.phone_state(RECEPTIONIST) == "talking"
    [done] = rig.daemon.store.callbacks(("completed",))
    assert done.done_by == "console:alice"
    actions = [(a.user, a.action, a.target) for a in rig.daemon.store.console_actions()]
    assert ("alice", "call_now", ref) in actions


def test_call_back_now_without_a_phone_chosen_asks_for_one_and_rings_nobody(
    missed_rig: Rig,
) -> None:
    desk = Receptionist(missed_rig)

    page = desk.act(f"/callbacks/{missed_ref(missed_rig)}/call")

    assert flash(page) == FR["flash_choose_phone"]
    assert missed_rig.sim.phone_state(RECEPTIONIST) == "idle"


def test_call_back_now_refused_says_why_in_the_practices_language(missed_rig: Rig) -> None:
    desk = Receptionist(missed_rig)
    desk.act("/callbacks/my-phone", extension=RECEPTIONIST)

    page = desk.act("/callbacks/00000000/call")

    assert flash(page) == FR["call_now_unknown"]


def test_a_missed_patient_marked_done_leaves_the_list_and_is_stored_with_the_user(
    missed_rig: Rig,
) -> None:
    desk = Receptionist(missed_rig)
    ref = missed_ref(missed_rig)

    page = desk.act(f"/callbacks/{ref}/done")

    assert flash(page) == FR["flash_done"].format(ref=ref)
    assert not row(page, "missed", "ref", ref)
    assert missed_patients(missed_rig.daemon.store, missed_rig.daemon.clock.wall(),
                           missed_after=30) == []
    actions = [(a.user, a.action, a.target) for a in missed_rig.daemon.store.console_actions()]
    assert ("alice", "callback_done", ref) in actions


def test_the_desk_panels_figures_head_the_queue_and_its_level_turns_amber(rig: Rig) -> None:
    """As on the desk panel: callers waiting, the longest wait, callbacks, phones, and the
    level by the [panel] thresholds (amber from 2 callers or a minute of waiting)."""
    desk = Receptionist(rig)
    call = place(rig, RESULTS)
    assert rig.wait_for(lambda: waiting(rig, call))

    board = re.search(r'<p id="board".*?</p>', desk.get("/"), re.S).group(0)
    assert 'data-level="G"' in board and FR["level_G"] in board
    assert FR["board_waiting"].format(n=1) in unescape(board)
    assert re.search(r'class="waited" data-since="\d+"', board)  # the longest wait ticks

    rig.clock.sleep(61)
    board = re.search(r'<p id="board".*?</p>', desk.get("/"), re.S).group(0)
    assert 'data-level="A"' in board and FR["level_A"] in board
