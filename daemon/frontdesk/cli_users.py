"""`frontdesk users add | passwd | remove | list`: the web console's accounts, on the box.

A password is asked twice on the terminal (never on the command line, where `ps` and the shell
history would show it), or read from standard input with ``--password-stdin`` for scripts.
Only its hash is stored (frontdesk.console.passwords). A new password or a removal ends the
user's sessions at once. Works with or without the daemon running (the database directly).
"""

from __future__ import annotations

import argparse
import getpass
import re
import sys
from datetime import UTC, datetime
from pathlib import Path

USER_NAME = re.compile(r"[A-Za-z0-9._-]{1,32}")


class Refused(Exception):
    """What the command says on stderr before exiting 1."""


def add_users_parser(commands: argparse._SubParsersAction, default_config: Path) -> None:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", type=Path, default=default_config, help="config file")
    users = commands.add_parser(
        "users",
        help="the web console's accounts: add, passwd, remove, list",
        description="Accounts of the receptionists' web console ([console]). Passwords are "
        "asked on the terminal (or read from standard input with --password-stdin) and only "
        "their scrypt hash is stored. A new password or a removal logs the user out at once.",
    )
    actions = users.add_subparsers(dest="users_action", required=True, metavar="ACTION")
    for name, helptext in (("add", "a new account"), ("passwd", "a new password")):
        action = actions.add_parser(name, parents=[common], help=helptext)
        action.add_argument("name", metavar="NAME", help="letters, digits, . _ - (32 at most)")
        action.add_argument("--password-stdin", action="store_true",
                            help="read the password from the first line of standard input")
    remove = actions.add_parser("remove", parents=[common], help="remove an account")
    remove.add_argument("name", metavar="NAME")
    actions.add_parser("list", parents=[common], help="the accounts")
    users.set_defaults(handler=cmd_users)


def cmd_users(args: argparse.Namespace) -> int:
    from frontdesk.cli import _load_or_report
    from frontdesk.store import Store, StoreError

    config = _load_or_report(args.config, data_directories=False)
    if config is None:
        return 1
    try:
        with Store(config.storage.database) as store:
            print(_ACTIONS[args.users_action](store, args))
    except (Refused, StoreError) as error:
        print(f"frontdesk users: {error}", file=sys.stderr)
        return 1
    return 0


def _add(store, args: argparse.Namespace) -> str:
    name = _valid_name(args.name)
    if store.console_user(name) is not None:
        raise Refused(f"{name} exists already (frontdesk users passwd {name})")
    if not store.add_console_user(name, _new_hash(name, args), at=datetime.now(UTC)):
        raise Refused(f"{name} exists already")
    return f"{name}: added"


def _passwd(store, args: argparse.Namespace) -> str:
    name = args.name
    if store.console_user(name) is None:
        raise Refused(f"no user {name!r}")
    store.set_console_password(name, _new_hash(name, args), at=datetime.now(UTC))
    return f"{name}: password changed, sessions ended"


def _remove(store, args: argparse.Namespace) -> str:
    if not store.remove_console_user(args.name):
        raise Refused(f"no user {args.name!r}")
    return f"{args.name}: removed, sessions ended"


def _list(store, args: argparse.Namespace) -> str:
    users = store.console_users()
    if not users:
        return "no users: frontdesk users add NAME"
    return "\n".join(f"{u.name}\tpassword set {u.changed_at:%Y-%m-%d %H:%M} UTC" for u in users)


_ACTIONS = {"add": _add, "passwd": _passwd, "remove": _remove, "list": _list}


def _valid_name(name: str) -> str:
    if not USER_NAME.fullmatch(name):
        raise Refused(f"{name!r}: a user name is 1 to 32 letters, digits, '.', '_' or '-'")
    return name


def _new_hash(name: str, args: argparse.Namespace) -> str:
    from frontdesk.console.passwords import WeakPassword, check_strength, hash_password

    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = getpass.getpass(f"password for {name}: ")
        if getpass.getpass("again: ") != password:
            raise Refused("the two passwords differ; nothing changed")
    try:
        check_strength(name, password)
    except WeakPassword as weak:
        raise Refused(f"password refused: {weak}") from None
    return hash_password(password)
