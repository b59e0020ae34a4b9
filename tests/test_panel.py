"""The desk panel end to end: the real daemon against the simulator, the panel at the other
end of a real pseudo-terminal pair reached through a symlink (as /dev/serial/by-id/… is), so
it can be unplugged (the pty closed) and plugged in again (a new pty behind the same name)."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import gevent
import gevent.select
import pytest
import structlog

from frontdesk.config import ConfigError, load_config
from frontdesk.panel.frame import Frame, FrameError, LineSplitter, decode, encode
from frontdesk.queue.feed import QueueState
from frontdesk.rehearse import Rig
from frontdesk.sim import CallerScript
from panel_helpers import TUESDAY_MORNING, PtyPanel, enable_panel, started_rig

DOC = Path(__file__).parent.parent / "docs" / "panel-protocol.md"


def panel_config(practice_dir: Path, port: str, extra: str = "") -> Path:
    """The example config with the panel on `port`: away on 1001, amber from the first caller
    waiting, red from the third."""
    return enable_panel(
        practice_dir, port, away_extension="1001", amber_waiting=1, red_waiting=3, extra=extra
    )


@pytest.fixture
def panel(tmp_path: Path) -> Iterator[PtyPanel]:
    plugged = PtyPanel(tmp_path / "serial-by-id-panel")
    yield plugged
    plugged.close()


@pytest.fixture
def rig(practice_dir: Path, tmp_path: Path, panel: PtyPanel) -> Iterator[Rig]:
    with started_rig(panel_config(practice_dir, str(panel.link)), tmp_path) as running:
        assert running.wait_for(lambda: running.daemon.panel.connected)
        yield running


# -- the wire format ----------------------------------------------------------------------


def test_every_example_frame_in_the_protocol_document_has_a_valid_checksum():
    examples = re.findall(r"^(\$\S+)", DOC.read_text(), re.MULTILINE)
    frames = [decode(example.encode()) for example in examples if "<" not in example]

    assert len(frames) == 8
    assert {frame.kind for frame in frames} == {"V", "S", "H", "B", "A"}


@pytest.mark.parametrize(
    "line",
    [
        b"$S,1,0,0,3,G,AUTO*18",  # one bit flipped in the checksum
        b"$S,1,0,0,3,G,AUTX*19",  # one character flipped on the line
        b"$S,1,0,0,3,G*19",  # a field missing
        b"$Z,1*1B",  # unknown type
        b"$B,1,LUNCH",  # no checksum
        b"\xff\xfe garbage",
    ],
)
def test_a_damaged_line_is_refused(line):
    with pytest.raises(FrameError):
        decode(line)


def test_noise_before_the_dollar_is_ignored_and_a_cut_or_overlong_line_is_dropped():
    splitter = LineSplitter()
    frame = Frame("B", 7, ("LUNCH",))

    assert [decode(line) for line in splitter.feed(b"boot ok\r" + encode(frame))] == [frame]
    assert splitter.feed(b"$B,8,LUN") == []  # partial: waits for the rest
    assert splitter.feed(b"x" * 200) == []
    assert splitter.feed(b"tail of the long line\n" + encode(frame)) == [encode(frame)[:-1]]
    assert splitter.overlong == 1


# -- the daemon and the panel -------------------------------------------------------------


def test_callers_entering_and_leaving_the_queue_show_on_the_panel_within_a_second(rig, panel):
    for phone in rig.sim.phones.values():
        phone.answer_after = None
    assert rig.wait_for(lambda: panel.shows("0", "AUTO"), timeout=100)

    call = rig.place(CallerScript(keys=("0",), patience=150), at=TUESDAY_MORNING)

    assert rig.wait_for(lambda: panel.shows("1"), timeout=300)  # menu, then the queue
    waiting, _, _, level, mode = panel.states()[-1]
    assert (level, mode) == ("A", "AUTO")
    call.wait_done(10)
    assert rig.wait_for(lambda: panel.shows("0"), timeout=100)
    assert panel.states()[-1][3] == "G"


def test_a_burst_of_queue_changes_is_coalesced_into_a_few_frames(rig, panel):
    feed = rig.daemon.queue.feed
    assert rig.wait_for(lambda: panel.shows("0"), timeout=100)
    before = len(panel.states())

    for waiting in range(1, 41):
        feed.publish(QueueState(waiting, 0, 5.0, 0, 3, 3))

    assert rig.wait_for(lambda: panel.shows("40"), timeout=100)
    assert panel.states()[-1][3] == "R"
    assert len(panel.states()) - before <= 3


def test_the_lunch_button_changes_the_branch_the_next_caller_hears(rig, panel):
    seq = panel.press("LUNCH")

    assert rig.wait_for(lambda: panel.acked(seq) == "OK", timeout=100)
    assert rig.wait_for(lambda: panel.shows("0", "LUNCH"), timeout=100)
    assert rig.daemon.store.get_override(now=TUESDAY_MORNING).set_by == "panel"
    call, _ = rig.call(CallerScript(keys=("2",)), at=TUESDAY_MORNING)
    assert prompt_names(rig, call.prompts_heard)[:2] == ["greeting", "lunch"]

    seq = panel.press("LUNCH")  # pressed again: back to the schedule

    assert rig.wait_for(lambda: panel.acked(seq) == "OK", timeout=100)
    assert rig.wait_for(lambda: panel.shows("0", "AUTO"), timeout=100)
    call, _ = rig.call(CallerScript(keys=("4",)), at=TUESDAY_MORNING)
    assert prompt_names(rig, call.prompts_heard)[:2] == ["greeting", "main_menu"]


def test_a_repeated_button_frame_is_acknowledged_again_but_acted_on_once(rig, panel):
    frame = encode(Frame("B", 500, ("CLOSED",)))
    panel.write(frame)
    assert rig.wait_for(lambda: panel.acked(500) == "OK", timeout=100)

    panel.write(frame)

    assert rig.wait_for(lambda: len([f for f in panel.frames() if f.kind == "A"]) == 2, timeout=100)
    assert rig.daemon.store.get_override(now=TUESDAY_MORNING).mode == "closed"


def test_the_away_button_logs_the_desk_phone_out_and_in_again(rig, panel):
    phones = rig.daemon.queue.board.phones

    seq = panel.press("AWAY")
    assert rig.wait_for(lambda: panel.acked(seq) == "OK", timeout=100)
    assert not phones["1001"].logged_in

    seq = panel.press("AWAY")
    assert rig.wait_for(lambda: panel.acked(seq) == "OK", timeout=100)
    assert phones["1001"].logged_in


def test_garbage_and_partial_frames_are_ignored_with_one_warning(rig, panel):
    with structlog.testing.capture_logs() as logs:
        panel.write(b"\x00\xffnoise\n$B,1,LUNCH*00\n$B,2,CLO")  # noise, bad checksum, cut
        panel.write(b"\n" + b"z" * 300 + b"\n")
        seq = panel.press("CLOSED")
        assert rig.wait_for(lambda: panel.acked(seq) == "OK", timeout=100)

    assert [f.fields[0] for f in panel.frames() if f.kind == "A"] == [str(seq)]
    assert len([e for e in logs if e["event"] == "panel.garbage"]) == 1
    assert rig.daemon.store.get_override(now=TUESDAY_MORNING).mode == "closed"


def test_an_unplugged_panel_is_warned_about_once_and_shows_the_current_state_when_replugged(
    rig, panel
):
    with structlog.testing.capture_logs() as logs:
        panel.unplug()
        assert rig.wait_for(lambda: not rig.daemon.panel.connected, timeout=200)
        rig.daemon.store.set_override("lunch", until=None, set_by="test")
        rig.daemon.queue.feed.publish(QueueState(2, 0, 30.0, 1, 3, 2))
        call, _ = rig.call(CallerScript(keys=("2",)), at=TUESDAY_MORNING)  # calls go on
        assert prompt_names(rig, call.prompts_heard)[:2] == ["greeting", "lunch"]
        panel.received.clear()
        panel.plug()
        assert rig.wait_for(lambda: rig.daemon.panel.connected, timeout=1000)

    assert rig.wait_for(lambda: panel.shows("2", "LUNCH"), timeout=100)
    assert panel.frames()[0].kind == "V"
    warnings = [e for e in logs if e["log_level"] == "warning" and e["event"].startswith("panel")]
    assert [e["event"] for e in warnings] == ["panel.lost"]


@contextmanager
def a_board_that_reads_nothing(panel: PtyPanel) -> Iterator[None]:
    """While in it, the line from the daemon to the panel stays full, as with a hung board on
    a USB adapter: whenever the kernel moves a few kB on to the panel's side (it does so late,
    later still on a busy machine), the room is filled again at once, so the daemon never
    sees the board take anything."""
    line = os.open(panel.device, os.O_WRONLY | os.O_NONBLOCK | os.O_NOCTTY)

    def keep_full() -> None:
        while True:
            try:
                while True:
                    os.write(line, b"\n" * 256)
            except BlockingIOError:
                gevent.select.select([], [line], [])

    filler = gevent.spawn(keep_full)
    try:
        gevent.sleep(0)  # full before the test goes on
        yield
    finally:
        filler.kill()
        os.close(line)


def test_a_panel_that_stops_reading_never_holds_up_calls_and_is_warned_about_once(rig, panel):
    with structlog.testing.capture_logs() as logs:
        with a_board_that_reads_nothing(panel):
            call, result = rig.call(CallerScript(keys=("4",)), at=TUESDAY_MORNING)  # calls go on
            assert result.end_node == "practical_info"
            assert rig.wait_for(lambda: [e for e in logs if e["event"] == "panel.lost"],
                                timeout=500)
            rig.clock.sleep(600)  # the daemon tries the line again and again meanwhile

        while panel.read():  # the board reads again
            pass
        panel.received.clear()
        assert rig.wait_for(lambda: panel.states(), timeout=1000)

    lost = [e["log_level"] for e in logs if e["event"] == "panel.lost"]
    assert lost[0] == "warning" and set(lost[1:]) <= {"info"}


def test_a_missing_panel_never_stops_the_daemon(practice_dir, tmp_path):
    config = load_config(panel_config(practice_dir, str(tmp_path / "no-such-tty")))
    with structlog.testing.capture_logs() as logs, Rig(config, tmp_path) as rig:
        call, result = rig.call(CallerScript(keys=("4",)), at=TUESDAY_MORNING)
        assert result.outcome == "information"
        assert not rig.daemon.panel.connected

    assert [e["event"] for e in logs if e["event"].startswith("panel")] == ["panel.unavailable"]


def test_panel_settings_are_checked_with_the_file_line_and_key(practice_dir):
    path = panel_config(
        practice_dir, "", extra='red_wait = 30\namber_wait = 60\naway_extension = "1099"\n'
    )
    path.write_text(path.read_text().replace('away_extension = "1001"\n', ""))

    with pytest.raises(ConfigError) as caught:
        load_config(path)

    errors = "\n".join(caught.value.errors)
    assert re.search(r"frontdesk\.toml:\d+: panel\.port: missing", errors)
    assert re.search(r"frontdesk\.toml:\d+: panel\.red_wait: must not be below", errors)
    assert re.search(r"frontdesk\.toml:\d+: panel\.away_extension: '1099' is not", errors)


def prompt_names(rig: Rig, heard: list[str]) -> list[str]:
    by_uri = {prompt.uri: name for name, prompt in rig.config.prompts.items()}
    return [by_uri.get(uri, uri) for uri in heard]


def test_panel_test_shows_every_level_and_mode_in_turn(practice_dir, panel, capsys):
    from frontdesk.cli import main

    path = panel_config(practice_dir, str(panel.link))

    assert main(["panel", "test", "--config", str(path), "--pause", "0"]) == 0

    states = panel.states()
    assert [level for _, _, _, level, _ in states] == ["G", "A", "A", "R", "G", "G", "G"]
    assert [mode for *_, mode in states] == ["AUTO"] * 4 + ["OPEN", "LUNCH", "CLOSED"]
    assert "level amber" in capsys.readouterr().out


def test_panel_test_says_why_when_the_port_cannot_be_opened(practice_dir, tmp_path, capsys):
    from frontdesk.cli import main

    path = panel_config(practice_dir, str(tmp_path / "unplugged"))

    assert main(["panel", "test", "--config", str(path), "--pause", "0"]) == 1
    assert "cannot use the panel at" in capsys.readouterr().err
