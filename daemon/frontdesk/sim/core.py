"""The simulator: a FreeSWITCH stand-in speaking real ESL over TCP."""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Callable, Mapping, Sequence
from xml.sax.saxutils import escape as xml_escape

import gevent
import structlog
from gevent import socket
from gevent.server import StreamServer

from frontdesk.clock import Clock
from frontdesk.esl import no_delay, socket_token
from frontdesk.esl.commands import AFTER_SOCKET

from . import _templates
from ._channel import Channel, EventFactory, SimEvent, now_us
from ._control import ControlConnection, Deferred
from ._legs import (
    DEFAULT_ORIGINATE_TIMEOUT,
    Endpoint,
    Outside,
    Phone,
    Ringing,
    RingResult,
    leg_for,
    parse_dialstring,
    ring,
    split_outside_quotes,
)
from ._time import ScaledClock
from ._wire import Headers
from .session import CallerScript, OutboundSession, SimCall

log = structlog.get_logger(__name__)

FrameHook = Callable[[str, bytes], None]

_STATUS = (
    "UP 0 years, 0 days, 0 hours, {minutes} minutes, {seconds} seconds, 0 milliseconds, "
    "0 microseconds\n"
    "FreeSWITCH (Version 1.10.12-release git a88d069 2024-08-02 21:02:27Z 64bit) is ready\n"
    "{total} session(s) since startup\n"
    "{active} session(s) - peak 2, last 5min 2 \n"
    "0 session(s) per Sec out of max 30, peak 2, last 5min 2 \n"
    "200 session(s) max\n"
    "min idle cpu 0.00/99.23\n"
    "Current Stack Size/Max 240K/8192K\n"
)
_RULE = "=" * 97


class Simulator:
    """A FreeSWITCH stand-in: inbound ESL server, outbound sessions, phones, outside numbers.

    All durations are simulated seconds on `clock`: the rig's virtual clock, or without one
    real time with a simulated second lasting ``time_scale`` real seconds.
    """

    def __init__(
        self,
        *,
        password: str,
        daemon_address: tuple[str, int] | str | None,
        host: str = "127.0.0.1",
        esl_port: int = 0,
        time_scale: float = 0.01,
        clock: Clock | None = None,
        heartbeat_interval: float = 20.0,
        fallback_extensions: Sequence[str] = (),
        fallback_prompt: str = "fallback.wav",
        fallback_messages: str = "",
        socket_resume: bool = True,
        gateways: Sequence[str] = ("trunk",),
        profiles: Sequence[str] = ("desk", "fsref"),
        local_streams: Mapping[str, str | os.PathLike[str]] | None = None,
    ) -> None:
        if isinstance(daemon_address, str):
            addr_host, _, addr_port = daemon_address.rpartition(":")
            daemon_address = (addr_host, int(addr_port))
        self.password = password
        self.socket_token = socket_token(password)
        """What the shipped dialplan sets in `frontdesk_token` before `socket`: derived from
        the event socket password as `frontdesk freeswitch-config` writes it."""
        self.daemon_address = daemon_address
        self.host = host
        self.clock: Clock = clock or ScaledClock(time_scale)
        self.heartbeat_interval = heartbeat_interval
        self.fallback_extensions = list(fallback_extensions)
        """Desk phones the dialplan fallback rings together (freeswitch-conf's
        `frontdesk_ring_all`); empty: the captures' short fallback (tone, prompt, hangup)."""
        self.fallback_prompt = fallback_prompt
        self.fallback_messages = fallback_messages
        self.socket_resume = socket_resume
        """Callers arrive with ``socket_resume=true``, as the shipped dialplan sets it."""
        """Directory the fallback's voicemail is recorded into; "" writes no file."""
        self.gateways = set(gateways)
        """The sofia gateways FreeSWITCH has (``sofia status gateway``, ``sofia/gateway/…``)."""
        self.profiles = set(profiles)
        """The sofia profiles the desk phones register on (``sofia xmlstatus profile``): the
        shipped desk.xml's and the captures' fsref; another name is ``Invalid Profile!``."""
        self.local_streams = None if local_streams is None else dict(local_streams)
        """``local_stream://<name>`` sources by name -> directory, as local_stream.conf.xml
        declares them (`has_stream`); None: every stream plays."""
        self.events = EventFactory(self.clock)
        self.phones: dict[str, Phone] = {}
        self.outside: dict[str, Outside] = {}
        self.calls: list[SimCall] = []
        self.frame_hook: FrameHook | None = None
        self.channels: dict[str, Channel] = {}
        self.broadcasts: list[tuple[str, str]] = []
        """(uuid, path) of every uuid_broadcast to an originated leg, in order."""
        self._sessions: dict[str, OutboundSession] = {}
        self._leg_endpoints: dict[str, Endpoint] = {}
        self._controls: set[ControlConnection] = set()
        self._requested_port = esl_port
        self._server: StreamServer | None = None
        self._heartbeat: gevent.Greenlet | None = None
        self._started = self.clock.now()
        self._sessions_since_start = 0

    @property
    def daemon(self) -> tuple[str, int]:
        """Where the `socket` application connects (set once the daemon listens)."""
        if self.daemon_address is None:
            raise RuntimeError("the simulator was given no daemon address")
        return self.daemon_address

    @property
    def time_scale(self) -> float:
        """Real seconds per simulated second, when the simulator runs on its own clock."""
        if not isinstance(self.clock, ScaledClock):
            raise AttributeError("the simulator runs on the rig's clock")
        return self.clock.scale

    @time_scale.setter
    def time_scale(self, scale: float) -> None:
        if not isinstance(self.clock, ScaledClock):
            raise AttributeError("the simulator runs on the rig's clock")
        self.clock.scale = scale

    # ---- lifecycle

    def start(self) -> None:
        """Listen for control connections and start the heartbeat."""
        self._listen(self._requested_port)
        if self.heartbeat_interval > 0:
            self._heartbeat = gevent.spawn(self._heartbeats)
        log.info("sim.started", esl_port=self.esl_port, daemon=self.daemon_address)

    @property
    def esl_port(self) -> int:
        port = self._server.server_port if self._server is not None else None
        assert port is not None, "start() first"
        return port

    def stop(self) -> None:
        """Stop listening, drop control connections, end every call."""
        if self._heartbeat is not None:
            self._heartbeat.kill()
        self._drop_controls()
        if self._server is not None:
            self._server.stop(timeout=0)
        for session in list(self._sessions.values()):
            session.abort()
        for channel in list(self.channels.values()):
            if channel.uuid not in self._sessions and channel.other is None:
                self.end_leg(channel, "MANAGER_REQUEST")

    def restart_esl(self) -> None:
        """Drop every control connection and listen again on the same port (calls go on)."""
        port = self.esl_port
        assert self._server is not None
        self._server.stop(timeout=0)
        self._drop_controls()
        self._listen(port)
        log.info("sim.esl_restarted", esl_port=port)

    def _listen(self, port: int) -> None:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((self.host, port))
        listener.listen(64)
        self._server = StreamServer(listener, self._accept)
        self._server.start()

    def _drop_controls(self) -> None:
        for conn in list(self._controls):
            conn.close()
        self._controls.clear()

    def _accept(self, sock: socket.socket, _address: tuple[str, int]) -> None:
        no_delay(sock)
        conn = ControlConnection(self, sock)
        self._controls.add(conn)
        conn.serve()

    def forget_control(self, conn: ControlConnection) -> None:
        self._controls.discard(conn)

    def record_frame(self, kind: str, frame: bytes) -> None:
        if self.frame_hook is not None:
            self.frame_hook(kind, frame)

    def has_stream(self, uri: str) -> bool:
        """Whether ``local_stream://<name>`` plays, as in mod_local_stream: a source exists
        only for a declared directory that exists and holds a file; an unknown name falls
        back to the ``default`` source."""
        if self.local_streams is None:
            return True
        name = uri.removeprefix("local_stream://").split("/", 1)[0] or "default"
        for source in (name, "default"):
            directory = self.local_streams.get(source)
            if directory is not None and os.path.isdir(directory) and any(
                entry.is_file() and not entry.name.startswith(".")
                for entry in os.scandir(directory)
            ):
                return True
        return False

    # ---- events

    def fire(self, event: SimEvent) -> None:
        """Deliver an event to every subscribed control connection and to its channel's session."""
        for conn in list(self._controls):
            conn.deliver(event)
        session = self._sessions.get(event.uuid)
        if session is not None:
            session.deliver(event)

    def fire_channel(
        self,
        channel: Channel,
        name: str,
        *,
        first: Headers = (),
        last: Headers = (),
        calling_key: str = "",
    ) -> None:
        """Fire a channel event (headers before / after the channel data as FreeSWITCH does)."""
        event = channel.event(self.events, name, first=first, last=last, calling_key=calling_key)
        self.fire(event)

    def _heartbeats(self) -> None:
        while True:
            self.clock.sleep(self.heartbeat_interval)
            up_ms = int((self.clock.now() - self._started) * 1000)
            values = {
                "Up-Time": self._uptime(),
                "Uptime-msec": str(up_ms),
                "Session-Count": str(len(self.channels)),
                "Session-Since-Startup": str(self._sessions_since_start),
            }
            headers = [(n, values.get(n, v)) for n, v in _templates.HEARTBEAT]
            self.fire(self.events.simple("HEARTBEAT", headers))

    def _uptime(self) -> str:
        secs = int(self.clock.now() - self._started)
        return (
            f"0 years, 0 days, {secs // 3600} hours, {secs // 60 % 60} minutes, "
            f"{secs % 60} seconds, 0 milliseconds, 0 microseconds"
        )

    # ---- phones and outside numbers

    def add_phone(
        self,
        ext: str,
        *,
        answer_after: float | None = 2.0,
        talk_seconds: float = 30.0,
        registered: bool = True,
    ) -> Phone:
        """A staff phone reachable as ``user/<ext>``; answer_after=None never answers."""
        phone = Phone(ext, answer_after, talk_seconds, registered=False)
        self.phones[ext] = phone
        if registered:
            self.set_registered(ext, True)
        return phone

    def phone_state(self, ext: str) -> str:
        """What the desk phone `ext` does right now: "idle", "ringing" (an INVITE to it is
        pending) or "talking" (off-hook: answered, parked or bridged)."""
        state = self.phones[ext].state
        return "talking" if state == "busy" else state

    def set_registered(self, ext: str, registered: bool) -> None:
        """Register or unregister a phone, firing sofia::register / sofia::unregister."""
        phone = self.phones[ext]
        if phone.registered == registered:
            return
        phone.registered = registered
        template = _templates.SOFIA_REGISTER if registered else _templates.SOFIA_UNREGISTER
        values = {
            "from-user": ext,
            "to-user": ext,
            "contact": f'"" <sip:{ext}@127.0.0.1:5090>',
            "call-id": f"sim-reg-{ext}@127.0.0.1",
        }
        headers = [(n, values.get(n, v)) for n, v in template]
        subclass = "sofia::register" if registered else "sofia::unregister"
        self.fire(self.events.simple("CUSTOM", headers, subclass=subclass))

    def add_outside(
        self,
        number: str,
        *,
        answer_after: float | None = 1.0,
        talk_seconds: float = 20.0,
        script: CallerScript | None = None,
    ) -> Outside:
        """A number reachable as ``sofia/gateway/<any gateway>/<number>``; `script`: what its
        person does in a call handed to the daemon's socket."""
        outside = Outside(number, answer_after, talk_seconds, script=script)
        self.outside[number] = outside
        return outside

    # ---- calls

    def place_call(
        self,
        script: CallerScript,
        *,
        caller_number: str = "0612345678",
        caller_name: str = "",
        destination: str = "5000",
    ) -> SimCall:
        """A caller dials in: FreeSWITCH connects to the daemon's outbound-socket server."""
        session = OutboundSession(self, script, caller_number, caller_name, destination)
        self.calls.append(session.call)
        self.channels[session.channel.uuid] = session.channel
        self._sessions[session.channel.uuid] = session
        self._sessions_since_start += 1
        session.start()
        return session.call

    def session_ended(self, session: OutboundSession) -> None:
        self._sessions.pop(session.channel.uuid, None)
        self.channels.pop(session.channel.uuid, None)
        endpoint = self._leg_endpoints.pop(session.channel.uuid, None)
        if endpoint is not None:  # an originated leg handed to the socket
            endpoint.state = "idle"

    def resolve(self, target: str, busy_ok: bool = False) -> Endpoint | str:
        """The endpoint behind one dial target, or the failure cause."""
        if target.startswith("user/"):
            ext = target[5:].split("@", 1)[0]
            phone = self.phones.get(ext)
            if phone is None or not phone.registered:
                return "USER_NOT_REGISTERED"
            if phone.state != "idle" and not busy_ok:
                return "USER_BUSY"
            return phone
        if target.startswith("sofia/gateway/"):
            _, _, gateway, number = target.split("/", 3)
            if gateway not in self.gateways:
                return "INVALID_GATEWAY"
            outside = self.outside.get(number)
            if outside is None:
                return "UNALLOCATED_NUMBER"
            if outside.state != "idle":
                return "USER_BUSY"
            return outside
        return "CHAN_NOT_IMPLEMENTED"

    def dial(
        self,
        dialstring: str,
        *,
        channel_vars: dict[str, str],
        caller: Channel | None,
        abort: gevent.event.Event | None = None,
    ) -> RingResult:
        """Ring every target of a dial string; events for the new legs go to control connections."""
        variables, targets = parse_dialstring(dialstring)
        merged = {**channel_vars, **variables}
        ringing: list[Ringing] = []
        causes: list[str] = []
        for target in targets:
            endpoint = self.resolve(target)
            if isinstance(endpoint, str):
                causes.append(endpoint)
                continue
            if ringing:  # only the first leg may take the chosen origination_uuid
                merged.pop("origination_uuid", None)
            leg = leg_for(target, endpoint, merged, caller, self.clock)
            if isinstance(endpoint, Outside):
                endpoint.shown.append((leg.caller_number, leg.caller_name))
            endpoint.state = "ringing"
            self._leg_endpoints[leg.uuid] = endpoint
            ringing.append(Ringing(target, endpoint, leg))
        if not ringing:
            return RingResult(cause=causes[0] if causes else "DESTINATION_OUT_OF_ORDER")
        for r in ringing:
            self.channels[r.leg.uuid] = r.leg
            self.fire_channel(r.leg, "CHANNEL_CREATE")
            r.leg.state = "CS_CONSUME_MEDIA"
            r.leg.progress_us = now_us(self.clock)
            r.leg.network_addr = "127.0.0.1"
            self.fire_channel(r.leg, "CHANNEL_PROGRESS")
        timeout = float(
            merged.get("originate_timeout")
            or merged.get("call_timeout")
            or DEFAULT_ORIGINATE_TIMEOUT
        )
        result = ring(ringing, timeout=timeout, clock=self.clock, abort=abort)
        if result.winner is not None:
            winner = result.winner
            winner.endpoint.state = "busy"
            winner.endpoint.calls_answered += 1
            winner.leg.has_codec = True
            winner.leg.state = "CS_EXCHANGE_MEDIA"
            winner.leg.mark_answered()
            winner.leg.variables.update(_templates.AGENT_ANSWER_VARS)
            self.fire_channel(winner.leg, "CHANNEL_ANSWER")
        return result

    def end_leg(self, leg: Channel, cause: str) -> None:
        """Hang up an originated leg and free its endpoint."""
        if leg.uuid not in self.channels:
            return
        if not leg.hungup:
            leg.mark_hangup(cause)
        leg.state = "CS_REPORTING"
        leg.call_state = "HANGUP"
        leg.finish_variables()
        self.channels.pop(leg.uuid, None)
        endpoint = self._leg_endpoints.pop(leg.uuid, None)
        if endpoint is not None:
            endpoint.state = "idle"
        self.fire_channel(
            leg, "CHANNEL_HANGUP_COMPLETE", first=[("Hangup-Cause", leg.hangup_cause)]
        )

    def release(self, result: RingResult) -> None:
        """Hang up the legs that lost or timed out (after the result was reported)."""
        for r, cause in result.losers:
            self.end_leg(r.leg, cause)

    def talk(self, ringing: Ringing) -> None:
        """The answered endpoint hangs up after its talk time (unless hung up before)."""
        seconds = ringing.endpoint.talk_seconds
        if not self.clock.wait(ringing.leg.ended, seconds):
            ringing.leg.mark_hangup("NORMAL_CLEARING")

    # ---- api

    def api(self, line: str) -> tuple[str, Deferred]:
        """Run an api command: (response text, action to run after the response is sent)."""
        command, _, arg = line.strip().partition(" ")
        arg = arg.strip()
        handler = _API.get(command)
        if handler is None:
            return f"-ERR {command} Command not found!\n", None
        return handler(self, arg)

    def background_job(self, job_uuid: str, line: str) -> None:
        text, after = self.api(line)
        command, _, arg = line.strip().partition(" ")
        headers = [("Job-UUID", job_uuid), ("Job-Command", command)]
        if arg.strip():
            headers.append(("Job-Command-Arg", arg.strip()))
        self.fire(self.events.simple("BACKGROUND_JOB", headers, body=text))
        if after is not None:
            after()

    def _api_status(self, _arg: str) -> tuple[str, Deferred]:
        secs = int(self.clock.now() - self._started)
        text = _STATUS.format(
            minutes=secs // 60 % 60,
            seconds=secs % 60,
            total=self._sessions_since_start,
            active=len(self.channels),
        )
        return text, None

    def _api_show(self, arg: str) -> tuple[str, Deferred]:
        if arg == "channels count":
            return f"\n{len(self.channels)} total.\n", None
        if arg == "channels as json":
            if not self.channels:
                return '{"row_count": 0}\n', None
            rows = [_channel_row(ch) for ch in self.channels.values()]
            return json.dumps({"row_count": len(rows), "rows": rows}, separators=(",", ":")), None
        if arg == "channels":
            lines = ["uuid,direction,created,name,state,cid_num,dest"]
            lines += [
                f"{c.uuid},{c.direction},,{c.name},{c.state},{c.caller_number},{c.destination}"
                for c in self.channels.values()
            ]
            return "\n".join(lines) + f"\n\n{len(self.channels)} total.\n", None
        return "-USAGE: show <command>\n", None

    def _api_uuid_kill(self, arg: str) -> tuple[str, Deferred]:
        parts = arg.split()
        if not parts or parts[0] not in self.channels:
            return "-ERR No such channel!\n", None
        uuid = parts[0]
        cause = parts[1] if len(parts) > 1 else "NORMAL_CLEARING"
        session = self._sessions.get(uuid)
        if session is not None:
            return "+OK\n", lambda: session.hangup(cause, by="api")
        leg = self.channels[uuid]
        return "+OK\n", lambda: self._kill_leg(leg, cause)

    def _kill_leg(self, leg: Channel, cause: str) -> None:
        if leg.other is None:
            self.end_leg(leg, cause)
        else:  # bridged: the caller's session reports the end of the bridge
            leg.mark_hangup(cause)

    def _api_uuid_break(self, arg: str) -> tuple[str, Deferred]:
        parts = arg.split()
        session = self._sessions.get(parts[0]) if parts else None
        if session is None:
            return "-ERR No such channel!\n", None
        return "+OK\n", session.break_media

    def _api_uuid_broadcast(self, arg: str) -> tuple[str, Deferred]:
        parts = arg.split()
        if len(parts) < 2 or parts[0] not in self.channels:
            return "-ERR No such channel!\n", None
        uuid, path = parts[0], parts[1]
        session = self._sessions.get(uuid)
        if session is None:  # an originated leg, parked: it plays it (nobody listens here)
            self.broadcasts.append((uuid, path))
            return "+OK Message sent\n", None
        return "+OK Message sent\n", lambda: session.broadcast(path)

    def _api_uuid_setvar(self, arg: str) -> tuple[str, Deferred]:
        parts = arg.split(None, 2)
        channel = self.channels.get(parts[0]) if parts else None
        if channel is None:
            return "-ERR No such channel!\n", None
        if len(parts) < 2:
            return "-ERR No variable specified\n", None
        _set_variable(channel, parts[1], parts[2] if len(parts) > 2 else "")
        return "+OK", None

    def _api_uuid_setvar_multi(self, arg: str) -> tuple[str, Deferred]:
        uuid, _, pairs = arg.partition(" ")
        channel = self.channels.get(uuid)
        if channel is None:
            return "-ERR No such channel!\n", None
        for pair in pairs.strip().split(";"):
            name, _, value = pair.partition("=")
            if name:
                _set_variable(channel, name, value)
        return "+OK", None

    def _api_uuid_getvar(self, arg: str) -> tuple[str, Deferred]:
        parts = arg.split()
        channel = self.channels.get(parts[0]) if parts else None
        if channel is None:
            return "-ERR No such channel!\n", None
        if len(parts) < 2:
            return "-USAGE: <uuid> <var>\n", None
        return channel.variables.get(parts[1]) or "_undef_", None

    def _api_uuid_transfer(self, arg: str) -> tuple[str, Deferred]:
        """``uuid_transfer <uuid> <extension> XML default``: only the practice line's callers
        (outbound-socket sessions) are transferred, and only to the after-socket extension;
        anything else finds no route and is hung up, as FreeSWITCH would."""
        parts = arg.split()
        session = self._sessions.get(parts[0]) if parts else None
        if session is None or session.channel.hungup:
            return "-ERR No such channel!\n", None
        if parts[1:2] != [AFTER_SOCKET]:
            return "+OK\n", lambda: session.hangup("NO_ROUTE_DESTINATION", by="dialplan")
        return "+OK\n", session.transfer

    def _api_uuid_bridge(self, arg: str) -> tuple[str, Deferred]:
        parts = arg.split()
        if len(parts) != 2:
            return "-USAGE: <uuid> <other_uuid>\n", None
        session = self._sessions.get(parts[0])
        other = self.channels.get(parts[1])
        if other is None or other.hungup:
            return "-ERR Invalid uuid\n", None
        if session is None:
            first = self.channels.get(parts[0])
            if first is None or first.hungup or first.other is not None or first is other:
                return "-ERR Invalid uuid\n", None
            return f"+OK {other.uuid}\n", lambda: gevent.spawn(self._bridge_legs, first, other)
        return f"+OK {other.uuid}\n", lambda: session.uuid_bridge(other)

    def _bridge_legs(self, first: Channel, second: Channel) -> None:
        """uuid_bridge of two parked legs the control connection originated (a callback: the
        staff's phone and the patient's): one CHANNEL_BRIDGE for the first uuid; when either
        side hangs up the other is hung up too, then the first leg's CHANNEL_UNBRIDGE."""
        first.other, first.other_type = second, "originator"
        second.other, second.other_type = first, "originatee"
        first.bridged_us = second.bridged_us = now_us(self.clock)
        bridge = [("Bridge-A-Unique-ID", first.uuid), ("Bridge-B-Unique-ID", second.uuid)]
        self.fire_channel(first, "CHANNEL_BRIDGE", first=bridge)
        first.bridged.set()
        second.bridged.set()
        gevent.wait([first.ended, second.ended], count=1)
        gone, left = (first, second) if first.hungup else (second, first)
        if not left.hungup:
            left.mark_hangup(gone.hangup_cause or "NORMAL_CLEARING")
        self.end_leg(second, second.hangup_cause)
        self.fire_channel(first, "CHANNEL_UNBRIDGE", first=bridge)
        self.end_leg(first, first.hangup_cause)

    def _api_originate(self, arg: str) -> tuple[str, Deferred]:
        """``originate <dial string> &park()`` or ``… '&socket(<host:port> async full)'``
        (FreeSWITCH takes the quotes off): once answered the leg is parked, or handed to the
        outbound socket like a call of the dialplan, with the dial string's variables on it."""
        words = split_outside_quotes(arg.strip(), " ") or [""]
        dialstring = words[0]
        application = words[1].strip("'") if len(words) > 1 else "&park()"
        socket_to = _socket_address(application)
        result = self.dial(dialstring, channel_vars={}, caller=None)
        after: Deferred = (lambda: self.release(result)) if result.losers else None
        if result.winner is None:
            return f"-ERR {result.cause}\n", after
        winner = result.winner
        winner.leg.state = "CS_EXECUTE"
        if socket_to is None:
            gevent.spawn(self._parked_leg, winner)
        else:
            self._hand_to_socket(winner, parse_dialstring(dialstring)[0], socket_to)
        return f"+OK {winner.leg.uuid}\n", after

    def _hand_to_socket(
        self, ringing: Ringing, variables: dict[str, str], address: tuple[str, int]
    ) -> None:
        """The answered leg runs ``socket``: an outbound session towards `address`, played
        by the endpoint's script; when the socket application returns the leg hangs up (it
        has nothing else to run)."""
        leg, endpoint = ringing.leg, ringing.endpoint
        leg.variables.update(variables)
        script = endpoint.script if isinstance(endpoint, Outside) else None
        session = OutboundSession.for_leg(self, leg, script or CallerScript(), address)
        if isinstance(endpoint, Outside):
            endpoint.conversations.append(session.call)
        self.calls.append(session.call)
        self._sessions[leg.uuid] = session
        self._sessions_since_start += 1
        session.start()

    def _parked_leg(self, ringing: Ringing) -> None:
        """An originated leg stays parked until it is bridged (then talks) or killed."""
        gevent.wait([ringing.leg.bridged, ringing.leg.ended], count=1)
        if not ringing.leg.hungup:
            self.talk(ringing)
        if ringing.leg.other is None:
            self.end_leg(ringing.leg, ringing.leg.hangup_cause or "NORMAL_CLEARING")

    def _api_sofia(self, arg: str) -> tuple[str, Deferred]:
        words = arg.split()
        if len(words) == 4 and words[:2] == ["xmlstatus", "profile"] and words[3] == "reg":
            return self._xml_registrations(words[2]), None
        if words[:2] == ["status", "gateway"]:
            return self._gateway_status(words[2] if len(words) > 2 else None), None
        if words == ["status"]:
            return (
                f"{'Name':>25}\t{'Type':>7}\t{'Data':>42}\tState\n{_RULE}\n"
                f"{'fsref':>25}\t{'profile':>7}\t{'sip:mod_sofia@127.0.0.1:5080':>42}\t"
                f"RUNNING (0)\n{_RULE}\n1 profile 0 aliases\n",
                None,
            )
        return "-ERR Usage: sofia status|xmlstatus ...\n", None

    def _xml_registrations(self, profile: str) -> str:
        """mod_sofia's ``sofia xmlstatus profile <name> reg`` (cmd_xml_status in sofia.c),
        shaped as in the captures' inbound-sofia-status; every registered phone is on every
        profile in `profiles`."""
        if profile not in self.profiles:
            return "Invalid Profile!\n"
        entries = "".join(_xml_registration(p) for p in self.phones.values() if p.registered)
        return (
            '<?xml version="1.0" encoding="ISO-8859-1"?>\n<profile>\n  <registrations>\n'
            f"{entries}  </registrations>\n</profile>\n"
        )

    def _gateway_status(self, name: str | None) -> str:
        """mod_sofia's ``sofia status gateway <name>`` (cmd_status in sofia.c)."""
        if name is None:
            return "Invalid Syntax!\n"
        if name not in self.gateways:
            return "Invalid Gateway!\n"
        rows = [
            ("Name    ", name), ("Profile ", "trunk"), ("Scheme  ", "Digest"),
            ("Realm   ", "sip.operateur.example"), ("Username", "0199000001"),
            ("Password", "yes"), ("From    ", "<sip:0199000001@sip.operateur.example>"),
            ("Contact ", f"<sip:gw+{name}@127.0.0.1:5080;transport=udp;gw={name}>"),
            ("Exten   ", "0199000001"), ("To      ", "sip:0199000001@sip.operateur.example"),
            ("Proxy   ", "sip:sip.operateur.example"), ("Context ", "public"),
            ("Expires ", "3600"), ("Freq    ", "3600"), ("Ping    ", "0"), ("PingFreq", "0"),
            ("PingState", "0/0/0"), ("State   ", "REGED"), ("Status  ", "UP"),
            ("CallsIN ", "0"), ("CallsOUT", "0"),
        ]
        return _RULE + "\n" + "".join(f"{k}\t{v}\n" for k, v in rows) + _RULE + "\n"

    def _api_sofia_contact(self, arg: str) -> tuple[str, Deferred]:
        ext = arg.rsplit("/", 1)[-1].split("@", 1)[0]
        phone = self.phones.get(ext)
        if phone is None or not phone.registered:
            return "error/user_not_registered", None
        return f"sofia/fsref/sip:{ext}@127.0.0.1:5090", None


def _socket_address(application: str) -> tuple[str, int] | None:
    """``&socket(127.0.0.1:8084 async full)`` -> ("127.0.0.1", 8084); None for another
    application."""
    match = re.fullmatch(r"&socket\(\s*([^\s:()]+):(\d+)(?:\s[^()]*)?\)", application.strip())
    return None if match is None else (match.group(1), int(match.group(2)))


def _set_variable(channel: Channel, name: str, value: str) -> None:
    """Like the ``set`` application: an empty value unsets the variable."""
    if value:
        channel.variables[name] = value
    else:
        channel.variables.pop(name, None)


def _xml_registration(phone: Phone) -> str:
    expires = time.time() + 3660
    shown = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(expires))
    user = f"{phone.ext}@127.0.0.1"
    fields = (
        ("call-id", f"sim-reg-{user}"),
        ("user", user),
        ("contact", f'"" <sip:{phone.ext}@127.0.0.1:5090>'),
        ("agent", "frontdesk-sim-phone"),
        ("status", f"Registered(UDP)(unknown) exp({shown}) expsecs(3660)"),
        ("ping-status", "Reachable"),
        ("ping-time", "0.00"),
        ("host", "sim"),
        ("network-ip", "127.0.0.1"),
        ("network-port", "5092"),
        ("sip-auth-user", "unknown"),
        ("sip-auth-realm", "127.0.0.1"),
        ("mwi-account", user),
    )
    lines = "".join(f"        <{tag}>{_xml_text(value)}</{tag}>\n" for tag, value in fields)
    return f"    <registration>\n{lines}    </registration>\n"


def _xml_text(value: str) -> str:
    """Text escaped as FreeSWITCH's switch_amp_encode does it (quotes included)."""
    return xml_escape(value, {'"': "&quot;"})


def _channel_row(ch: Channel) -> dict[str, str]:
    created = ch.created_us // 1_000_000
    return {
        "uuid": ch.uuid,
        "direction": ch.direction,
        "created": time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(created)),
        "created_epoch": str(created),
        "name": ch.name,
        "state": ch.state,
        "cid_name": ch.caller_name,
        "cid_num": ch.caller_number,
        "ip_addr": "",
        "dest": ch.destination,
        "application": ch.variables.get("current_application", ""),
        "application_data": ch.variables.get("current_application_data", ""),
        "dialplan": "",
        "context": "default",
        "read_codec": "PCMU",
        "read_rate": "8000",
        "read_bit_rate": "64000",
        "write_codec": "PCMU",
        "write_rate": "8000",
        "write_bit_rate": "64000",
        "secure": "",
        "hostname": "vm",
        "presence_id": ch.presence_id,
        "presence_data": "",
        "accountcode": "",
        "callstate": ch.call_state,
        "callee_name": ch.callee_name,
        "callee_num": ch.callee_number,
        "callee_direction": "",
        "call_uuid": ch.uuid,
        "sent_callee_name": "",
        "sent_callee_num": "",
        "initial_cid_name": ch.caller_name,
        "initial_cid_num": ch.caller_number,
        "initial_ip_addr": "",
        "initial_dest": ch.destination,
        "initial_dialplan": "",
        "initial_context": "default",
    }


_API: dict[str, Callable[[Simulator, str], tuple[str, Deferred]]] = {
    "status": Simulator._api_status,
    "show": Simulator._api_show,
    "uuid_kill": Simulator._api_uuid_kill,
    "uuid_break": Simulator._api_uuid_break,
    "uuid_broadcast": Simulator._api_uuid_broadcast,
    "uuid_bridge": Simulator._api_uuid_bridge,
    "uuid_setvar": Simulator._api_uuid_setvar,
    "uuid_setvar_multi": Simulator._api_uuid_setvar_multi,
    "uuid_getvar": Simulator._api_uuid_getvar,
    "uuid_transfer": Simulator._api_uuid_transfer,
    "originate": Simulator._api_originate,
    "sofia": Simulator._api_sofia,
    "sofia_contact": Simulator._api_sofia_contact,
}
