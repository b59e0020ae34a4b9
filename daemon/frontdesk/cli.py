"""The `frontdesk` command."""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Sequence
from datetime import UTC, date, datetime, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

    from frontdesk.agenda import BookingRequest
    from frontdesk.inbox import InboxItem
    from frontdesk.report.figures import Period
    from frontdesk.store import Reminder

DEFAULT_CONFIG = Path("/etc/frontdesk/frontdesk.toml")


def main(argv: list[str] | None = None) -> int:
    try:
        try:
            return _command(argv)
        finally:
            sys.stdout.flush()  # a reader gone shows here, not in a message at the exit
    except BrokenPipeError:
        return _reader_gone()


def _command(argv: list[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command != "run":
        from frontdesk.logs import configure_logging

        configure_logging("warning")
    return args.handler(args)


def _reader_gone() -> int:
    """Whoever read the output went away (`frontdesk status | head -1`): stop quietly, as
    Unix tools do (they die of SIGPIPE), with no traceback and nothing more written."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    return 128 + signal.SIGPIPE


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="frontdesk", description="The telephone reception of a medical practice."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = commands.add_parser(
        "run",
        help="run the daemon",
        description="Serve FreeSWITCH's outbound-socket calls and keep the control connection.",
    )
    run.add_argument("--config", type=Path, default=DEFAULT_CONFIG, help="config file (TOML)")
    run.add_argument(
        "--simulator",
        choices=("never", "auto", "always"),
        default="never",
        help="start the built-in FreeSWITCH simulator: 'auto' when nothing answers on the ESL "
        "address of the config (default: never)",
    )
    run.add_argument(
        "--demo-callers",
        type=float,
        default=0.0,
        metavar="PER_MINUTE",
        help="with the simulator, place random simulated calls at this rate",
    )
    run.add_argument(
        "--panel-simulator",
        action="store_true",
        help="drive a simulated desk panel drawn at the bottom of this terminal (keys l, c, a "
        "are its buttons, q stops) instead of the [panel] of the config",
    )
    run.add_argument("--log-level", default="info", help="debug, info, warning or error")
    run.add_argument("--json-logs", action="store_true", help="JSON lines even on a terminal")
    run.set_defaults(handler=cmd_run)

    check = commands.add_parser(
        "check-config",
        help="validate a config file",
        description="Exit 0 when the file is valid; otherwise print every error as "
        "FILE:LINE: key.path: message and exit 1.",
    )
    check.add_argument("config", type=Path, help="config file (TOML)")
    check.set_defaults(handler=cmd_check_config)

    rehearse = commands.add_parser(
        "rehearse",
        help="rehearse every scenario of the call flow against the simulator",
        description="Run one simulated call per scenario (the config's [[rehearse]] entries "
        "plus built-in checks) and print what each caller heard and where the call ended. "
        "Exit 1 on any mismatch.",
    )
    rehearse.add_argument("config", type=Path, help="config file (TOML)")
    rehearse.set_defaults(handler=cmd_rehearse)

    override = commands.add_parser(
        "override",
        help="force the practice open, on lunch or closed (or back to the schedule)",
        description="Set the manual override the daemon applies to new calls. "
        "'auto' returns to the schedule.",
    )
    override.add_argument("mode", choices=("open", "lunch", "closed", "auto", "show"))
    override.add_argument("--config", type=Path, default=DEFAULT_CONFIG, help="config file")
    override.add_argument(
        "--until",
        metavar="HH:MM|ISO",
        help="end of the override, local time of the practice (today, or tomorrow if past)",
    )
    override.set_defaults(handler=cmd_override)

    prompts = commands.add_parser(
        "prompts",
        help="render the spoken prompts from their texts (espeak-ng, 8 kHz WAV)",
        description="Write every local prompt of the config as an 8 kHz mono WAV spoken from "
        "its text with espeak-ng, in the practice's language. Only prompts whose text or voice "
        "changed are rendered again; a recording in the prompt directory's custom/ "
        "subdirectory is used instead of the synthetic voice.",
    )
    prompts.add_argument("--config", type=Path, default=DEFAULT_CONFIG, help="config file")
    prompts.add_argument("--force", action="store_true", help="render every prompt again")
    prompts.set_defaults(handler=cmd_prompts)

    fsconf = commands.add_parser(
        "freeswitch-config",
        help="write the FreeSWITCH files generated from the config",
        description="Write frontdesk-vars.xml, the LAN ACL, the desk phones' accounts and the "
        "trunk's gateway into FreeSWITCH's conf dir (next to the shipped freeswitch-conf/ "
        "files), from the config and its secrets files, so FreeSWITCH and the daemon never "
        "disagree. Files holding a password are written with mode 0640 (readable by the "
        "directory's group: FreeSWITCH's, once installed); none is printed.",
    )
    fsconf.add_argument("--config", type=Path, default=DEFAULT_CONFIG, help="config file")
    fsconf.add_argument(
        "--output", type=Path, required=True, help="FreeSWITCH's conf dir, e.g. /etc/freeswitch"
    )
    fsconf.add_argument(
        "--new-phone-passwords",
        action="store_true",
        help="first create [phones] password_file with a random password for each desk phone, "
        "if that file does not exist yet (never overwritten)",
    )
    fsconf.set_defaults(handler=cmd_freeswitch_config)

    status = commands.add_parser(
        "status",
        help="what the running daemon sees now: callers waiting, staff phones, live calls",
        description="Ask the running daemon (through its socket in the state directory) for "
        "the callers waiting with their position, wait so far and estimate, the staff phones "
        "with their state and since when, the calls in progress, the practice's state and "
        "override, and whether FreeSWITCH is connected. Exit 1 when the daemon is not running.",
    )
    status.add_argument("--config", type=Path, default=DEFAULT_CONFIG, help="config file")
    status.add_argument("--json", action="store_true", help="the daemon's JSON, for scripts")
    status.set_defaults(handler=cmd_status)

    staff = commands.add_parser(
        "staff",
        help="log a staff phone in or out of the queue (as *50 / *51 from the phone)",
        description="Log the staff member at extension EXT in (the queue rings their phone) "
        "or out (it no longer does), through the running daemon; stored with its time, like "
        "the *50 / *51 feature codes.",
    )
    staff.add_argument("action", choices=("login", "logout"))
    staff.add_argument("extension", metavar="EXT", help="the desk phone's extension")
    staff.add_argument("--config", type=Path, default=DEFAULT_CONFIG, help="config file")
    staff.set_defaults(handler=cmd_staff)

    callbacks = commands.add_parser(
        "callbacks",
        help="the patients to call back: callback requests and missed patients",
        description="List the callbacks still to deal with (the daemon places pending ones "
        "while the practice is open; failed ones are for the staff) and the patients who hung "
        "up after waiting too long and have not been served since. 'done REF' marks one dealt "
        "with: a callback's number or the start of a missed call's reference.",
    )
    callbacks.add_argument("action", nargs="?", choices=("list", "done"), default="list")
    callbacks.add_argument("ref", nargs="?", metavar="REF", help="with done: what was dealt with")
    callbacks.add_argument("--config", type=Path, default=DEFAULT_CONFIG, help="config file")
    callbacks.set_defaults(handler=cmd_callbacks)

    reminders = commands.add_parser(
        "reminders",
        help="the reminder calls of a day and how each one ended",
        description="List the reminder calls of today's run (or --date's): the appointment, "
        "the practitioner, the patient, the attempts and the outcome (confirmed, cancelled, "
        "answered without confirming, no answer, failed, pending with its next attempt). "
        "Works from the database, with or without the daemon running.",
    )
    reminders.add_argument("--date", type=date.fromisoformat, metavar="YYYY-MM-DD",
                           help="the run of that day (default: today)")
    reminders.add_argument("--masked", action="store_true",
                           help="hide the patients' names and most of their numbers")
    reminders.add_argument("--config", type=Path, default=DEFAULT_CONFIG, help="config file")
    reminders.set_defaults(handler=cmd_reminders)

    messages = commands.add_parser(
        "messages",
        help="the inbox: callers' messages and booking requests still to deal with",
        description="List what callers left for the desk and nobody dealt with yet, newest "
        "first: every recorded message (the flow's message nodes, e.g. prescription renewals, "
        "and voicemail; the static fallback of FreeSWITCH's dialplan, recorded while the "
        "daemon was down or did not take the call: reason 'fallback'; messages of calls cut "
        "by a daemon that died) with its length and file, and the booking requests of the "
        "hand-off agenda (ref R<n>). 'done REF' marks one dealt with. Works from the database "
        "and the messages directory, with or without the daemon running.",
    )
    messages.add_argument("action", nargs="?", choices=("list", "done"), default="list")
    messages.add_argument("ref", nargs="?", metavar="REF", help="with done: what was dealt with")
    messages.add_argument("--config", type=Path, default=DEFAULT_CONFIG, help="config file")
    messages.add_argument("--all", action="store_true", help="the items marked done too")
    messages.add_argument("--limit", type=int, default=50, help="at most this many (default 50)")
    messages.add_argument("--json", action="store_true", help="JSON, for scripts")
    messages.set_defaults(handler=cmd_messages)

    purge = commands.add_parser(
        "purge",
        help="delete now what is past its retention ([retention]), or --dry-run: count it",
        description="What the daemon's daily job does every night (docs/retention.md): "
        "delete the recordings, callers' messages, booking requests and call records past "
        "their periods, and print how many of each went. --dry-run deletes nothing and "
        "prints what the purge would remove now. Works from the database and the "
        "directories, with or without the daemon running.",
    )
    purge.add_argument("--dry-run", action="store_true", help="count, delete nothing")
    purge.add_argument("--config", type=Path, default=DEFAULT_CONFIG, help="config file")
    purge.set_defaults(handler=cmd_purge)

    report = commands.add_parser(
        "report",
        help="the manager's figures of a month or of some days, beside the period before",
        description="Print the figures of a period (answer rate, abandonment, waits, "
        "bookings, callbacks, messages...; docs/report.md defines each one) beside those of "
        "the period before it (the month before, or as many days before), each with its "
        "definition. Default: last month. --csv writes a file per table for spreadsheets, "
        "--html one self-contained report with charts. Reads the database only, with or "
        "without the daemon running.",
    )
    chosen = report.add_mutually_exclusive_group()
    chosen.add_argument("--month", type=_month, metavar="YYYY-MM", help="a calendar month")
    chosen.add_argument("--from", dest="first", type=date.fromisoformat, metavar="YYYY-MM-DD",
                        help="the first day (with --to: the last one; default: today)")
    report.add_argument("--to", dest="last", type=date.fromisoformat, metavar="YYYY-MM-DD",
                        help="the last day, included (with --from)")
    report.add_argument("--csv", type=Path, metavar="DIR",
                        help="also write the tables as CSV files in DIR")
    report.add_argument("--html", type=Path, metavar="FILE",
                        help="also write the report with its charts as one HTML file")
    report.add_argument("--config", type=Path, default=DEFAULT_CONFIG, help="config file")
    report.set_defaults(handler=cmd_report)

    from frontdesk.cli_agenda import add_agenda_parser

    add_agenda_parser(commands, DEFAULT_CONFIG)

    from frontdesk.cli_users import add_users_parser

    add_users_parser(commands, DEFAULT_CONFIG)

    panel = commands.add_parser(
        "panel",
        help="try the desk panel: every state in turn, or a simulated panel on this terminal",
        description="'test' opens the [panel] port of the config (stop the daemon first: it "
        "holds the port) and sends every state the panel can show, one every PAUSE seconds: "
        "green, amber and red queues, then each override mode; each is described here. "
        "'simulate' plays a panel on this terminal, at the end of a pseudo-terminal whose "
        "path it prints (for [panel] port): it draws what the daemon sends and the keys are "
        "its buttons (l lunch, c closed, a away, q quit).",
    )
    panel.add_argument("action", choices=("test", "simulate"))
    panel.add_argument("--config", type=Path, default=DEFAULT_CONFIG, help="config file")
    panel.add_argument("--pause", type=float, default=2.0, help="seconds per state")
    panel.add_argument(
        "--link",
        type=Path,
        help="with simulate: also a symlink to the pseudo-terminal at this path, a name that "
        "stays the same from one run to the next (as /dev/serial/by-id/... does)",
    )
    panel.set_defaults(handler=cmd_panel)
    return parser


def cmd_check_config(args: argparse.Namespace) -> int:
    from frontdesk.config import ConfigError, load_config

    try:
        load_config(args.config)
    except ConfigError as error:
        for message in error.errors:
            print(message, file=sys.stderr)
        return 1
    print(f"{args.config}: OK")
    return 0


def _load_or_report(path: Path, *, check_files: bool = True, data_directories: bool = True):
    from frontdesk.config import ConfigError, load_config

    try:
        return load_config(path, check_files=check_files, data_directories=data_directories)
    except ConfigError as error:
        for message in error.errors:
            print(message, file=sys.stderr)
        return None


def cmd_run(args: argparse.Namespace) -> int:
    from frontdesk.daemon import Daemon
    from frontdesk.logs import configure_logging
    from frontdesk.store import AlreadyRunning

    configure_logging(args.log_level, json_lines=True if args.json_logs else None)
    config = _load_or_report(args.config)
    if config is None:
        print("frontdesk: refusing to start on an invalid config", file=sys.stderr)
        return 1
    desk_panel = None
    if args.panel_simulator:
        from frontdesk.panel.simulate import PanelInTerminal

        desk_panel = PanelInTerminal()
        config = desk_panel.wire(config)
    simulator = None
    if args.simulator == "always" or (
        args.simulator == "auto" and not _freeswitch_answers(config)
    ):
        from frontdesk.demo import start_simulator

        simulator = start_simulator(config)
    try:
        daemon = Daemon(config, config_path=args.config)
        daemon.start()
    except (OSError, AlreadyRunning) as error:
        if desk_panel is not None:
            desk_panel.stop()
        print(f"frontdesk: cannot start: {error}", file=sys.stderr)
        return 1
    if simulator is not None and args.demo_callers > 0:
        from frontdesk.demo import DemoCallers

        DemoCallers(simulator, config, per_minute=args.demo_callers).start()
    daemon.serve_forever()
    if desk_panel is not None:
        desk_panel.stop()
    if simulator is not None:
        simulator.stop()
    return 0


def _freeswitch_answers(config) -> bool:
    import socket

    fs = config.freeswitch
    try:
        with socket.create_connection((fs.esl_host, fs.esl_port), timeout=1.0):
            return True
    except OSError:
        return False


def cmd_rehearse(args: argparse.Namespace) -> int:
    from frontdesk.rehearse import format_table, rehearse

    config = _load_or_report(args.config)
    if config is None:
        return 1
    results = rehearse(config)
    print(format_table(results, config))
    failed = [result for result in results if not result.passed]
    print(f"{len(results) - len(failed)} passed, {len(failed)} failed")
    return 1 if failed else 0


def cmd_override(args: argparse.Namespace) -> int:
    from frontdesk.overrides import describe_override, parse_until, set_override
    from frontdesk.store import Store

    config = _load_or_report(args.config)
    if config is None:
        return 1
    store = Store(config.storage.database)
    try:
        now = datetime.now(UTC)
        if args.mode != "show":
            try:
                until = parse_until(args.until, config.practice.timezone, now)
                set_override(store, args.mode, until=until, now=now)
            except ValueError as error:
                print(f"frontdesk: --until: {error}", file=sys.stderr)
                return 2
        print(describe_override(store, config, now))
    finally:
        store.close()
    return 0


def cmd_prompts(args: argparse.Namespace) -> int:
    from frontdesk.prompts import ToolMissing, render_prompts, voice_of

    config = _load_or_report(args.config, check_files=False)
    if config is None:
        return 1
    try:
        outcomes = render_prompts(config, force=args.force)
    except ToolMissing as error:
        print(f"frontdesk: {error}", file=sys.stderr)
        return 1
    for outcome in outcomes:
        print(f"{outcome.prompt.path}: {outcome.action}")
    done = sum(outcome.action != "unchanged" for outcome in outcomes)
    print(f"{done} written, {len(outcomes) - done} unchanged (voice {voice_of(config)})")
    return 0


def cmd_freeswitch_config(args: argparse.Namespace) -> int:
    from frontdesk.fsconf import FreeswitchConfigError, create_phone_passwords, render, write

    config = _load_or_report(args.config, data_directories=False)
    if config is None:
        return 1
    if args.new_phone_passwords and (created := create_phone_passwords(config)):
        print(f"{created}  (0600, a new password for each desk phone)")
    try:
        files = render(config)
    except FreeswitchConfigError as error:
        for message in error.errors:
            print(message, file=sys.stderr)
        return 1
    for path, file in zip(write(files, args.output), files, strict=True):
        print(f"{path}{'  (0640, holds a password)' if file.secret else ''}")
    if config.trunk is not None and not config.trunk.password_file.exists():
        print(
            f"no trunk password yet in {config.trunk.password_file}: the gateway is empty until "
            "you write the operator's password there (chmod 600) and run this again",
            file=sys.stderr,
        )
    return 0


def _ask_daemon(config_path: Path, line: str) -> dict | None:
    """One request to the running daemon's socket; None (reported) when it cannot be asked."""
    from frontdesk.control_socket import request, socket_path

    config = _load_or_report(config_path, check_files=False)
    if config is None:
        return None
    path = socket_path(config)
    try:
        reply = request(path, line)
    except (FileNotFoundError, ConnectionRefusedError):
        print(f"frontdesk: the daemon is not running (nothing answers on {path})",
              file=sys.stderr)
        return None
    except PermissionError:
        print(f"frontdesk: permission denied on {path}: run it as root or as a member of "
              "the frontdesk group", file=sys.stderr)
        return None
    except (OSError, ValueError) as error:
        print(f"frontdesk: no answer from the daemon on {path}: {error}", file=sys.stderr)
        return None
    if not reply.get("ok"):
        print(f"frontdesk: the daemon refused: {reply.get('error')}", file=sys.stderr)
        return None
    return reply


def cmd_status(args: argparse.Namespace) -> int:
    import json

    reply = _ask_daemon(args.config, "status")
    if reply is None:
        return 1
    if args.json:
        print(json.dumps(reply["status"], indent=2, ensure_ascii=False))
    else:
        print(format_status(reply["status"]))
    return 0


def cmd_staff(args: argparse.Namespace) -> int:
    reply = _ask_daemon(args.config, f"staff {args.action} {args.extension}")
    if reply is None:
        return 1
    phone = reply["staff"]
    print(f"{phone['extension']}: {'logged in' if phone['logged_in'] else 'logged out'}, "
          f"{phone['state'].replace('_', ' ')}")
    return 0


def cmd_panel(args: argparse.Namespace) -> int:
    if args.action == "simulate":
        from frontdesk.panel.simulate import simulate

        return simulate(args.link)
    import serial

    from frontdesk.config import ConfigError, load_config
    from frontdesk.panel.checkup import show_every_state

    try:
        config = load_config(args.config)
    except ConfigError as error:
        print("\n".join(error.errors), file=sys.stderr)
        return 1
    settings = config.panel
    if not settings.port:
        print(f"{args.config}: [panel] port is not set", file=sys.stderr)
        return 1
    try:
        show_every_state(settings, pause=args.pause, language=config.practice.language)
    except (serial.SerialException, OSError, ValueError) as error:
        print(f"cannot use the panel at {settings.port}: {error}", file=sys.stderr)
        return 1
    return 0


def cmd_callbacks(args: argparse.Namespace) -> int:
    """Reads and writes the database directly: it works while the daemon is stopped, and the
    daemon reads a callback's state again before placing it."""
    import getpass
    from zoneinfo import ZoneInfo

    from frontdesk.queue.callbacks import (
        MISSED_REF_LENGTH,
        mark_done,
        missed_patients,
        pending_callbacks,
    )
    from frontdesk.store import Store

    config = _load_or_report(args.config)
    if config is None:
        return 1
    if args.action == "done" and not args.ref:
        print("frontdesk callbacks done: say which (REF from the list)", file=sys.stderr)
        return 2
    zone = ZoneInfo(config.practice.timezone)
    with Store(config.storage.database) as store:
        now = datetime.now(UTC)
        if args.action == "done":
            if not mark_done(store, args.ref, by=f"cli:{getpass.getuser()}", now=now):
                print(f"frontdesk callbacks: nothing matches {args.ref!r}", file=sys.stderr)
                return 1
            print(f"{args.ref}: done")
            return 0
        requests = pending_callbacks(store)
        missed = missed_patients(store, now, missed_after=config.queue.missed_after)
    print(_titled_table(
        "Callbacks",
        ("ref", "number", "called at", "why", "attempts", "state"),
        [(str(r.id), r.number, f"{r.call_started_at.astimezone(zone):%a %d/%m %H:%M}",
          "asked" if r.reason == "requested" else "missed call", str(r.attempts),
          "the daemon will call" if r.state == "pending" else "call them yourself")
         for r in requests],
    ))
    print(_titled_table(
        "Missed patients",
        ("ref", "number", "name", "called at", "waited", "calls"),
        [(m.call_uuid[:MISSED_REF_LENGTH], m.caller_number or "hidden", m.caller_name,
          f"{m.started_at.astimezone(zone):%a %d/%m %H:%M}", f"{m.waited / 60:.0f} min",
          str(m.calls))
         for m in missed],
    ))
    return 0


def _month(text: str) -> tuple[int, int]:
    """"2026-11" -> (2026, 11)."""
    try:
        year, month = (int(part) for part in text.split("-"))
        date(year, month, 1)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a month like 2026-11") from None
    return year, month


def cmd_report(args: argparse.Namespace) -> int:
    from zoneinfo import ZoneInfo

    from frontdesk.report.figures import compute
    from frontdesk.report.text import terminal_summary, write_csv
    from frontdesk.store import Store

    if args.last is not None and args.first is None:
        print("frontdesk report: --to goes with --from", file=sys.stderr)
        return 2
    config = _load_or_report(args.config)
    if config is None:
        return 1
    zone = ZoneInfo(config.practice.timezone)
    now = datetime.now(UTC)
    try:
        period = _report_period(args, now.astimezone(zone).date(), zone)
    except ValueError as error:
        print(f"frontdesk report: {error}", file=sys.stderr)
        return 2
    with Store(config.storage.database) as store:
        current = compute(store, period, config.report, zone, now=now)
        previous = compute(store, period.previous(), config.report, zone, now=now)
    print(terminal_summary(current, previous))
    if args.csv is not None:
        for path in write_csv(current, previous, args.csv):
            print(f"wrote {path}")
    if args.html is not None:
        from frontdesk.report.html import write_html

        write_html(current, previous, args.html, config.practice, config.report)
        print(f"wrote {args.html}")
    return 0


def _report_period(args: argparse.Namespace, today: date, zone: ZoneInfo) -> Period:
    from frontdesk.report.figures import Period

    if args.month is not None:
        year, month = args.month
        return Period.month(year, month, zone)
    if args.first is not None:
        return Period.days(args.first, args.last or today, zone)
    return Period.month(today.year, today.month, zone).previous()


def cmd_reminders(args: argparse.Namespace) -> int:
    from zoneinfo import ZoneInfo

    from frontdesk.logs import mask_number
    from frontdesk.store import Store

    config = _load_or_report(args.config)
    if config is None:
        return 1
    zone = ZoneInfo(config.practice.timezone)
    day = args.date or datetime.now(zone).date()
    with Store(config.storage.database) as store:
        reminders = store.reminders(day.isoformat())
    print(_titled_table(
        f"Reminder calls of {day:%a %d/%m/%Y}",
        ("appointment", "practitioner", "patient", "number", "attempts", "outcome"),
        [(f"{r.starts_at.astimezone(zone):%a %d/%m %H:%M}", r.practitioner,
          "-" if args.masked else r.patient_name or "-",
          mask_number(r.number) if args.masked else r.number or "-", str(r.attempts),
          _reminder_outcome(r, zone))
         for r in reminders],
    ))
    return 0


def _reminder_outcome(reminder: Reminder, zone: ZoneInfo) -> str:
    """What became of a reminder, as the staff read it."""
    state = reminder.state
    if state == "pending" and reminder.next_attempt_at is not None:
        return f"pending, next at {reminder.next_attempt_at.astimezone(zone):%H:%M}"
    if state == "answered":
        return "heard, not confirmed" + (f" (keys {reminder.answer})" if reminder.answer else "")
    if state in ("failed", "no_answer", "skipped"):
        return f"{state.replace('_', ' ')} ({reminder.last_result})"
    return state


def cmd_messages(args: argparse.Namespace) -> int:
    """Reads and writes the database directly: it works while the daemon is stopped."""
    import getpass
    import json
    from zoneinfo import ZoneInfo

    from frontdesk.inbox import inbox, mark_done
    from frontdesk.store import Store

    config = _load_or_report(args.config, data_directories=False)  # the list says it
    if config is None:
        return 1
    if args.action == "done" and not args.ref:
        print("frontdesk messages done: say which (REF from the list)", file=sys.stderr)
        return 2
    directory = config.storage.messages
    with Store(config.storage.database) as store:
        if args.action == "done":
            by = f"cli:{getpass.getuser()}"
            if not mark_done(store, directory, args.ref, by=by, at=datetime.now(UTC)):
                print(f"frontdesk messages: nothing open matches {args.ref!r}", file=sys.stderr)
                return 1
            print(f"{args.ref}: done")
            return 0
        items = inbox(store, directory, include_done=args.all)[: max(args.limit, 0)]
    if not os.access(directory, os.R_OK | os.X_OK):
        print(f"frontdesk messages: cannot read {directory}: the messages no call record "
              "holds yet are not listed", file=sys.stderr)
    if args.json:
        print(json.dumps([_inbox_json(item) for item in items], indent=2))
        return 0
    zone = ZoneInfo(config.practice.timezone)
    header: tuple[str, ...] = ("ref", "when", "number", "reason", "length", "message or request")
    rows = [_inbox_row(item, zone) for item in items]
    if args.all:
        header += ("done",)
        rows = [(*row, _done(item, zone)) for row, item in zip(rows, items, strict=True)]
    print(_titled_table("Messages", header, rows))
    return 0


def cmd_purge(args: argparse.Namespace) -> int:
    from frontdesk.retention import purge_expired
    from frontdesk.store import Store

    config = _load_or_report(args.config)
    if config is None:
        return 1
    with Store(config.storage.database) as store:
        counts = purge_expired(store, config, datetime.now(UTC), dry_run=args.dry_run)
    retention = config.retention
    title = "What a purge would remove now" if args.dry_run else "Purged"
    print(f"{title} (call records: {retention.call_records_days} days; messages: "
          f"{retention.messages_done_days} days after done, {retention.messages_open_days} "
          "days if never done):")
    print("\n".join(_table(("what", "how many"),
                           [(kind.replace("_", " "), str(n)) for kind, n in counts.items()])))
    return 0


WEEKDAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def _inbox_row(item: InboxItem, zone: tzinfo) -> tuple[str, ...]:
    if item.request is not None:
        length, what = "-", _request_text(item.request, item.caller_name)
    elif item.missing:
        length, what = "MISSING", f"{item.file} (file not found)"
    else:
        length, what = _minutes(item.seconds or 0), str(item.file)
    return (item.ref, f"{item.at.astimezone(zone):%a %d/%m %H:%M}",
            item.caller_number or "hidden", item.reason, length, what)


def _request_text(request: BookingRequest, patient: str) -> str:
    """`move consultation, martin, Tue Thu morning, patient DUPONT Marie, appointment 42,
    note: après 10 h`."""
    days = " ".join(WEEKDAY_NAMES[day] for day in request.preferred_days) or "any day"
    parts = [f"{request.action} {request.kind}", request.practitioner or "first available",
             f"{days} {request.preferred_times}"]
    if patient:
        parts.append(f"patient {patient}")
    if request.appointment_id:
        parts.append(f"appointment {request.appointment_id}")
    parts += [f"{name}: {value}" for name, value in request.details.items()]
    return ", ".join(parts)


def _done(item: InboxItem, zone: tzinfo) -> str:
    if item.done_at is None:
        return ""
    return f"{item.done_at.astimezone(zone):%d/%m %H:%M} {item.done_by}"


def _inbox_json(item: InboxItem) -> dict:
    request = item.request
    return {
        "ref": item.ref,
        "kind": "message" if request is None else "booking_request",
        "call": item.call_uuid,
        "started_at": item.at.isoformat(),
        "caller_number": item.caller_number,
        "caller_name": item.caller_name,
        "reason": item.reason,
        "outcome": item.outcome,
        "message_file": None if item.file is None else str(item.file),
        "seconds": None if item.seconds is None else round(item.seconds, 1),
        "missing": item.missing,
        "request": None if request is None else {
            "action": request.action, "kind": request.kind,
            "practitioner": request.practitioner,
            "preferred_days": list(request.preferred_days),
            "preferred_times": request.preferred_times,
            "callback_number": request.callback_number, "patient_id": request.patient_id,
            "appointment_id": request.appointment_id, "details": request.details,
        },
        "done_at": None if item.done_at is None else item.done_at.isoformat(),
        "done_by": item.done_by,
    }


def _titled_table(title: str, header: tuple[str, ...], rows: list[tuple[str, ...]]) -> str:
    return "\n".join([f"{title}:", *_table(header, rows)]) if rows else f"{title}: none"


def format_status(status: dict) -> str:
    """The daemon's status as a receptionist reads it on a terminal."""
    practice = status["practice"]
    override = practice["override"]
    state = practice["state"]
    if override is None and practice["detail"]:
        state += f" ({practice['detail']})"
    if override is not None:
        until = f" until {_clock(override['until'])[:5]}" if override["until"] else ""
        state += f", forced by {override['set_by']}{until}"
    freeswitch = "connected" if status["freeswitch_connected"] else "NOT CONNECTED"
    lines = [
        f"Practice {state}   FreeSWITCH {freeswitch}   config {status['config_version']}",
        *_recording_lines(status.get("recording")),
        "",
    ]
    waiting = status["waiting"]
    lines.append(f"Waiting: {len(waiting) or 'nobody'}")
    rows = [
        (
            str(row["position"] or "-"),
            row["caller"],
            _minutes(row["waited"]),
            "-" if row["estimate"] is None else f"~{_minutes(row['estimate'])}",
            ("EMERGENCY " if row["emergency"] else "") + row["state"]
            + (f" (callback, {row['callback']})" if row["callback"] else ""),
        )
        for row in waiting
    ]
    if rows:
        lines += _table(("#", "caller", "waited", "estimate", ""), rows)
    lines += ["", "Staff phones:"]
    lines += _table(
        ("ext", "state", "since", "for"),
        [
            (row["extension"], row["state"].replace("_", " "), _clock(row["since"]),
             _minutes(row["for"]))
            for row in status["staff"]
        ],
    )
    calls = status["calls"]
    lines += ["", f"Calls in progress: {len(calls) or 'none'}"]
    if calls:
        lines += _table(
            ("caller", "since", "at"),
            [(row["caller"], _clock(row["started_at"]), row["node"] or "-") for row in calls],
        )
    return "\n".join(lines)


def _recording_lines(recording: dict | None) -> list[str]:
    """Nothing while every call is recorded; otherwise why not, and what waits in memory."""
    if recording is None:
        return []
    lines = []
    if recording["problem"] is not None:
        lines.append(f"calls NOT recorded: {recording['problem']}")
    if recording["pending"]:
        lines.append(f"  {recording['pending']} record(s) kept in memory, written once the "
                     "database takes them (lost if the daemon stops before)")
    if recording["dropped"]:
        lines.append(f"  {recording['dropped']} record(s) lost: more were waiting than memory "
                     "keeps")
    return lines


def _clock(iso: str) -> str:
    """An ISO time from the daemon as this machine's local HH:MM:SS."""
    return f"{datetime.fromisoformat(iso).astimezone():%H:%M:%S}"


def _minutes(seconds: float) -> str:
    """`83` -> "1:23"."""
    whole = int(seconds)
    return f"{whole // 60}:{whole % 60:02d}"


def _table(header: tuple[str, ...], rows: Sequence[tuple[str, ...]]) -> list[str]:
    """Aligned columns; every cell is shown terminal-safe (callers choose their name)."""
    from frontdesk.terminal import safe

    rows = [tuple(safe(cell) for cell in row) for row in rows]
    widths = [max(len(cell) for cell in column) for column in zip(header, *rows, strict=False)]
    return [
        "  " + "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        .rstrip()
        for row in (header, *rows)
    ]


if __name__ == "__main__":
    sys.exit(main())
