"""Feature codes dialled from the staff's desk phones: staff login/logout and the day/night
override. FreeSWITCH sends them to the daemon through the same outbound socket as patients'
calls (freeswitch-conf/dialplan/default.xml); the daemon answers, acts, confirms with a prompt
and hangs up. Such a call never runs the patient flow and is not a patient call's record.

Only the extensions of [features] may use them: the caller number of a desk phone is its
extension (the directory sets it, a phone cannot choose it).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import structlog

from frontdesk.config.model import Config, FeatureSettings
from frontdesk.esl import CallSession
from frontdesk.overrides import describe_override, set_override
from frontdesk.schedule import Schedule
from frontdesk.store import Store

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class FeatureResult:
    feature: str
    """login, logout or override."""
    extension: str
    accepted: bool
    detail: str = ""
    """What changed, for the log: the override now in force, say."""


def feature_of(config: Config, destination: str) -> str | None:
    """The feature a dialled number asks for, or None for a patient's call."""
    if config.features is None:
        return None
    return config.features.codes.get(destination)


def run_feature(
    session: CallSession,
    config: Config,
    store: Store,
    schedule: Schedule,
    now: datetime,
    set_login: Callable[[str, bool], None],
) -> FeatureResult:
    """Answer a feature-code call, act on it, confirm with a prompt and hang up. A login or
    logout goes through `set_login(extension, logged_in)` (`Daemon.set_staff_login`, as
    `frontdesk staff login|logout`)."""
    settings = config.features
    feature = feature_of(config, session.destination)
    assert settings is not None and feature is not None, "not a feature code"
    extension = session.caller_number
    session.execute("answer")
    if extension not in settings.extensions:
        result = FeatureResult(feature, extension, accepted=False, detail="extension refused")
        prompt = settings.refused_prompt
    elif feature == "override":
        prompt = _toggle_override(settings, store, schedule, now, extension)
        result = FeatureResult(feature, extension, True, describe_override(store, config, now))
    else:
        set_login(extension, feature == "login")
        prompt = settings.login_prompt if feature == "login" else settings.logout_prompt
        result = FeatureResult(feature, extension, accepted=True)
    session.execute("playback", config.prompts[prompt].uri)
    session.hangup("NORMAL_CLEARING")
    return result


def _toggle_override(
    settings: FeatureSettings, store: Store, schedule: Schedule, now: datetime, extension: str
) -> str:
    """Day/night button: an override in force is cleared; otherwise the practice is forced
    into the opposite of what the schedule says (open -> closed, anything else -> open).
    Returns the confirmation prompt's name."""
    if store.get_override(now=now) is not None:
        set_override(store, "auto", until=None, now=now, set_by=extension)
        return settings.schedule_prompt
    mode = "closed" if schedule.state_at(now).state == "open" else "open"
    set_override(store, mode, until=None, now=now, set_by=extension)
    return settings.closed_prompt if mode == "closed" else settings.open_prompt
