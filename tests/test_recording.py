"""Call recording: off by default; when on, consent after the greeting, conversations with the
staff recorded with record_session, and recordings purged after the retention by the daily
job (which also backs the database up)."""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from _sim_raw import FakeDaemon
from frontdesk.config import ConfigError, load_config
from frontdesk.config.model import Config
from frontdesk.housekeeping import DailyJobs, backup_path
from frontdesk.recording import purge_recordings
from frontdesk.rehearse import Rig
from frontdesk.sim import CallerScript, Simulator
from frontdesk.store import Store

PARIS = ZoneInfo("Europe/Paris")
TUESDAY_MORNING = datetime(2026, 12, 1, 10, 0, tzinfo=PARIS)
PURPOSE = "Formation du secrétariat."
CONSENT = "Cet appel peut être enregistré pour la formation du secrétariat."
RECORDING = f"""[recording]
enabled = true
purpose = "{PURPOSE}"
consent_prompt = "recording_notice"
retention_days = 30

[prompts.recording_notice]
file = "recording_notice.wav"
text = "{CONSENT}"
"""


def enable_recording(practice_dir: Path, section: str = RECORDING) -> Path:
    """The example practice with its [recording] section replaced by `section`."""
    config = practice_dir / "frontdesk.toml"
    text = config.read_text(encoding="utf-8")
    prompts = practice_dir / "prompts"
    shutil.copy(prompts / "greeting.wav", prompts / "recording_notice.wav")
    text = re.sub(r"(?ms)^\[recording\]\n.*?(?=^\[)", "", text)
    config.write_text(text + "\n" + section, encoding="utf-8")
    return config


@pytest.fixture
def recording_rig(practice_dir: Path, tmp_path: Path) -> Iterator[Rig]:
    config = load_config(enable_recording(practice_dir))
    config.recording.directory.mkdir(parents=True)
    with Rig(config, tmp_path) as running:
        yield running


def names_heard(rig: Rig, heard: list[str]) -> list[str]:
    by_uri = {prompt.uri: name for name, prompt in rig.config.prompts.items()}
    return [by_uri.get(uri, uri) for uri in heard]


# -- config -----------------------------------------------------------------------------------


def test_recording_is_off_by_default(practice: Config) -> None:
    assert practice.recording.enabled is False


def test_recording_enabled_needs_a_purpose_a_consent_prompt_and_a_retention(
    practice_dir: Path,
) -> None:
    config = enable_recording(practice_dir, "[recording]\nenabled = true\n")
    with pytest.raises(ConfigError) as error:
        load_config(config)
    messages = "\n".join(error.value.errors)
    for key in ("purpose", "consent_prompt", "retention_days"):
        assert f"recording.{key}: missing: recording is enabled" in messages


def test_a_consent_prompt_that_never_says_the_call_is_recorded_is_refused(
    practice_dir: Path,
) -> None:
    config = enable_recording(practice_dir, RECORDING.replace(CONSENT, "Bonjour."))
    with pytest.raises(ConfigError) as error:
        load_config(config)
    assert any("must tell callers that the call is recorded" in e for e in error.value.errors)


@pytest.mark.parametrize("days", ["0", "3651"])
def test_the_retention_is_between_one_day_and_ten_years(practice_dir: Path, days: str) -> None:
    config = enable_recording(practice_dir, RECORDING.replace("= 30", f"= {days}"))
    with pytest.raises(ConfigError) as error:
        load_config(config)
    assert any("recording.retention_days" in e for e in error.value.errors)


# -- calls ------------------------------------------------------------------------------------


def test_with_recording_off_callers_hear_no_consent_and_nothing_is_recorded(rig: Rig) -> None:
    call, result = rig.call(CallerScript(keys=("0",)), at=TUESDAY_MORNING)

    assert result.outcome == "answered"
    assert not call.sessions_recorded
    assert rig.daemon.store.get_call(call.uuid)["recording_file"] is None


def test_callers_hear_the_consent_right_after_the_greeting_and_the_staff_call_is_recorded(
    recording_rig: Rig,
) -> None:
    call, result = recording_rig.call(CallerScript(keys=("0",)), at=TUESDAY_MORNING)

    assert result.outcome == "answered"
    assert names_heard(recording_rig, call.prompts_heard)[:2] == ["greeting", "recording_notice"]
    assert call.bridged_to is not None
    expected = str(recording_rig.config.recording.directory / f"{call.uuid}.wav")
    assert call.sessions_recorded == [expected]
    assert Path(expected).is_file(), "FreeSWITCH wrote the recording at hangup"
    row = recording_rig.daemon.store.get_call(call.uuid)
    assert (row["recording_file"], row["recording_purpose"]) == (expected, PURPOSE)


def test_a_recorded_conversation_left_up_by_a_daemon_stop_keeps_its_recording_named(
    recording_rig: Rig,
) -> None:
    for phone in recording_rig.sim.phones.values():
        phone.talk_seconds = 6000
    call = recording_rig.place(CallerScript(keys=("0",)), at=TUESDAY_MORNING)
    assert recording_rig.wait_for(
        lambda: (live := recording_rig.daemon.live_calls.get(call.uuid)) is not None
        and live.flow.talking
    )

    daemon = recording_rig.restart_daemon(grace=0.1)

    row = daemon.store.get_call(call.uuid)
    assert row["ended_at"] is None  # the conversation goes on, without the daemon
    expected = str(recording_rig.config.recording.directory / f"{call.uuid}.wav")
    assert (row["recording_file"], row["recording_purpose"]) == (expected, PURPOSE)


def test_a_call_that_never_reaches_the_staff_is_not_recorded(recording_rig: Rig) -> None:
    call, result = recording_rig.call(CallerScript(keys=("4",)), at=TUESDAY_MORNING)

    assert result.outcome == "information"
    assert not call.sessions_recorded
    assert recording_rig.daemon.store.get_call(call.uuid)["recording_file"] is None


# -- the simulator does what FreeSWITCH does ---------------------------------------------------


@pytest.fixture
def fake_daemon() -> Iterator[FakeDaemon]:
    fake = FakeDaemon()
    yield fake
    fake.stop()


def test_sim_record_session_completes_at_once_and_records_until_hangup(
    fake_daemon: FakeDaemon, tmp_path: Path
) -> None:
    sim = Simulator(password="pw", daemon_address=fake_daemon.address, time_scale=0.002,
                    heartbeat_interval=0)
    sim.start()
    try:
        call = sim.place_call(CallerScript())
        esl, _ = fake_daemon.accept()
        esl.execute("answer")
        target = str(tmp_path / "call.wav")
        frames = esl.execute("record_session", target)
        assert [f.name for f in frames[-2:]] == ["CHANNEL_EXECUTE", "CHANNEL_EXECUTE_COMPLETE"]
        assert not Path(target).exists(), "still recording"
        esl.execute("playback", "silence_stream://2000")
        esl.execute("hangup", "NORMAL_CLEARING")
        assert call.wait_done(5)
    finally:
        sim.stop()
    assert call.sessions_recorded == [target]
    assert Path(target).stat().st_size > 44 + 2 * 8000  # about two seconds of audio


# -- the daily job ----------------------------------------------------------------------------


def recorded_call(store: Store, directory: Path, uuid: str, started: datetime) -> Path:
    store.call_started(
        uuid,
        caller_number="0639981234",
        caller_name="",
        destination="5000",
        started_at=started,
        schedule_state="open",
        schedule_detail="",
        config_version="test",
    )
    file = directory / f"{uuid}.wav"
    file.write_bytes(b"RIFF")
    store.set_recording(uuid, file=str(file), purpose=PURPOSE)
    return file


def test_recordings_older_than_the_retention_are_purged_with_their_references(
    practice_dir: Path, tmp_path: Path
) -> None:
    settings = load_config(enable_recording(practice_dir)).recording
    settings.directory.mkdir(parents=True)
    now = datetime.now(UTC).replace(microsecond=0)  # calls dated in the past: no 30-day wait
    with Store(tmp_path / "calls.db") as store:
        old = recorded_call(store, settings.directory, "old", now - timedelta(days=31))
        recent = recorded_call(store, settings.directory, "recent", now - timedelta(days=29))
        orphan = settings.directory / "unanswered-ring.wav"
        orphan.write_bytes(b"RIFF")
        past = (now - timedelta(days=40)).timestamp()
        os.utime(orphan, (past, past))

        assert purge_recordings(store, settings, now) == 2

        assert not old.exists() and not orphan.exists()
        assert recent.exists()
        purged = store.get_call("old")
        assert purged["recording_file"] is None
        assert purged["recording_purged_at"] == now
        assert store.get_call("recent")["recording_file"] == str(recent)


def test_the_daily_job_backs_the_database_up_once_a_day_and_keeps_the_newest(
    practice: Config, tmp_path: Path
) -> None:
    class RunningDaemon:  # what DailyJobs reads of a running daemon
        config = practice
        store = Store(tmp_path / "calls.db")

    jobs = DailyJobs(RunningDaemon())  # type: ignore[arg-type]
    day = datetime(2027, 3, 1, 3, 0, tzinfo=PARIS)
    try:
        assert not jobs.due(day), "before daily_at (03:30)"
        for n in range(practice.maintenance.backups_kept + 2):
            moment = day + timedelta(days=n, minutes=45)
            assert jobs.due(moment)
            jobs.run(moment)
            assert not jobs.due(moment + timedelta(hours=1)), "once a day"
    finally:
        RunningDaemon.store.close()
    backups = sorted(practice.maintenance.backup_directory.iterdir())
    assert len(backups) == practice.maintenance.backups_kept
    assert backups[-1] == backup_path(practice.maintenance, moment)
    with sqlite3.connect(backups[-1]) as copy:
        assert copy.execute("SELECT count(*) FROM _migrations").fetchone()[0] > 0
