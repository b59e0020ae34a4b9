"""`frontdesk users add | passwd | remove | list`: the web console's accounts, as the technician
manages them on the box."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from frontdesk.cli import main
from frontdesk.config import load_config
from frontdesk.console.auth import token_hash
from frontdesk.console.passwords import verify_password
from frontdesk.store import ConsoleSession, Store

PASSWORD = "correct horse battery"


@pytest.fixture
def config(practice_dir: Path) -> str:
    return str(practice_dir / "frontdesk.toml")


def users(config: str, *args: str, stdin: str | None = None,
          monkeypatch: pytest.MonkeyPatch) -> int:
    if stdin is not None:
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    return main(["users", *args, "--config", config])


def database(config: str) -> Path:
    return load_config(config).storage.database


def open_session(config: str, user: str) -> str:
    """A console session of `user`, as a login leaves it; its token's hash."""
    now = datetime.now(UTC)
    hashed = token_hash(f"token-of-{user}")
    with Store(database(config)) as store:
        store.open_console_session(ConsoleSession(hashed, user, "csrf", now,
                                                  now + timedelta(hours=12), None))
    return hashed


def session_alive(config: str, hashed: str) -> bool:
    with Store(database(config)) as store:
        return store.console_session(hashed, now=datetime.now(UTC)) is not None


def test_a_user_is_added_with_a_scrypt_hash_and_never_the_password(
    config: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    assert users(config, "add", "anna", "--password-stdin", stdin=PASSWORD + "\n",
                 monkeypatch=monkeypatch) == 0
    assert capsys.readouterr().out.strip() == "anna: added"
    with Store(database(config)) as store:
        user = store.console_user("anna")
    assert user is not None and user.password_hash.startswith("scrypt$32768$8$1$")
    assert verify_password(PASSWORD, user.password_hash)
    stored = b"".join(path.read_bytes() for path in database(config).parent.glob("*.db*"))
    assert PASSWORD.encode() not in stored


def test_the_password_is_asked_twice_on_the_terminal(
    config: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    answers = iter([PASSWORD, PASSWORD + "!"])
    monkeypatch.setattr("getpass.getpass", lambda prompt: next(answers))
    assert users(config, "add", "anna", monkeypatch=monkeypatch) == 1
    assert "the two passwords differ; nothing changed" in capsys.readouterr().err
    answers = iter([PASSWORD, PASSWORD])
    assert users(config, "add", "anna", monkeypatch=monkeypatch) == 0


def test_a_second_user_of_the_same_name_is_refused(
    config: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    assert users(config, "add", "anna", "--password-stdin", stdin=PASSWORD + "\n",
                 monkeypatch=monkeypatch) == 0
    with Store(database(config)) as store:
        first = store.console_user("anna")
    assert users(config, "add", "anna", "--password-stdin", stdin="another password\n",
                 monkeypatch=monkeypatch) == 1
    assert "anna exists already (frontdesk users passwd anna)" in capsys.readouterr().err
    with Store(database(config)) as store:
        assert store.console_user("anna") == first


@pytest.mark.parametrize(("password", "why"), [
    ("short", "at least 8 characters"),
    ("", "at least 8 characters"),
    ("x" * 1025, "at most 1024 characters"),
    ("Anna.Lee", "not the user's own name"),
])
def test_a_weak_password_is_refused_and_nothing_is_stored(
    config: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture,
    password: str, why: str,
) -> None:
    assert users(config, "add", "anna.lee", "--password-stdin", stdin=password + "\n",
                 monkeypatch=monkeypatch) == 1
    assert why in capsys.readouterr().err
    with Store(database(config)) as store:
        assert store.console_users() == []


@pytest.mark.parametrize("name", ["anna lee", "", "a" * 33, "anna;drop", "élodie", "a/b"])
def test_a_user_name_is_letters_digits_dot_underscore_and_dash(
    config: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture, name: str
) -> None:
    assert users(config, "add", name, "--password-stdin", stdin=PASSWORD + "\n",
                 monkeypatch=monkeypatch) == 1
    assert "a user name is 1 to 32 letters" in capsys.readouterr().err


def test_a_new_password_replaces_the_old_one_and_ends_the_users_sessions(
    config: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    for name in ("anna", "bob"):
        users(config, "add", name, "--password-stdin", stdin=PASSWORD + "\n",
              monkeypatch=monkeypatch)
    annas, bobs = open_session(config, "anna"), open_session(config, "bob")
    capsys.readouterr()
    assert users(config, "passwd", "anna", "--password-stdin", stdin="a new password\n",
                 monkeypatch=monkeypatch) == 0
    assert capsys.readouterr().out.strip() == "anna: password changed, sessions ended"
    with Store(database(config)) as store:
        user = store.console_user("anna")
    assert user is not None and verify_password("a new password", user.password_hash)
    assert not verify_password(PASSWORD, user.password_hash)
    assert not session_alive(config, annas) and session_alive(config, bobs)


def test_a_new_password_for_nobody_or_a_weak_one_changes_nothing(
    config: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    assert users(config, "passwd", "zoe", "--password-stdin", stdin=PASSWORD + "\n",
                 monkeypatch=monkeypatch) == 1
    assert "no user 'zoe'" in capsys.readouterr().err
    users(config, "add", "anna", "--password-stdin", stdin=PASSWORD + "\n",
          monkeypatch=monkeypatch)
    session = open_session(config, "anna")
    assert users(config, "passwd", "anna", "--password-stdin", stdin="short\n",
                 monkeypatch=monkeypatch) == 1
    assert session_alive(config, session)


def test_a_removed_user_is_gone_with_their_sessions_and_the_list_says_who_is_left(
    config: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    assert users(config, "list", monkeypatch=monkeypatch) == 0
    assert capsys.readouterr().out.strip() == "no users: frontdesk users add NAME"
    for name in ("bob", "anna"):
        users(config, "add", name, "--password-stdin", stdin=PASSWORD + "\n",
              monkeypatch=monkeypatch)
    session = open_session(config, "anna")
    capsys.readouterr()
    assert users(config, "remove", "anna", monkeypatch=monkeypatch) == 0
    assert capsys.readouterr().out.strip() == "anna: removed, sessions ended"
    assert not session_alive(config, session)
    assert users(config, "remove", "anna", monkeypatch=monkeypatch) == 1
    assert "no user 'anna'" in capsys.readouterr().err
    assert users(config, "list", monkeypatch=monkeypatch) == 0
    listing = capsys.readouterr().out.splitlines()
    assert [line.split("\t")[0] for line in listing] == ["bob"]
    assert "password set" in listing[0] and "scrypt" not in listing[0]
