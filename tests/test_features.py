"""Feature codes dialled from the staff's desk phones (frontdesk.features), end to end through
the real daemon and the simulator, and their keys in the config."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from frontdesk.config import ConfigError, load_config
from frontdesk.rehearse import Rig
from frontdesk.sim import CallerScript, SimCall

PARIS = ZoneInfo("Europe/Paris")
TUESDAY_MORNING = datetime(2026, 12, 1, 10, 0, tzinfo=PARIS)
TUESDAY_EVENING = datetime(2026, 12, 1, 20, 15, tzinfo=PARIS)


def dial(rig: Rig, code: str, extension: str, at: datetime = TUESDAY_MORNING) -> SimCall:
    call = rig.place(CallerScript(), at=at, caller_number=extension, destination=code)
    assert call.wait_done(10), "the feature call did not end"
    return call


def heard(rig: Rig, call: SimCall) -> list[str]:
    by_uri = {prompt.uri: name for name, prompt in rig.config.prompts.items()}
    return [by_uri.get(uri, uri) for uri in call.prompts_heard]


def test_a_desk_phone_dialling_the_override_code_closes_the_practice_for_the_next_caller(rig):
    call = dial(rig, "*60", "1002")

    assert heard(rig, call) == ["feature_closed"]
    assert call.hangup_cause == "NORMAL_CLEARING"
    override = rig.daemon.store.get_override(now=TUESDAY_MORNING)
    assert (override.mode, override.until, override.set_by) == ("closed", None, "1002")
    patient, result = rig.call(CallerScript(keys=("2",)), at=TUESDAY_MORNING)
    assert heard(rig, patient)[:2] == ["greeting", "closed"]
    assert result.outcome == "message"


def test_dialling_the_override_code_again_goes_back_to_the_schedule(rig):
    dial(rig, "*60", "1001")
    call = dial(rig, "*60", "1001")

    assert heard(rig, call) == ["feature_schedule"]
    assert rig.daemon.store.get_override(now=TUESDAY_MORNING) is None
    patient, _ = rig.call(CallerScript(keys=("4",)), at=TUESDAY_MORNING)
    assert heard(rig, patient)[:2] == ["greeting", "main_menu"]


def test_the_override_code_opens_the_practice_when_the_schedule_says_closed(rig):
    call = dial(rig, "*60", "1003", at=TUESDAY_EVENING)

    assert heard(rig, call) == ["feature_open"]
    assert rig.daemon.store.get_override(now=TUESDAY_EVENING).mode == "open"


def test_login_and_logout_are_stored_with_the_extension_and_time(rig):
    dial(rig, "*50", "1001")
    dial(rig, "*50", "1002")
    call = dial(rig, "*51", "1001")

    assert heard(rig, call) == ["feature_logout"]
    events = rig.daemon.store.staff_events()
    assert [(e.extension, e.event) for e in events] == [
        ("1001", "login"), ("1002", "login"), ("1001", "logout"),
    ]
    times = [e.at for e in events]  # each dial takes a few simulated seconds of prompts
    assert TUESDAY_MORNING <= times[0] <= times[1] <= times[2] < TUESDAY_MORNING + timedelta(
        minutes=1
    )
    assert rig.daemon.store.logged_in_staff() == {"1002"}


@pytest.mark.parametrize("caller", ["0639981234", "1011"])
def test_a_caller_not_listed_in_features_is_refused_and_changes_nothing(rig, caller):
    call = dial(rig, "*60", caller)
    dial(rig, "*50", caller)

    assert heard(rig, call) == ["feature_refused"]
    assert rig.daemon.store.get_override(now=TUESDAY_MORNING) is None
    assert rig.daemon.store.staff_events() == []


def test_a_feature_call_is_not_a_patient_call(rig):
    call = dial(rig, "*50", "1001")

    assert "greeting" not in heard(rig, call)
    assert rig.daemon.store.get_call(call.uuid) is None
    assert rig.daemon.store.calls() == []


# --- config ---------------------------------------------------------------------------------


def edited(practice_dir: Path, old: str, new: str) -> Path:
    path = practice_dir / "frontdesk.toml"
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path


def errors_of(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as error:
        load_config(path, check_files=False)
    return error.value.errors


def line_of(path: Path, text: str) -> int:
    lines = path.read_text(encoding="utf-8").splitlines()
    return next(i for i, line in enumerate(lines, start=1) if line.startswith(text))


def test_feature_codes_must_be_well_formed_distinct_and_confirmed_by_known_prompts(practice_dir):
    path = edited(practice_dir, 'logout = "*51"', 'logout = "*50"')
    path = edited(practice_dir, 'override = "*60"', 'override = "60"')
    path = edited(practice_dir, 'open_prompt = "feature_open"', 'open_prompt = "feature_opn"')

    assert errors_of(path) == [
        f"{path}:{line_of(path, 'logout =')}: features.logout: '*50' is already features.login",
        f"{path}:{line_of(path, 'override =')}: features.override: must be * or # then 1 to 4 "
        "digits, like \"*60\", not '60'",
        f"{path}:{line_of(path, 'open_prompt =')}: features.open_prompt: unknown prompt "
        "'feature_opn'. Did you mean 'feature_open'?",
    ]


def test_lan_ranges_must_be_private_networks_holding_the_sip_address(practice_dir):
    path = edited(
        practice_dir,
        'lan_ranges = ["192.168.1.0/24"]',
        'lan_ranges = ["192.168.2.0/24", "0.0.0.0/0", "10.1.2.3/8", "nonsense"]',
    )
    line = line_of(path, "lan_ranges =")

    assert errors_of(path) == [
        f"{path}:{line}: network.lan_ranges[1]: '0.0.0.0/0' is not a private network: desk "
        "phones live on the practice LAN (10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16...)",
        f"{path}:{line}: network.lan_ranges[2]: '10.1.2.3/8' has host bits set: did you mean "
        "'10.0.0.0/8'?",
        f"{path}:{line}: network.lan_ranges[3]: must be a network in CIDR notation like "
        "\"192.168.1.0/24\", not 'nonsense'",
    ]
    path = edited(practice_dir, '"0.0.0.0/0", "10.1.2.3/8", "nonsense"', '"10.0.0.0/8"')
    assert errors_of(path) == [
        f"{path}:{line_of(path, 'sip_ip =')}: network.sip_ip: 192.168.1.10 is in none of "
        "network.lan_ranges (192.168.2.0/24, 10.0.0.0/8): the desk phones could not reach it"
    ]
