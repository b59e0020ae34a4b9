"""The daemon: takes calls from FreeSWITCH's outbound socket, keeps the control connection,
records every call, reloads its config on SIGHUP and stops cleanly on SIGTERM.

A caller talking with the staff does not need the daemon (see `frontdesk.esl.commands`): a stop
leaves those conversations up and their records open; after every connection to FreeSWITCH
the daemon looks for the calls a previous run left (`_resync_calls`), adopts those still in a
conversation (their record is completed when they hang up) and sends the others, whom nobody
controls any more, to the rest of the dialplan.
"""

from __future__ import annotations

import signal
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import cast
from zoneinfo import ZoneInfo

import gevent
import gevent.event
import gevent.util
import structlog

from frontdesk.agenda import Agenda, AgendaHealth, not_ready, open_agenda
from frontdesk.agenda.phone import AgendaLine
from frontdesk.agenda.reminders import ReminderDesk
from frontdesk.changes import Changes
from frontdesk.clock import Clock, RealClock
from frontdesk.config import ConfigError, load_config
from frontdesk.config.loader import may_dial
from frontdesk.config.model import AgendaSettings, Config, QueueNode
from frontdesk.console import Console
from frontdesk.control_socket import ControlSocketServer, socket_path
from frontdesk.esl import (
    ApplicationTimeout,
    CallGone,
    CallSession,
    ControlConnection,
    ESLError,
    Event,
    OutboundServer,
    commands,
    socket_token,
)
from frontdesk.esl.commands import caller_id
from frontdesk.features import feature_of, run_feature
from frontdesk.flow import CallFlow, CallResult
from frontdesk.hardening import freeswitch_peers
from frontdesk.housekeeping import DailyJobs
from frontdesk.logs import mask_number
from frontdesk.messages import MessageLinker
from frontdesk.panel import Panel
from frontdesk.queue import CONTROL_EVENTS as QUEUE_EVENTS
from frontdesk.queue import CallQueue
from frontdesk.queue.announce import Announcer
from frontdesk.queue.callbacks import CallbackDesk
from frontdesk.records import Records
from frontdesk.schedule import Schedule
from frontdesk.store import DaemonLock, Store, StoreError
from frontdesk.supervisor import Supervisor

log = structlog.get_logger(__name__)

LINGER_SECONDS = 10
"""FreeSWITCH keeps sending a call's last events this long after hangup (a record's partial
result, CHANNEL_HANGUP_COMPLETE); we close the socket ourselves as soon as the call is settled."""
HANGUP_CAUSE_WAIT = 2.0
CONTROL_EVENTS = ("CHANNEL_CREATE", "CHANNEL_HANGUP_COMPLETE", *QUEUE_EVENTS)
RESTART_ONLY_SECTIONS = ("freeswitch", "storage")
SERVED_REMEMBERED = 4096
"""Channels served, remembered until their CHANNEL_HANGUP_COMPLETE (a bound, for hang-ups
missed while the control connection was down)."""
OVERRIDE_WAIT = 0.5
"""Seconds a call waits for a read (the override's row, whether its Unique-ID is known)
before going on without it: a caller is never kept ringing by a busy database."""
RECORD_WAIT = 10.0
"""Seconds a finished call (nobody on the line any more; an adopted conversation too) waits
for its record to be written before it is reported finished: a record the database cannot
take now stays queued."""


@dataclass(frozen=True)
class LiveCall:
    """A patient's call in progress (for `frontdesk status`)."""

    uuid: str
    caller_number: str
    started_at: datetime
    flow: CallFlow


def staff_extensions(config: Config) -> tuple[str, ...]:
    """Every phone the queue may ring: the front desk's, the emergency list, the nodes'."""
    nodes = [n.extensions for n in config.flow.nodes.values() if isinstance(n, QueueNode)]
    groups = (config.frontdesk.extensions, config.emergency.extensions, *nodes)
    return tuple(dict.fromkeys(ext for group in groups for ext in group))


class Daemon:
    """One running frontdesk. `config_path` is re-read on `reload()`; calls keep the config
    they started with."""

    def __init__(
        self,
        config: Config,
        *,
        config_path: Path | None = None,
        clock: Clock | None = None,
        on_call_finished: Callable[[str, CallResult], None] | None = None,
    ) -> None:
        """Builds every part of the daemon (none runs before `start()`). Raises
        AlreadyRunning (frontdesk.store) before touching anything when another daemon runs on
        the same database. A database that cannot be opened (a full disk) does not stop it:
        calls are served, kept in memory, and recorded once it can be opened."""
        self.config = config
        self.on_call_finished = on_call_finished
        self.config_path = config_path
        self.clock: Clock = clock or RealClock()
        self.schedule = Schedule(config.schedule, config.practice)
        self._calls: dict[str, gevent.Greenlet] = {}
        self._kept: set[str] = set()
        """Conversations the stop leaves up (their greenlets end without hanging up)."""
        self._adopted: dict[str, dict] = {}
        """Records of conversations a previous run left up, by call uuid, until they end."""
        self._stopping = gevent.event.Event()
        self.announcer = Announcer(config, self.clock)
        self.live_calls: dict[str, LiveCall] = {}
        self.changes = Changes()
        """Told when a live call starts, moves on or ends, and when a staff login or the
        override is set here: the console's live view follows (frontdesk.console.live)."""
        self._served: dict[str, None] = {}
        """Channels this daemon took from the outbound socket; any other caller of the
        practice's line that ends was taken by the static fallback (frontdesk.messages)."""
        self._database_lock = DaemonLock(config.storage.database)
        self._database_lock.acquire()
        self.store = Store(config.storage.database, keep_trying=True, clock=self.clock)
        self.records = Records(self.store, log)
        """The store on the calls' path: a failing store never stops a call."""
        self.agenda: Agenda | None = open_agenda(config, self.store, self.clock)
        """Where calls book (frontdesk.agenda); None: requests are handed to the staff."""
        self.agenda_health = AgendaHealth()
        fs = config.freeswitch
        self.server = OutboundServer(
            fs.listen_host,
            fs.listen_port,
            self._handle_call,
            max_calls=fs.max_calls,
            allowed_peers=freeswitch_peers(fs),
            token=socket_token(fs.esl_password),
            application_timeout=fs.application_timeout,
        )
        self.control = ControlConnection(
            fs.esl_host,
            fs.esl_port,
            fs.esl_password,
            events=CONTROL_EVENTS,
            on_event=self._on_control_event,
            heartbeat_timeout=fs.heartbeat_timeout,
            reply_timeout=fs.command_timeout,
            max_backoff=fs.reconnect_max_delay,
            on_connect=self._on_control_connect,
            clock=self.clock,
        )
        self.queue = CallQueue(
            config.queue,
            extensions=staff_extensions(config),
            domain=fs.domain,
            control=self.control,
            record=self.records,
            clock=self.clock,
        )
        self.callbacks = CallbackDesk(
            self.queue,
            gateway=fs.gateway,
            country=config.practice.country,
            language=config.practice.language,
            may_call=self._may_call_back,
            dialable=lambda digits: may_dial(self.config, digits),
            desk_phones=lambda: self.config.frontdesk.extensions,
            record=self.records,
            clock=self.clock,
            presented=caller_id(config.presented_number, config.practice.name),
        )
        self.panel = Panel(config.panel, self)
        """The desk status panel (frontdesk.panel), started when [panel] enables it."""
        self.control_socket = ControlSocketServer(socket_path(config), self)
        """`frontdesk status` and `frontdesk staff` (frontdesk.control_socket)."""
        self.console = Console(self)
        """The receptionists' web console ([console]; frontdesk.console)."""
        self.messages = MessageLinker(self)
        self.supervisor = Supervisor(self)
        self.daily = DailyJobs(self)
        self.reminders = ReminderDesk(self)
        """Reminder calls before appointments ([reminders]; frontdesk.agenda.reminders)."""

    @classmethod
    def from_path(cls, path: Path, **kwargs) -> Daemon:
        return cls(load_config(path), config_path=path, **kwargs)

    # -- life cycle ---------------------------------------------------------------------

    def start(self) -> None:
        """Take calls; the control connection, the queue and the optional parts (panel,
        control socket) start."""
        fs = self.config.freeswitch
        queue = self.config.queue
        dials_out = self.config.numbers or queue.call_back_missed or queue.callback_key
        if dials_out and self.config.presented_number is None:
            log.warning("trunk.caller_id_missing",
                        effect="calls placed outside (callbacks, transfers) show no number: "
                        "set [trunk] caller_id")
        if not self.config.storage.messages.is_dir():
            # FreeSWITCH writes the callers' messages there and creates no directory: without
            # it every message is lost. The install creates it, shared with FreeSWITCH's group.
            log.error("messages.directory_missing", directory=str(self.config.storage.messages))
        self._check_agenda()
        self.messages.start()
        self.server.start()
        self.queue.start()
        self.callbacks.start()
        self.control.start()
        self.reminders.start()
        self._start_panel()
        try:
            self.control_socket.start()
        except OSError as error:  # optional part: the calls are served without it
            log.error("control.unavailable", socket=str(self.control_socket.path),
                      error=str(error))
        self._start_console()
        log.info(
            "daemon.started",
            listen=f"{fs.listen_host}:{self.server.port}",
            freeswitch=f"{fs.esl_host}:{fs.esl_port}",
            config_version=self.config.version,
        )

    def _check_agenda(self) -> None:
        """Tell the technician, at start and after a reload, what keeps callers from booking
        (they are put through to the desk meanwhile)."""
        try:
            problems = not_ready(self.config, self.store)
        except StoreError as error:
            log.warning("agenda.directory_unreadable", error=str(error))
            return
        for problem in problems:
            log.warning("agenda.not_ready", problem=problem)

    def _join(self, greenlets: list[gevent.Greenlet], seconds: float) -> None:
        """Wait until `greenlets` ended or `seconds` passed on the daemon's clock."""
        with self.clock.timeout(seconds, False):
            gevent.joinall(greenlets)

    @property
    def port(self) -> int:
        return self.server.port

    @property
    def active_calls(self) -> int:
        return len(self._calls)

    @property
    def freeswitch_connected(self) -> bool:
        return self.control.connected

    def stop(self, grace: float = 5.0) -> None:
        """Stop taking calls; conversations with the staff go on without the daemon (their
        records stay open for the next start to adopt); the calls in the flow or on hold get
        `grace` seconds, then are cut (their records say interrupted; FreeSWITCH's dialplan
        fallback takes those callers)."""
        self._stopping.set()
        self.reminders.stop()
        self.panel.stop()
        self.console.stop()
        self.control_socket.stop()
        self.messages.stop()
        self.server.stop()
        self.control.stop()
        self.callbacks.stop()
        self.queue.stop()
        calls = dict(self._calls)
        self._kept = {uuid for uuid, live in self.live_calls.items() if live.flow.talking}
        kept = [calls[uuid] for uuid in self._kept if uuid in calls]
        gevent.killall(kept, block=False)
        others = [call for uuid, call in calls.items() if uuid not in self._kept]
        self._join(others, grace)
        cut = [call for call in others if not call.dead]
        # killall(timeout=) would raise Timeout out of stop() (store left open) when a killed
        # call takes longer than `grace` to record itself as interrupted
        gevent.killall(cut, block=False)
        self._join(list(calls.values()), grace)
        self.store.close()
        self._database_lock.release()
        log.info("daemon.stopped", calls_cut=len(cut), conversations_kept=len(kept))

    def serve_forever(self) -> None:
        """Run until SIGTERM or SIGINT; SIGHUP reloads, SIGUSR1 logs every greenlet's stack.
        Under systemd, tells it the daemon is ready and keeps its watchdog fed; runs the daily
        jobs (frontdesk.housekeeping)."""
        self.supervisor.start()
        self.daily.start()
        handlers = [
            gevent.signal_handler(signal.SIGTERM, self._stopping.set),
            gevent.signal_handler(signal.SIGINT, self._stopping.set),
            gevent.signal_handler(signal.SIGHUP, lambda: gevent.spawn(self.reload)),
            gevent.signal_handler(signal.SIGUSR1, self._dump_stacks),
        ]
        try:
            self._stopping.wait()
        finally:
            for handler in handlers:
                handler.cancel()
            self.daily.stop()
            self.supervisor.stop()
            self.stop()

    def reload(self) -> bool:
        """Re-read the config file: a valid one applies to new calls, an invalid one is
        refused with every error logged and the running config stays."""
        if self.config_path is None:
            return False
        try:
            new = load_config(self.config_path)
        except ConfigError as error:
            for message in error.errors:
                log.error("config.reload_refused", error=message)
            return False
        for section in RESTART_ONLY_SECTIONS:
            if getattr(new, section) != getattr(self.config, section):
                log.warning("config.needs_restart", section=section)
        self.schedule = Schedule(new.schedule, new.practice)
        self.announcer = Announcer(new, self.clock)
        self.agenda = open_agenda(new, self.store, self.clock)
        self.queue.reconfigure(new.queue, staff_extensions(new))
        old_panel = (self.config.panel, self.config.practice.language)  # a sign shows words
        old_console = (self.config.console, self.config.network, self.config.practice.language)
        self.config = new
        if (new.console, new.network, new.practice.language) != old_console:
            self.console.stop()
            self._start_console()
        if (new.panel, new.practice.language) != old_panel:
            self.panel.stop()
            self.panel = Panel(new.panel, self)
            self._start_panel()
        log.info("config.reloaded", config_version=new.version)
        self._check_agenda()
        return True

    def _start_console(self) -> None:
        """An optional part: the calls are served without it."""
        try:
            self.console.start()
        except OSError as error:
            console = self.config.console
            log.error("console.unavailable", listen=f"{console.listen}:{console.port}",
                      error=str(error))

    def _start_panel(self) -> None:
        """An optional part: a broken panel is logged and the calls go on without it."""
        if not self.config.panel.enabled:
            return
        try:
            self.panel.start()
        except Exception:
            log.exception("panel.failed_to_start", port=self.config.panel.port)
            self.panel.stop()

    # -- calls --------------------------------------------------------------------------

    def _handle_call(self, session: CallSession) -> None:
        if self._stopping.is_set():
            session.close()
            return
        config, schedule = self.config, self.schedule
        session.connect()
        uuid = session.uuid
        records = self.records.bound(call=uuid)
        call_log = records.log
        if records(Store.call_known, uuid, timeout=OVERRIDE_WAIT):
            # FreeSWITCH never reuses a Unique-ID: another row must not be overwritten.
            call_log.warning("call.refused", reason="the Unique-ID of a recorded call")
            session.close()
            return
        self._calls[uuid] = cast(gevent.Greenlet, gevent.getcurrent())  # the server spawned it
        self._remember_served(uuid)
        if session.variable(commands.REMINDER) is not None:
            self._reminder_call(session, call_log)
            return
        if feature_of(config, session.destination) is not None:
            self._feature_call(session, config, schedule, call_log)
            return
        result = CallResult(outcome="failed")
        try:
            session.myevents()
            session.linger(LINGER_SECONDS)
            now = self.clock.wall()
            override = records(Store.get_override, now=now, timeout=OVERRIDE_WAIT)
            state = schedule.state_at(now, override)
            records(
                Store.call_started,
                uuid,
                caller_number=session.caller_number,
                caller_name=session.caller_name,
                destination=session.destination,
                started_at=now,
                schedule_state=state.state,
                schedule_detail=state.detail,
                config_version=config.version,
            )
            call_log.info(
                "call.started", caller=mask_number(session.caller_number), state=state.state
            )
            flow = CallFlow(
                session, config, state, clock=self.clock, queue=self.queue,
                announcer=self.announcer,
                agenda=self._agenda_line(config),
                on_progress=lambda so_far: self._progress(uuid, so_far, records),
                on_agenda_action=lambda action, appointment: records(
                    Store.agenda_action, uuid, action, appointment, at=self.clock.wall()
                ),
            )
            result = flow.result  # filled as the call goes, so a cut call keeps its path
            self.live_calls[uuid] = LiveCall(uuid, session.caller_number, now, flow)
            self.changes.notify()
            flow.run()
        except ApplicationTimeout as error:
            # FreeSWITCH never finished an application: stop its media and close the socket,
            # so that the dialplan fallback takes the caller.
            result.outcome = "failed"
            call_log.warning("call.application_timeout", error=str(error))
            self.queue.break_media(uuid)
        except (CallGone, ESLError) as error:
            call_log.warning("call.lost", error=str(error))
        except gevent.GreenletExit:
            if uuid not in self._kept:
                result.outcome = "interrupted"
            raise
        except Exception:
            # A bug must not take the daemon down: closing the socket hands the caller to
            # FreeSWITCH's dialplan fallback (every desk phone rings).
            result.outcome = "failed"
            call_log.exception("call.flow_failed")
        finally:
            if uuid in self._kept:
                self._keep(session, result, records)
            else:
                self._finish(session, result, records)

    def _agenda_line(self, config: Config) -> AgendaLine:
        """The agenda of `config` (the one the call started with) for the call's agenda
        nodes."""
        return AgendaLine(
            agenda=self.agenda,
            store=self.store,
            settings=config.agenda or AgendaSettings(),
            health=self.agenda_health,
            zone=ZoneInfo(config.practice.timezone),
            country=config.practice.country,
        )

    def _progress(self, uuid: str, so_far: CallResult, records: Records) -> None:
        records(Store.call_progress, uuid, **self._snapshot(so_far))
        self.changes.notify()

    def _snapshot(self, result: CallResult) -> dict:
        """What `Store.call_progress` keeps of a call in progress, now."""
        return {
            "path": [step.as_dict() for step in result.path],
            "reason": result.reason,
            "answered_at": result.answered_at,
            "answered_by": result.answered_by,
            "at": self.clock.wall(),
        }

    def _keep(self, session: CallSession, result: CallResult, records: Records) -> None:
        """The daemon stops during a conversation: the call goes on without it (the caller's
        channel has socket_resume=false); its record stays open for the next start."""
        session.close()
        records(Store.call_progress, session.uuid, **self._snapshot(result))
        self._record_recording(session.uuid, result, records)
        self._calls.pop(session.uuid, None)
        self.live_calls.pop(session.uuid, None)
        self.changes.notify()
        records.log.info("call.left_in_conversation", answered_by=result.answered_by)

    def _feature_call(
        self, session: CallSession, config: Config, schedule: Schedule, call_log
    ) -> None:
        """A feature code dialled from a desk phone (frontdesk.features): no patient flow."""
        try:
            session.myevents()
            session.linger(LINGER_SECONDS)
            outcome = run_feature(
                session, config, self.store, schedule, self.clock.wall(),
                lambda ext, login: self.set_staff_login(ext, login, by="phone"),
            )
            call_log.info(
                "feature.used",
                feature=outcome.feature,
                extension=outcome.extension,
                accepted=outcome.accepted,
                detail=outcome.detail,
            )
        except (CallGone, ESLError) as error:
            call_log.warning("feature.lost", error=str(error))
        except Exception:
            call_log.exception("feature.failed")
        finally:
            session.close()
            self._calls.pop(session.uuid, None)
            self.changes.notify()  # the override (*60) or a login may have changed

    def _reminder_call(self, session: CallSession, call_log) -> None:
        """A reminder call the patient answered (frontdesk.agenda.reminders): no call record,
        its answer is stored with the reminder."""
        try:
            session.myevents()
            session.linger(LINGER_SECONDS)
            self.reminders.converse(session)
        except (CallGone, ESLError) as error:
            call_log.warning("reminders.call_lost", error=str(error))
        except Exception:
            call_log.exception("reminders.call_failed")
        finally:
            session.close()
            self._calls.pop(session.uuid, None)

    def _finish(self, session: CallSession, result: CallResult, records: Records) -> None:
        session.hungup.wait(HANGUP_CAUSE_WAIT)
        session.close()
        records(
            Store.call_finished,
            session.uuid,
            ended_at=self.clock.wall(),
            answered_at=result.answered_at,
            path=[step.as_dict() for step in result.path],
            reason=result.reason,
            outcome=result.outcome,
            hangup_cause=session.hangup_cause,
            answered_by=result.answered_by,
            message_file=result.message_file,
            interrupted=result.outcome == "interrupted",
        )
        self._calls.pop(session.uuid, None)  # after the record: a resync never sees it open
        self.live_calls.pop(session.uuid, None)
        self.changes.notify()
        self._record_recording(session.uuid, result, records)
        self.store.flush(timeout=RECORD_WAIT)
        if self.on_call_finished is not None:
            self.on_call_finished(session.uuid, result)
        records.log.info(
            "call.finished",
            outcome=result.outcome,
            reason=result.reason,
            ended_at=result.end_node,
            hangup_cause=session.hangup_cause,
        )

    def _record_recording(self, uuid: str, result: CallResult, records: Records) -> None:
        if result.recording_file is not None:
            records(
                Store.set_recording,
                uuid,
                file=result.recording_file,
                purpose=result.recording_purpose or "",
            )

    # -- staff ----------------------------------------------------------------------------

    def set_staff_login(self, extension: str, login: bool, *, by: str) -> None:
        """A staff member logs in or out: the *50 / *51 feature codes (`by` "phone") and
        `frontdesk staff login|logout` ("cli"). Stored with its time; the queue rings (or no
        longer rings) the phone from now on."""
        event = "login" if login else "logout"
        self.records(Store.staff_event, extension, event, at=self.clock.wall())
        self.queue.set_logged_in(extension, login)
        self.changes.notify()
        log.info("staff.login" if login else "staff.logout", extension=extension, by=by)

    # -- control connection -------------------------------------------------------------

    def _on_control_connect(self) -> None:
        log.info("freeswitch.connected", calls_in_progress=self.active_calls)
        self.queue.reconcile()
        self.callbacks.check_gateway()
        self._resync_calls()

    def _resync_calls(self) -> None:
        """The practice's callers no session of ours serves (left by a previous run, or by a
        FreeSWITCH restart): a conversation still up with an open record (bridged, and
        `commands.TALKED`) is adopted; a caller
        nobody controls (socket_resume=false, not bridged: parked, or on endless hold music)
        goes to the static fallback; the open records of the others are ended as
        interrupted (the daemon lost those calls)."""
        rows = {row["uuid"]: row for row in self.records(Store.unfinished_calls) or []
                if row["uuid"] not in self._calls}
        try:
            channels = commands.live_channels(self.control.api(commands.SHOW_CHANNELS))
        except ESLError as error:
            log.warning("calls.resync_failed", error=str(error))
            return
        adopted = {
            uuid
            for uuid, channel in channels.items()
            if uuid not in self._calls
            and channel.get("direction") == "inbound"
            and channel.get("dest") != commands.AFTER_SOCKET  # in the dialplan's hands
            and self._resync_channel(uuid, rows.get(uuid))
        }
        lost = [uuid for uuid in rows if uuid not in adopted]
        for uuid in lost:
            self._adopted.pop(uuid, None)
        if lost:
            count = self.records(Store.mark_interrupted, lost)
            log.warning("calls.interrupted_by_previous_stop", count=count)

    def _resync_channel(self, uuid: str, row: dict | None) -> bool:
        """True when the call is (still) adopted."""
        call_log = log.bind(call=uuid)
        try:
            if self._variable(uuid, "bridge_to") is not None:
                if row is None or self._variable(uuid, commands.TALKED) != "true":
                    return False  # the static fallback's ring-all
                if uuid not in self._adopted:
                    self._adopted[uuid] = row
                    call_log.info("call.adopted", answered_by=row["answered_by"])
                return True
            if self._variable(uuid, "socket_resume") == "false":
                # Not bridged: whatever it says, the caller is not talking (cut while a
                # transfer rang, say): the static fallback, never a hang-up.
                self.control.api(commands.not_talking(uuid))
                self.control.api(commands.transfer_after_socket(uuid))
                call_log.warning("call.handed_to_dialplan")
        except ESLError as error:
            call_log.warning("call.resync_failed", error=str(error))
        return False

    def _variable(self, uuid: str, name: str) -> str | None:
        return commands.variable_value(self.control.api(commands.getvar(uuid, name)))

    def _adopted_call_ended(self, event: Event) -> None:
        row = self._adopted.pop(event.uuid, None)
        if row is not None:  # not from the reader greenlet: the store may be slow
            gevent.spawn(self._finish_adopted, row, event.get("Hangup-Cause"))

    def _finish_adopted(self, row: dict, hangup_cause: str | None) -> None:
        """An adopted conversation ended: its record as for a call answered by this run."""
        emergency = row["reason"] == "emergency"
        outside = row["answered_by"] in self.config.numbers
        outcome = ("emergency_" if emergency else "") + ("transferred" if outside else "answered")
        records = self.records.bound(call=row["uuid"])
        records(
            Store.call_finished,
            row["uuid"],
            ended_at=self.clock.wall(),
            answered_at=row["answered_at"],
            path=row["path"],
            reason=row["reason"],
            outcome=outcome,
            hangup_cause=hangup_cause,
            answered_by=row["answered_by"],
            message_file=row["message_file"],
        )
        self.store.flush(timeout=RECORD_WAIT)  # reported finished once recorded, as `_finish`
        records.log.info("call.finished", outcome=outcome, reason=row["reason"],
                         hangup_cause=hangup_cause, adopted=True)

    def _may_call_back(self) -> bool:
        """Callbacks are placed only while the practice is open (override included)."""
        now = self.clock.wall()
        override = self.records(Store.get_override, now=now, timeout=OVERRIDE_WAIT)
        return self.schedule.state_at(now, override).state == "open"

    def _on_control_event(self, event: Event) -> None:
        if event.name == "CHANNEL_HANGUP_COMPLETE":
            self._adopted_call_ended(event)
        self.queue.on_event(event)
        if event.name == "CHANNEL_HANGUP_COMPLETE":
            if event.uuid in self._served:
                del self._served[event.uuid]
            else:
                self.messages.call_ended_unserved(event)

    def _remember_served(self, uuid: str) -> None:
        self._served[uuid] = None
        while len(self._served) > SERVED_REMEMBERED:
            del self._served[next(iter(self._served))]

    def _dump_stacks(self) -> None:
        for line in gevent.util.format_run_info():  # type: ignore[func-returns-value, attr-defined]  # types-gevent says None; it returns the lines
            log.warning("debug.greenlets", line=line)
