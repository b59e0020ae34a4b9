"""The `frontdesk` command."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path

DEFAULT_CONFIG = Path("/etc/frontdesk/frontdesk.toml")


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command != "run":
        from frontdesk.logs import configure_logging

        configure_logging("warning")
    return args.handler(args)


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
        "disagree. Files holding a password are written with mode 0600; none is printed.",
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


def _load_or_report(path: Path, *, check_files: bool = True):
    from frontdesk.config import ConfigError, load_config

    try:
        return load_config(path, check_files=check_files)
    except ConfigError as error:
        for message in error.errors:
            print(message, file=sys.stderr)
        return None


def cmd_run(args: argparse.Namespace) -> int:
    from frontdesk.daemon import Daemon
    from frontdesk.logs import configure_logging

    configure_logging(args.log_level, json_lines=True if args.json_logs else None)
    config = _load_or_report(args.config)
    if config is None:
        print("frontdesk: refusing to start on an invalid config", file=sys.stderr)
        return 1
    simulator = None
    if args.simulator == "always" or (
        args.simulator == "auto" and not _freeswitch_answers(config)
    ):
        from frontdesk.demo import start_simulator

        simulator = start_simulator(config)
    daemon = Daemon(config, config_path=args.config)
    try:
        daemon.start()
    except OSError as error:
        print(f"frontdesk: cannot start: {error}", file=sys.stderr)
        return 1
    if simulator is not None and args.demo_callers > 0:
        from frontdesk.demo import DemoCallers

        DemoCallers(simulator, config, per_minute=args.demo_callers).start()
    daemon.serve_forever()
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

    config = _load_or_report(args.config)
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
        print(f"{path}{'  (0600, holds a password)' if file.secret else ''}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
