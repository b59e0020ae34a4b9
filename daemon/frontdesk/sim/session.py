"""Outbound-socket sessions: one simulated caller whose call FreeSWITCH hands to the daemon."""

from __future__ import annotations

import os
import re
import time
import wave
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import gevent
import gevent.event
import gevent.queue
import structlog
from gevent import socket

from frontdesk.esl import no_delay
from frontdesk.esl.commands import AFTER_SOCKET, TALKED
from frontdesk.esl.outbound import TOKEN_VARIABLE

from . import _templates, _wav, _wire
from ._channel import Channel, SimEvent, new_uuid, now_us
from ._control import EventSink
from ._legs import RingResult

if TYPE_CHECKING:
    from .core import Simulator

log = structlog.get_logger(__name__)

_HANGUP = "hangup"
_DAEMON_GONE = "daemon-gone"
_WAKE = "wake"
_TRANSFER = "transfer"
_DIALSTATUS = {"NO_ANSWER": "NOANSWER", "USER_BUSY": "BUSY", "ORIGINATOR_CANCEL": "CANCEL"}
_DTMF_SECONDS = 0.2
_VARIABLE = re.compile(r"\$\{(?:strftime\(([^)]*)\)|([A-Za-z_][A-Za-z0-9_]*))\}")
PRACTICE_LINE = "5000"
"""The destination of freeswitch-conf's `frontdesk` extension (any other runs `features`)."""
FALLBACK_RING_SECONDS = 25.0
"""call_timeout of the static fallback in freeswitch-conf/dialplan/default.xml."""


@dataclass
class CallerScript:
    """What the simulated caller does.

    keys: one entry per play_and_get_digits try ("" = press nothing, "12" = 1 then 2);
    barge: key pressed during the first playback that the key can interrupt;
    hangup_after: simulated seconds after answer at which the caller hangs up;
    message_seconds: how long the caller speaks into a ``record`` before hanging up
    (None: the caller stays on the line and the recording runs to its maximum);
    patience: simulated seconds after answer the caller waits for a person: they hang up then
    unless bridged to someone or recording a message;
    talk_seconds: once bridged, the caller hangs up after this long (None: the other side ends);
    hold_key: key pressed once while on hold (a ``local_stream://`` playback: the music), at the
    earliest `hold_key_after` simulated seconds after answer; like FreeSWITCH it ends the
    playback (``playback_terminator_used``) when it is one of ``playback_terminators``, and is
    only a DTMF event otherwise;
    stuck_app: the first run of this application never completes (FreeSWITCH stuck on a
    stream or a file server), until ``uuid_break`` (for a media application) or hangup.
    """

    keys: Sequence[str] = ()
    barge: str | None = None
    hangup_after: float | None = None
    message_seconds: float | None = 5.0
    patience: float | None = None
    talk_seconds: float | None = None
    hold_key: str | None = None
    hold_key_after: float = 0.0
    stuck_app: str | None = None


@dataclass
class SimCall:
    """What happened to one simulated call, for tests to inspect."""

    uuid: str
    prompts_heard: list[str] = field(default_factory=list)
    apps: list[tuple[str, str]] = field(default_factory=list)
    bridged_to: str | None = None
    hangup_cause: str | None = None
    recorded: list[str] = field(default_factory=list)
    sessions_recorded: list[str] = field(default_factory=list)
    """Files of ``record_session`` (written when stopped or at hangup)."""
    dtmf_sent: list[str] = field(default_factory=list)
    daemon_unreachable: bool = False
    daemon_closed_midcall: bool = False
    fallback_ran: bool = False
    reached_hangup_after: bool = False
    """The call was still going at the script's `hangup_after`: the caller hung up then."""
    answered_after: float | None = None
    """Real seconds from the TCP connection to the daemon's `answer` (call set-up time)."""
    decision_latencies: list[float] = field(default_factory=list)
    """Real seconds from each menu completion carrying a key to the daemon's next command."""
    keys_delivered: list[tuple[str, float]] = field(default_factory=list)
    """(digits, `time.perf_counter()`) of each ``play_and_get_digits`` that accepted digits,
    taken as its CHANNEL_EXECUTE_COMPLETE (which carries them) is sent: the moment the daemon
    can know the caller's key, for benchmarks timing what follows it."""
    done: gevent.event.Event = field(default_factory=gevent.event.Event)

    def wait_done(self, timeout: float | None = None) -> bool:
        """Block until the call has ended (and its socket is closed); False on timeout."""
        return self.done.wait(timeout)


def media_seconds(path: str) -> float:
    """How long playing ``path`` takes, in simulated seconds (inf for endless streams)."""
    if path.startswith("silence_stream://"):
        try:
            return int(path[len("silence_stream://") :].split(",")[0]) / 1000
        except ValueError:
            return 1.0
    if path.startswith("tone_stream://"):
        return float("inf") if "loops=-1" in path else 1.0
    if path.startswith("local_stream://"):
        return float("inf")
    if os.path.isfile(path):
        try:
            with wave.open(path) as wav:
                return wav.getnframes() / wav.getframerate()
        except (wave.Error, EOFError, OSError):
            return 3.0
    return 3.0


class _Interrupted(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class OutboundSession:
    """Connects to the daemon like ``socket <addr> async full`` and runs its commands."""

    def __init__(
        self,
        sim: Simulator,
        script: CallerScript,
        caller_number: str,
        caller_name: str,
        destination: str,
        *,
        leg: Channel | None = None,
        address: tuple[str, int] | None = None,
    ) -> None:
        """A caller of the dialplan; or, given `leg` and `address`, a leg the control
        connection originated with ``&socket(<address> async full)`` (see `for_leg`)."""
        self.sim = sim
        self.script = script
        self.address = address or sim.daemon
        self.originated = leg is not None
        """An originated leg: its `socket` is its only application (no dialplan after it)."""
        uuid = leg.uuid if leg is not None else new_uuid()
        name = f"sofia/fsref/{caller_number}@127.0.0.1:5061"
        self.channel = leg or Channel(
            clock=sim.clock,
            uuid=uuid,
            name=name,
            direction="inbound",
            caller_number=caller_number,
            # sofia uses the From user as the name when the INVITE has no display name
            caller_name=caller_name or caller_number,
            destination=destination,
            username=caller_number,
            network_addr="127.0.0.1",
        )
        if leg is None:
            self.channel.variables = self._initial_variables()
        else:
            host, port = self.address
            leg.variables.update({"current_application": "socket",
                                  "current_application_data": f"{host}:{port} async full"})
        self.call = SimCall(uuid)
        self.keys = list(script.keys)
        self.sink: EventSink | None = None
        self.myevents = False
        self.linger: int | None = None
        self.queue: gevent.queue.Queue = gevent.queue.Queue()
        self.interrupt = gevent.event.Event()
        self.interrupt_reason = ""
        self.bridge_to: Channel | None = None
        self.running: str | None = None
        self.parked = False
        self.in_socket_app = True
        self.last_response = "_none_"
        self.barge_used = False
        self.hold_key_used = False
        self.stuck_used = False
        self.daemon_gone = gevent.event.Event()
        self.resumed = gevent.event.Event()
        """The daemon's socket closed with ``socket_resume=true``: the dialplan takes the call."""
        self.connected_at = 0.0
        self.accepted: str | None = None
        """Digits the running ``play_and_get_digits`` accepted."""
        self.decision_since: float | None = None
        self.settled = False
        self.session_recordings: dict[str, float] = {}
        """record_session files still recording -> simulated start time."""
        """Bridged to someone or leaving a message: patience no longer runs out."""
        self.log = log.bind(call_uuid=uuid)

    @classmethod
    def for_leg(
        cls, sim: Simulator, leg: Channel, script: CallerScript, address: tuple[str, int]
    ) -> OutboundSession:
        """An answered leg of ``originate … '&socket(host:port async full)'``: its channel
        data shows the originated call (outbound, the number called as destination, the
        originate's variables)."""
        return cls(sim, script, leg.caller_number, leg.caller_name, leg.destination, leg=leg,
                   address=address)

    def _initial_variables(self) -> dict[str, str]:
        ch = self.channel
        host, port = self.sim.daemon
        number = ch.caller_number
        values = {
            "uuid": ch.uuid,
            "call_uuid": ch.uuid,
            "channel_name": ch.name,
            "sip_from_user": number,
            "sip_from_user_stripped": number,
            "sip_from_uri": f"{number}@127.0.0.1:5061",
            "sip_contact_user": number,
            "sip_contact_uri": f"{number}@127.0.0.1:5061",
            "sip_from_display": ch.caller_name,
            "sip_full_from": f'"{ch.caller_name}" <sip:{number}@127.0.0.1:5061>;tag=sim',
            "sip_full_to": f"<sip:{ch.destination}@127.0.0.1:5080>",
            "sip_req_user": ch.destination,
            "sip_req_uri": f"{ch.destination}@127.0.0.1:5080",
            "sip_to_user": ch.destination,
            "sip_to_uri": f"{ch.destination}@127.0.0.1:5080",
            "sip_call_id": f"sim-{ch.uuid}@127.0.0.1",
            "sip_invite_stamp": str(ch.created_us),
            "current_application_data": f"{host}:{port} async full",
            "socket_host": host,
        }
        out = {}
        for name, default in _templates.CALLER_VARS:
            value = values.get(name, default)
            if value:
                out[name] = value
            if name == "continue_on_fail":  # the shipped dialplan's next `set`s, before `socket`
                if self.sim.socket_resume:
                    out["socket_resume"] = "true"
                out[TOKEN_VARIABLE] = self.sim.socket_token
        return out

    # ---- lifecycle

    def start(self) -> None:
        if self.originated:  # created and answered already
            self._start_timers()
        else:
            self.sim.fire_channel(self.channel, "CHANNEL_CREATE")
        gevent.spawn(self._run)

    def _run(self) -> None:
        try:
            sock = socket.create_connection(self.address, timeout=5)
            sock.settimeout(None)
            no_delay(sock)
            self.connected_at = time.perf_counter()
        except OSError as exc:
            self.log.info("sim.daemon_unreachable", error=str(exc))
            self.call.daemon_unreachable = True
            self._after_socket()
            self._teardown()
            return
        self.sink = EventSink(self.sim, sock, "outbound")
        reader = gevent.spawn(self._read, sock)
        try:
            self._execute_loop()
            self._teardown()
        finally:
            reader.kill()

    def abort(self) -> None:
        """The simulator stops: end the call at once."""
        self.hangup("MANAGER_REQUEST", by="sim")

    # ---- commands from the daemon

    def _read(self, sock: socket.socket) -> None:
        reader = _wire.CommandReader(sock)
        while True:
            cmd = reader.read()
            if cmd is None:
                break
            if cmd.line and not self._command(cmd):
                break
        if self.sink is not None:
            self.sink.close()
        self.daemon_gone.set()
        if not self.channel.hungup:
            self.log.info("sim.daemon_closed_midcall")
            self.call.daemon_closed_midcall = True
            if self.channel.variables.get("socket_resume") == "true" or self.originated:
                self._resume()
            self.queue.put(_DAEMON_GONE)

    def _resume(self) -> None:
        """``socket_resume=true``: the call leaves the daemon at once. A bridge ends (the
        staff leg is hung up), hold music stops; any other application plays to its end."""
        self.resumed.set()
        playing = self.channel.variables.get("current_application_data", "")
        if self.running == "playback" and playing.startswith("local_stream://"):
            self.interrupt_reason = "resumed"
            self.interrupt.set()

    def _reply(self, text: str) -> None:
        assert self.sink is not None
        self.sink.send(_wire.command_reply(text))

    def _command(self, cmd: _wire.Command) -> bool:
        assert self.sink is not None
        if self.decision_since is not None:
            self.call.decision_latencies.append(time.perf_counter() - self.decision_since)
            self.decision_since = None
        verb = cmd.verb
        if verb == "connect":
            self.sink.send(_wire.connect_reply(self.channel.channel_data(self.sim.events)))
        elif verb == "myevents":
            self.myevents = True
            self.sink.format = "json" if "json" in cmd.arg.split() else "plain"
            self._reply("+OK Events Enabled")
        elif verb == "linger":
            seconds = int(cmd.arg) if cmd.arg.strip().isdigit() else -1
            self.linger = seconds
            self._reply(f"+OK will linger {seconds} seconds" if seconds >= 0 else "+OK will linger")
        elif verb == "nolinger":
            self.linger = None
            self._reply("+OK will not linger")
        elif verb == "event":
            self._reply(self.sink.subscribe(cmd.arg))
        elif verb == "sendmsg":
            self._sendmsg(cmd)
        elif verb == "api":
            text, after = self.sim.api(cmd.arg)
            self.sink.send(_wire.api_response(text))
            if after is not None:
                after()
        elif verb == "exit":
            self._reply("+OK bye")
            return False
        else:
            self._reply("-ERR command not found")
        return True

    def _sendmsg(self, cmd: _wire.Command) -> None:
        headers = {k.lower(): v for k, v in cmd.headers.items()}
        command = headers.get("call-command", "")
        self._reply("+OK")
        if command == "execute":
            app = headers.get("execute-app-name", "")
            arg = headers.get("execute-app-arg", "")
            if not arg and cmd.body:
                arg = cmd.body.strip()
            self.queue.put((app, arg, cmd.headers.get("Event-UUID") or new_uuid()))
        elif command == "hangup":
            cause = headers.get("hangup-cause", "NORMAL_CLEARING")
            gevent.spawn(self.hangup, cause, "daemon")

    def deliver(self, event: SimEvent) -> None:
        sink = self.sink
        if sink is None or sink.closed:
            return
        if (self.myevents and event.uuid == self.channel.uuid) or sink.wants(event):
            sink.send(sink.render(event))

    # ---- call control from the caller / the control connection

    def hangup(self, cause: str, by: str) -> None:
        ch = self.channel
        if ch.hungup:
            return
        self.log.info("sim.hangup", cause=cause, by=by)
        ch.mark_hangup(cause)
        ch.variables.pop("current_loop", None)
        ch.variables.pop("total_loops", None)
        ch.variables.update(
            {
                "sip_term_status": "200",
                "proto_specific_hangup_cause": "sip:200",
                "sip_term_cause": ch.variables.get("hangup_cause_q850", "16"),
                "sip_hangup_disposition": "recv_bye" if by == "caller" else "send_bye",
            }
        )
        self.call.hangup_cause = cause
        self.sim.fire_channel(ch, "CHANNEL_HANGUP")
        if self.linger is None and self.sink is not None:
            self.sink.send(
                _wire.disconnect_notice(
                    [("Controlled-Session-UUID", ch.uuid), ("Content-Disposition", "disconnect")]
                )
            )
            self.sink.close()
        self.queue.put(_HANGUP)

    def break_media(self) -> None:
        if self.running in ("playback", "play_and_get_digits", "record"):
            self.interrupt_reason = "break"
            self.interrupt.set()

    def broadcast(self, path: str) -> None:
        self.queue.put(("playback", path, ""))

    def transfer(self) -> None:
        """``uuid_transfer`` to the after-socket extension: what runs stops, the caller leaves
        any park and runs that extension."""
        if self.running is not None:
            self.interrupt_reason = "transfer"
            self.interrupt.set()
        self.queue.put(_TRANSFER)

    def uuid_bridge(self, other: Channel) -> None:
        self.bridge_to = other
        if self.running is not None:
            self.interrupt_reason = "bridge"
            self.interrupt.set()
        self.queue.put(_WAKE)

    # ---- executing applications

    def _execute_loop(self) -> None:
        while not self.channel.hungup:
            if self.bridge_to is not None:
                self._uuid_bridged(self.bridge_to)
                continue
            item = self.queue.get()
            if item == _HANGUP:
                break
            if item == _DAEMON_GONE and not self.resumed.is_set():
                continue  # nobody controls the call any more: it stays where it is, in silence
            if item in (_DAEMON_GONE, _TRANSFER):
                self._after_socket()
                break
            if item == _WAKE:
                continue
            app, arg, event_uuid = item
            if self.channel.hungup or not self.in_socket_app and not self.parked:
                continue
            if not self.parked:
                self.parked = True
                self.sim.fire_channel(self.channel, "CHANNEL_PARK")
            self._execute(app, arg, event_uuid)

    def _pause(self, seconds: float) -> None:
        """Let simulated time pass; raises _Interrupted on hangup / uuid_break / uuid_bridge."""
        timeout = None if seconds == float("inf") else seconds
        self.sim.clock.wait([self.channel.ended, self.interrupt], timeout)
        if self.channel.hungup:
            raise _Interrupted("hangup")
        if self.interrupt.is_set():
            self.interrupt.clear()
            raise _Interrupted(self.interrupt_reason)

    def _execute(self, app: str, arg: str, event_uuid: str) -> None:
        ch = self.channel
        handler = _APPS.get(app)
        if handler is None:
            # switch_core_session_execute_application(): "Invalid Application", no events.
            self.log.warning("sim.invalid_application", app=app)
            self.call.apps.append((app, arg))
            self.hangup("DESTINATION_OUT_OF_ORDER", by="sim")
            return
        self.call.apps.append((app, arg))
        ch.last_app, ch.last_arg = app, arg
        ch.variables["current_application"] = app
        if arg:
            ch.variables["current_application_data"] = arg
        else:
            ch.variables.pop("current_application_data", None)
        ch.variables.pop("current_application_response", None)
        data = [("Application-Data", arg)] if arg else []
        self.sim.fire_channel(
            ch,
            "CHANNEL_EXECUTE",
            last=[("Application", app), *data, ("Application-UUID", event_uuid)],
        )
        if app == self.script.stuck_app and not self.stuck_used:
            self.stuck_used, handler = True, OutboundSession._app_stuck
        self.running = app
        self.interrupt.clear()
        try:
            response, after = handler(self, arg)
        finally:
            self.running = None
        if response != "_none_":
            ch.variables["current_application_response"] = response
        self.last_response = response
        if self.accepted is not None:
            self.decision_since = time.perf_counter()
            self.call.keys_delivered.append((self.accepted, self.decision_since))
            self.accepted = None
        self.sim.fire_channel(
            ch,
            "CHANNEL_EXECUTE_COMPLETE",
            last=[
                ("Application", app),
                *data,
                ("Application-Response", response),
                ("Application-UUID", event_uuid),
            ],
        )
        if after is not None:
            after()

    def _send_dtmf(self, digit: str) -> None:
        self.call.dtmf_sent.append(digit)
        dialed = self.channel.variables.get("digits_dialed", "")
        self.channel.variables["digits_dialed"] = dialed + digit
        self.sim.fire_channel(
            self.channel,
            "DTMF",
            last=[("DTMF-Digit", digit), ("DTMF-Duration", "2000"), ("DTMF-Source", "RTP")],
        )

    def _app_stuck(self, _arg: str) -> tuple[str, Callback]:
        """See CallerScript.stuck_app."""
        try:
            self._pause(float("inf"))
        except _Interrupted:
            pass
        return "_none_", None

    def _app_answer(self, _arg: str) -> tuple[str, Callback]:
        ch = self.channel
        if ch.answered_us:
            return "_none_", None
        ch.mark_answered()
        self.call.answered_after = time.perf_counter() - self.connected_at
        ch.call_state = "RINGING"  # CHANNEL_ANSWER still says RINGING in the captures
        ch.variables.update(_templates.ANSWER_VARS)
        self.sim.fire_channel(ch, "CHANNEL_ANSWER")
        ch.call_state = "ACTIVE"
        ch.variables["endpoint_disposition"] = "ANSWER"
        self._start_timers()
        return "_none_", None

    def _start_timers(self) -> None:
        """From the answer: the script's `hangup_after` and `patience`."""
        if self.script.hangup_after is not None:
            self.sim.clock.call_later(self.script.hangup_after, self._hangup_after)
        if self.script.patience is not None:
            self.sim.clock.call_later(self.script.patience, self._patience_over)

    def _hangup_after(self) -> None:
        if not self.channel.hungup:
            self.call.reached_hangup_after = True
            self.hangup("NORMAL_CLEARING", by="caller")

    def _patience_over(self) -> None:
        if not self.settled:
            self.hangup("NORMAL_CLEARING", by="caller")

    def _app_set(self, arg: str) -> tuple[str, Callback]:
        name, _, value = arg.partition("=")
        if value:
            self.channel.variables[name.strip()] = value
        else:
            self.channel.variables.pop(name.strip(), None)
        return "_none_", None

    def _terminators(self) -> str:
        return self.channel.variables.get("playback_terminators", "*")

    def _play(self, path: str, *, barge_ok: bool) -> str:
        """Play one file; returns the terminator digit that stopped it, or ''."""
        ch = self.channel
        self.call.prompts_heard.append(path)
        ch.variables.pop("playback_terminator_used", None)
        length = media_seconds(path)
        barge = self.script.barge
        terminators = self._terminators()
        if (
            barge_ok
            and barge
            and not self.barge_used
            and (terminators == "any" or barge in terminators)
        ):
            self.barge_used = True
            self._pause(min(length, 1.0) / 2)
            self._send_dtmf(barge)
            played = min(length, 1.0) / 2
            ch.variables["playback_terminator_used"] = barge
            self._playback_vars(played)
            return barge
        if path.startswith("local_stream://") and self.script.hold_key and not self.hold_key_used:
            return self._hold_key(self.script.hold_key, terminators)
        self._pause(length)
        self._playback_vars(length)
        return ""

    def _hold_key(self, key: str, terminators: str) -> str:
        """Hold music until the caller presses `key` (see CallerScript.hold_key)."""
        since_answer = self.sim.clock.now() - self.channel.answered_at
        self._pause(max(self.script.hold_key_after - since_answer, 0.0))
        self.hold_key_used = True
        self._send_dtmf(key)
        if terminators != "any" and key not in terminators:
            self._pause(float("inf"))
        self.channel.variables["playback_terminator_used"] = key
        self._playback_vars(0.0)
        return key

    def _playback_vars(self, seconds: float) -> None:
        samples = int(seconds * 8000) if seconds != float("inf") else 0
        self.channel.variables.update(
            {
                "playback_last_offset_pos": str(samples),
                "playback_seconds": str(samples // 8000),
                "playback_ms": str(samples // 8),
                "playback_samples": str(samples),
            }
        )

    def _app_playback(self, arg: str) -> tuple[str, Callback]:
        if arg.startswith("local_stream://") and not self.sim.has_stream(arg):
            # "Unknown source moh, trying 'default'" / "Unknown source default": at once.
            self.call.prompts_heard.append(arg)
            return "FILE NOT FOUND", None
        try:
            self._play(arg, barge_ok=True)
        except _Interrupted as stop:
            if stop.reason == "bridge":
                return "PLAYBACK ERROR", None
        return "FILE PLAYED", None

    def _app_play_and_get_digits(self, arg: str) -> tuple[str, Callback]:
        parts = arg.split()
        if len(parts) < 9:
            return "_none_", None
        min_digits, max_digits, tries = int(parts[0]), int(parts[1]), int(parts[2])
        timeout_ms, terminators, prompt, invalid, var, regex = (
            int(parts[3]),
            parts[4],
            parts[5],
            parts[6],
            parts[7],
            parts[8],
        )
        ch = self.channel
        ch.variables.pop(var, None)
        result = "failure"
        try:
            for _ in range(max(tries, 1)):
                entry = self.keys.pop(0) if self.keys else ""
                self.call.prompts_heard.append(prompt)
                if not entry:
                    self._pause(media_seconds(prompt) + timeout_ms / 1000)
                    self._play(invalid, barge_ok=False)
                    result = "failure"
                    continue
                self._pause(min(media_seconds(prompt), 1.0))
                digits = ""
                for key in entry:
                    self._send_dtmf(key)
                    if key in terminators:
                        ch.variables["read_terminator_used"] = key
                        break
                    digits += key
                    self._pause(_DTMF_SECONDS)
                digits = digits[:max_digits]
                result = "success"
                if len(digits) >= min_digits and re.search(regex, digits):
                    ch.variables[var] = digits
                    self.accepted = digits
                    break
                ch.variables[f"{var}_invalid"] = digits
                self._play(invalid, barge_ok=False)
        except _Interrupted:
            pass
        ch.variables["read_result"] = result
        return "_none_", None

    def _app_record(self, arg: str) -> tuple[str, Callback]:
        parts = arg.split()
        path = parts[0] if parts else ""
        max_s = float(parts[1]) if len(parts) > 1 else 0.0
        speak = self.script.message_seconds
        length = max_s if speak is None or (max_s and speak > max_s) else speak
        hang_up = speak is not None and (not max_s or speak <= max_s)
        started = self.sim_now()
        self.settled = True
        self.call.recorded.append(path)
        try:
            self._pause(length)
            recorded = length
        except _Interrupted:
            recorded = min(length, self.sim_now() - started)
        if hang_up and not self.channel.hungup:
            self.hangup("NORMAL_CLEARING", by="caller")
        self._record_vars(path, recorded)
        return "_none_", None

    def sim_now(self) -> float:
        """Simulated seconds since an arbitrary origin."""
        return self.sim.clock.now()

    def _write_wav(self, path: str, samples: int) -> None:
        if path and os.path.isdir(os.path.dirname(path)):  # a bare name is not written
            try:
                with open(path, "wb") as wav:
                    wav.write(_wav.wav_bytes(samples, self.channel.variables))
            except OSError as exc:
                self.log.warning("sim.record_write_failed", path=path, error=str(exc))

    def _record_vars(self, path: str, seconds: float) -> None:
        samples = int(seconds * 8000)
        size = 44 + samples * 2
        self._write_wav(path, samples)
        self.channel.variables.update(
            {
                "silence_hits_exhausted": "false",
                "record_record_file_size": str(size),
                "record_file_size": str(size),
                "record_seconds": str(samples // 8000),
                "record_ms": str(samples // 8),
                "record_samples": str(samples),
            }
        )

    def _app_record_session(self, arg: str) -> tuple[str, Callback]:
        """Like FreeSWITCH: completes at once; the file records until stopped or hangup."""
        path = arg.split()[0] if arg.split() else ""
        self.call.sessions_recorded.append(path)
        self.session_recordings[path] = self.sim_now()
        return "_none_", None

    def _app_stop_record_session(self, arg: str) -> tuple[str, Callback]:
        self._stop_session_recording(arg.strip())
        return "_none_", None

    def _stop_session_recording(self, path: str) -> None:
        started = self.session_recordings.pop(path, None)
        if started is not None:
            self._write_wav(path, int((self.sim_now() - started) * 8000))

    def _app_sleep(self, arg: str) -> tuple[str, Callback]:
        try:
            self._pause(int(arg or "0") / 1000)
        except (_Interrupted, ValueError):
            pass
        return "_none_", None

    def _app_hangup(self, arg: str) -> tuple[str, Callback]:
        self.hangup(arg.strip() or "NORMAL_CLEARING", by="daemon")
        return "_none_", None

    def _app_bridge(self, arg: str) -> tuple[str, Callback]:
        ch = self.channel
        result = self.sim.dial(arg, channel_vars=dict(ch.variables), caller=ch, abort=ch.ended)
        if result.winner is None:
            self.sim.release(result)
            status = _DIALSTATUS.get(result.cause, result.cause)
            ch.variables.update(
                {
                    "originate_disposition": result.cause,
                    "DIALSTATUS": status,
                    "originate_failed_cause": result.cause,
                }
            )
            return "_none_", None
        gevent.spawn(self.sim.release, RingResult(losers=result.losers))
        winner = result.winner
        self.call.bridged_to = winner.target
        ch.variables.update(
            {
                "originate_disposition": "SUCCESS",
                "DIALSTATUS": "SUCCESS",
                "signal_bond": winner.leg.uuid,
            }
        )
        if winner.target.startswith("user/"):
            ext, _, domain = winner.target[5:].partition("@")
            ch.variables.update({"dialed_user": ext, "dialed_domain": domain or "127.0.0.1"})
        gevent.spawn(self.sim.talk, winner)
        return "_none_", self._talk_bridged(winner.leg, via_app=True)

    def _link(self, leg: Channel) -> None:
        ch = self.channel
        ch.other, ch.other_type = leg, "originatee"
        leg.other, leg.other_type = ch, "originator"
        ch.callee_name, ch.callee_number = leg.callee_name, leg.callee_number
        ch.bridged_us = leg.bridged_us = now_us(self.sim.clock)
        leg.bridged.set()
        ch.variables.update(
            {
                "bridge_to": leg.uuid,
                "last_bridge_to": leg.uuid,
                "bridge_channel": leg.name,
                "bridge_uuid": leg.uuid,
                "last_sent_callee_id_name": leg.callee_name,
                "last_sent_callee_id_number": leg.callee_number,
                "last_bridge_role": "originator",
            }
        )
        self.sim.fire_channel(
            ch,
            "CHANNEL_BRIDGE",
            first=[("Bridge-A-Unique-ID", ch.uuid), ("Bridge-B-Unique-ID", leg.uuid)],
        )

    def _talk_bridged(self, leg: Channel, *, via_app: bool) -> Callback:
        """Bridge the caller to ``leg`` until one side hangs up.

        Returns what to do after the bridge application's completion (None if nothing)."""
        ch = self.channel
        self._link(leg)
        self.settled = True
        talk = self.script.talk_seconds
        if not self.sim.clock.wait([leg.ended, ch.ended, self.resumed], talk):
            self.hangup("NORMAL_CLEARING", by="caller")
        caller_first = ch.hungup
        resumed = not caller_first and not leg.hungup  # the socket closed, socket_resume=true
        if caller_first or resumed:
            leg.mark_hangup(ch.hangup_cause or "NORMAL_CLEARING")
        self._link_ended(leg)
        if caller_first or resumed:
            return None
        if ch.variables.get("hangup_after_bridge") == "true":
            cause = leg.hangup_cause or "NORMAL_CLEARING"
            if via_app:
                self.hangup(cause, by="bridge")
                return None
            return lambda: self.hangup(cause, by="bridge")
        return None

    def _link_ended(self, leg: Channel) -> None:
        ch = self.channel
        ch.variables.pop("bridge_to", None)
        ch.variables["bridge_hangup_cause"] = leg.hangup_cause
        self.sim.end_leg(leg, leg.hangup_cause)
        self.sim.fire_channel(
            ch,
            "CHANNEL_UNBRIDGE",
            first=[("Bridge-A-Unique-ID", ch.uuid), ("Bridge-B-Unique-ID", leg.uuid)],
        )

    def _uuid_bridged(self, leg: Channel) -> None:
        """The control connection bridged this caller: the socket application returns."""
        ch = self.channel
        self.bridge_to = None
        if self.parked:
            self.sim.fire_channel(ch, "CHANNEL_UNPARK")
            self.parked = False
        self._socket_complete()
        for state in ("CS_HIBERNATE", "CS_RESET", "CS_SOFT_EXECUTE"):
            ch.state = state
            self.sim.fire_channel(ch, "CHANNEL_STATE")
        ch.state = "CS_EXECUTE"
        self.sim.fire_channel(
            ch,
            "CHANNEL_EXECUTE",
            last=[("Application", "uuid_bridge"), ("Application-Data", leg.uuid)],
        )
        self.call.bridged_to = leg.name
        # uuid_bridge gives both legs a new caller profile that records the transfer
        epoch = now_us(self.sim.clock) // 1_000_000
        for one, other in ((ch, leg), (leg, ch)):
            one.transfer_source = f"{epoch}:{new_uuid()}:uuid_br:{other.uuid}"
            one.callee_name = ""
        after = self._talk_bridged(leg, via_app=False)
        if after is not None:
            after()
        if ch.hungup:
            return
        if ch.variables.get("park_after_bridge") == "true" and not self.resumed.is_set():
            ch.state = "CS_PARK"
            self.sim.fire_channel(ch, "CHANNEL_STATE")
            self.parked = True
            self.in_socket_app = False
            self.sim.fire_channel(ch, "CHANNEL_PARK")
            return
        self._after_socket()

    def _after_socket(self) -> None:
        """The rest of the practice line's extension: ``transfer`` to `AFTER_SOCKET`, which
        hangs up a caller who talked with the desk and gives any other the static fallback
        (freeswitch-conf/dialplan/default.xml). A feature code's extension ends instead with
        an error tone and a hang-up."""
        ch = self.channel
        if ch.hungup:
            return
        self.in_socket_app = False
        if self.originated:  # nothing to run after `socket`: FreeSWITCH hangs the leg up
            self.hangup("NORMAL_CLEARING", by="dialplan")
            return
        if ch.destination != PRACTICE_LINE:
            self._feature_unavailable()
            return
        ch.destination = AFTER_SOCKET
        if ch.variables.get(TALKED) == "true":
            self.hangup("NORMAL_CLEARING", by="dialplan")
            return
        self._fallback()

    def _feature_unavailable(self) -> None:
        """The rest of the shipped dialplan's `features` extension (the daemon did not take
        the feature code): answer, an error tone, hang up."""
        self.call.fallback_ran = True
        for app, arg in (
            ("answer", ""),
            ("playback", "tone_stream://%(250,250,480,620);loops=4"),
            ("hangup", "SERVICE_UNAVAILABLE"),
        ):
            if self.channel.hungup:
                return
            self._execute(app, arg, new_uuid())

    def _socket_complete(self) -> None:
        if not self.in_socket_app:
            return
        self.in_socket_app = False
        host, port = self.address
        self.sim.fire_channel(
            self.channel,
            "CHANNEL_EXECUTE_COMPLETE",
            calling_key="CHANNEL_EXECUTE_COMPLETE/socket",
            last=[
                ("Application", "socket"),
                ("Application-Data", f"{host}:{port} async full"),
                ("Application-Response", self.last_response),
                ("Application-UUID", new_uuid()),
            ],
        )

    def _fallback(self) -> None:
        """The dialplan after ``socket``. Without `Simulator.fallback_extensions`: the
        captures' tone, fallback prompt, hangup. With them, the static fallback we ship
        (freeswitch-conf/dialplan/default.xml): answer, ring those desk phones together for
        `FALLBACK_RING_SECONDS` (the dialplan's call_timeout), then the fallback prompt, a
        tone and a ``record`` of the caller's message; a caller whose patience runs out before
        the record hangs up."""
        if self.channel.hungup:
            return
        self.call.fallback_ran = True
        if not self.sim.fallback_extensions:
            self.call.prompts_heard += [
                "tone_stream://%(400,200,480,620);loops=2",
                "fallback.wav",
            ]
            if self.sim.clock.wait(self.channel.ended, 4.0):
                return
            self.hangup("NORMAL_TEMPORARY_FAILURE", by="dialplan")
            return
        self.in_socket_app = False
        ring_all = ",".join(f"user/{ext}" for ext in self.sim.fallback_extensions)
        name = "fallback-${strftime(%Y%m%d-%H%M%S)}-${uuid}.wav"
        message = os.path.join(self.sim.fallback_messages, name)
        steps = [
            ("answer", ""),
            ("set", "ignore_early_media=true"),
            ("set", f"call_timeout={FALLBACK_RING_SECONDS:g}"),
            ("set", "hangup_after_bridge=true"),
            ("bridge", ring_all),
            ("playback", self.sim.fallback_prompt),
            ("set", "playback_terminators=#"),
            ("set", "RECORD_ARTIST=${caller_id_number}"),
            ("set", "RECORD_COMMENT=frontdesk static fallback message"),
            ("playback", "tone_stream://%(300,0,1000)"),
            ("record", f"{message} 120 200 3"),
            ("hangup", "NORMAL_CLEARING"),
        ]
        for app, arg in steps:
            if self.channel.hungup:
                return
            self._execute(app, self._expand(arg), new_uuid())

    def _expand(self, text: str) -> str:
        """The dialplan's ``${variable}`` and ``${strftime(format)}`` (local wall-clock time,
        as FreeSWITCH's), expanded when the action runs."""
        ch = self.channel
        known = {"uuid": ch.uuid, "caller_id_number": ch.caller_number,
                 "caller_id_name": ch.caller_name, **ch.variables}

        def value(match: re.Match[str]) -> str:
            fmt, name = match.groups()
            return time.strftime(fmt) if fmt is not None else known.get(name, "")

        return _VARIABLE.sub(value, text)

    def _teardown(self) -> None:
        ch = self.channel
        if not ch.hungup:
            self.hangup("NORMAL_CLEARING", by="sim")
        for path in list(self.session_recordings):
            self._stop_session_recording(path)
        if self.parked:
            self.sim.fire_channel(ch, "CHANNEL_UNPARK")
        self._socket_complete()
        ch.state = "CS_HANGUP"
        self.sim.fire_channel(ch, "CHANNEL_STATE")
        ch.state = "CS_REPORTING"
        ch.call_state = "HANGUP"
        self.sim.fire_channel(ch, "CHANNEL_STATE")
        ch.finish_variables()
        self.sim.fire_channel(
            ch, "CHANNEL_HANGUP_COMPLETE", first=[("Hangup-Cause", ch.hangup_cause)]
        )
        self.sim.session_ended(self)
        sink = self.sink
        if sink is not None and not sink.closed and self.linger is not None:
            sink.send(_wire.linger_notice(ch.uuid, ch.name, self.linger))
            # linger -1: FreeSWITCH waits for the daemon to close the socket.
            self.sim.clock.wait(self.daemon_gone, self.linger if self.linger >= 0 else None)
            sink.send(
                _wire.disconnect_notice(
                    [("Controlled-Session-UUID", ch.uuid), ("Content-Disposition", "disconnect")]
                )
            )
            sink.close()
        self.call.done.set()


Callback = Callable[[], None] | None

_APPS: dict[str, Callable[[OutboundSession, str], tuple[str, Callback]]] = {
    "answer": OutboundSession._app_answer,
    "set": OutboundSession._app_set,
    "playback": OutboundSession._app_playback,
    "play_and_get_digits": OutboundSession._app_play_and_get_digits,
    "record": OutboundSession._app_record,
    "record_session": OutboundSession._app_record_session,
    "stop_record_session": OutboundSession._app_stop_record_session,
    "bridge": OutboundSession._app_bridge,
    "hangup": OutboundSession._app_hangup,
    "sleep": OutboundSession._app_sleep,
}
