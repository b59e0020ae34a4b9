"""Who may use the web console, and what a stranger on the network can do to it: nothing.

The daemon runs in a rig on simulated time (the login delay, the lockouts and the session's
end are on the daemon's clock), and is reached over real sockets (`console_client`); what
holds for every route, present and future, is checked on the WSGI application itself with a
spy in place of each handler: a refused request never reaches a handler.
"""

from __future__ import annotations

import html
import http.client
import io
import os
import re
import socket
import subprocess
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import gevent
import gevent.socket
import gevent.ssl
import pytest
import structlog
from werkzeug.test import Client
from werkzeug.wrappers import Response

from console_client import ConsoleClient
from frontdesk import console
from frontdesk.config.model import Config
from frontdesk.console import MAX_CONNECTIONS, passwords
from frontdesk.console.app import ConsoleApp, Page
from frontdesk.console.auth import (
    COOKIE,
    FAILED_LOGIN_DELAY,
    FIRST_LOCK,
    MAX_LOCK,
    token_hash,
)
from frontdesk.console.passwords import hash_password
from frontdesk.rehearse import Rig
from helpers import wait_for

REPO = Path(__file__).resolve().parent.parent
PASSWORD = "correct horse battery"
OTHER_PASSWORD = "staple in the drawer"
PUBLIC = {"login", "login_post", "static", "metrics"}
"""The only endpoints answered without a session: a new public page must be added here, on
purpose. ``metrics`` has its own check (a bearer token, or loopback only: tests/test_metrics.py)
and names no patient."""
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


def with_console(config: Config, **settings) -> Config:
    return replace(config, console=replace(config.console, enabled=True, port=0, **settings))


def with_lan(config: Config, *ranges: str) -> Config:
    assert config.network is not None
    return replace(config, network=replace(config.network, lan_ranges=ranges))


def add_user(rig: Rig, name: str, password: str = PASSWORD) -> None:
    rig.daemon.store.add_console_user(name, hash_password(password), at=rig.clock.wall())


def browser(rig: Rig, host: str = "127.0.0.1", **kwargs) -> ConsoleClient:
    return ConsoleClient(host, rig.daemon.console.port, **kwargs)


def logged_in(rig: Rig, name: str = "anna", **kwargs) -> ConsoleClient:
    client = browser(rig, **kwargs)
    reply = client.log_in(name, PASSWORD)
    assert reply.status == 303 and client.cookies, (reply.status, reply.body[:300])
    return client


def lan_address() -> str | None:
    """This machine's address on its network (not loopback), or None without one."""
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        probe.connect(("192.0.2.1", 9))  # no packet is sent: only a route is chosen
        address = probe.getsockname()[0]
    except OSError:
        return None
    finally:
        probe.close()
    return None if address.startswith("127.") else address


LAN = lan_address()
needs_lan = pytest.mark.skipif(LAN is None, reason="this machine has no non-loopback address")


@pytest.fixture
def rig(practice: Config, tmp_path: Path) -> Iterator[Rig]:
    with Rig(with_console(practice), tmp_path) as running:
        add_user(running, "anna")
        yield running


def wsgi(rig: Rig, address: str = "127.0.0.1") -> tuple[ConsoleApp, Client, list[str]]:
    """A console application on the rig's daemon, a client to it from `address`, and the
    endpoints whose handler ran (every handler is replaced by a spy answering 200)."""
    app = ConsoleApp(rig.daemon)
    ran: list[str] = []
    for endpoint, page in list(app.pages.items()):
        app.pages[endpoint] = replace(page, handler=_spy(endpoint, page, ran))
    return app, Browser(app, address), ran


class Browser(Client):
    """Werkzeug's test client, from the address `address`."""

    def __init__(self, app: ConsoleApp, address: str = "127.0.0.1") -> None:
        super().__init__(app)
        self.address = address

    def open(self, *args, **kwargs):
        kwargs.setdefault("environ_base", {"REMOTE_ADDR": self.address})
        return super().open(*args, **kwargs)


def _spy(endpoint: str, page: Page, ran: list[str]):
    def handler(request, *args, **kwargs) -> Response:
        ran.append(endpoint)
        return Response("handled", status=200)

    return page.handler if endpoint in ("login_post",) else handler


def every_route(app: ConsoleApp) -> Iterator[tuple[str, str, str]]:
    """(endpoint, method, url) of every route of the console, with made-up URL arguments."""
    for rule in app.url_map.iter_rules():
        # <any(login, logout):action> -> login; <ref>, <path:name> -> 1
        url = re.sub(r"<any\(([^,)]+)[^>]*>", r"\1", rule.rule)
        url = re.sub(r"<[^>]+>", "1", url)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            yield rule.endpoint, method, url


# -- no session ---------------------------------------------------------------------------------


def test_without_a_session_every_page_leads_to_the_login_and_nothing_else_runs(rig: Rig) -> None:
    app, client, ran = wsgi(rig)
    assert {endpoint for endpoint, page in app.pages.items() if page.public} == PUBLIC
    checked = 0
    for endpoint, method, url in every_route(app):
        if endpoint in PUBLIC:
            continue
        reply = client.open(url, method=method, headers={"Origin": "http://localhost"})
        checked += 1
        if method == "GET" and not app.pages[endpoint].stream:
            assert reply.status_code in (302, 303), (method, url, reply.status_code)
            assert reply.headers["Location"].endswith("/login"), url
        else:  # live streams, recordings, actions: a script or a player gets no page
            assert reply.status_code == 401, (method, url, reply.status_code)
    assert checked >= 2 and ran == []


def test_over_the_network_a_stranger_gets_the_login_page_and_nothing_else(rig: Rig) -> None:
    stranger = browser(rig)
    home = stranger.get("/")
    assert home.status in (302, 303) and home.location.endswith("/login")
    assert stranger.post("/logout").status == 401
    assert stranger.get("/login").status == 200
    forged = stranger.get("/", headers={"Cookie": f"{COOKIE}=made-up-token"})
    assert forged.status in (302, 303)


# -- who may connect ----------------------------------------------------------------------------


@needs_lan
def test_a_lan_console_refuses_an_address_outside_lan_ranges(practice: Config,
                                                             tmp_path: Path) -> None:
    # The example's LAN is 192.168.1.0/24; this machine's address is elsewhere.
    config = with_console(practice, listen="0.0.0.0")
    assert config.network is not None and LAN not in str(config.network.lan_ranges)
    with Rig(config, tmp_path) as rig:
        add_user(rig, "anna")
        outsider = browser(rig, host=LAN, source=LAN)
        assert outsider.get("/login").status == 403
        assert outsider.log_in("anna", PASSWORD).status == 403
        spoofed = outsider.get("/login", headers={"X-Forwarded-For": "192.168.1.20",
                                                   "X-Real-IP": "127.0.0.1"})
        assert spoofed.status == 403 and not outsider.cookies
        assert browser(rig).get("/login").status == 200  # the box itself (an SSH tunnel)


@needs_lan
def test_requests_from_outside_are_logged_once_a_minute_at_most(practice: Config,
                                                               tmp_path: Path) -> None:
    with Rig(with_console(practice, listen="0.0.0.0"), tmp_path) as rig:
        outsider = browser(rig, host=LAN, source=LAN)
        with structlog.testing.capture_logs() as logs:
            for _ in range(20):
                assert outsider.get("/login").status == 403
                assert browser(rig).post("/login", {"name": "x", "password": "y"},
                                         headers={"Origin": "http://evil.example"}).status == 403
        refused = [e["event"] for e in logs if e["event"].startswith("console.refused")]
        assert sorted(refused) == ["console.refused_address", "console.refused_cross_site"]


@needs_lan
def test_a_lan_console_serves_an_address_inside_lan_ranges(practice: Config,
                                                           tmp_path: Path) -> None:
    config = with_lan(with_console(practice, listen="0.0.0.0"), f"{LAN}/32")
    with Rig(config, tmp_path) as rig:
        add_user(rig, "anna")
        desk_pc = logged_in(rig, host=LAN, source=LAN)
        assert desk_pc.get("/").status == 200


@needs_lan
def test_a_console_listening_on_every_ipv6_address_knows_ipv4_peers(practice: Config,
                                                                    tmp_path: Path) -> None:
    """Listening on "::" the IPv4 peers arrive as ::ffff:a.b.c.d: still the same addresses."""
    if not socket.has_ipv6:
        pytest.skip("no IPv6 here")
    config = with_lan(with_console(practice, listen="::"), f"{LAN}/32")
    with Rig(config, tmp_path) as rig:
        add_user(rig, "anna")
        assert browser(rig, host=LAN, source=LAN).get("/login").status == 200
        assert browser(rig).get("/login").status == 200
    with Rig(with_console(practice, listen="::"), tmp_path / "other") as rig:
        assert browser(rig, host=LAN, source=LAN).get("/login").status == 403


@needs_lan
def test_by_default_the_console_is_not_on_the_network_at_all(rig: Rig) -> None:
    assert rig.config.console.listen == "127.0.0.1"
    with pytest.raises(ConnectionRefusedError):
        browser(rig, host=LAN).get("/login")
    assert browser(rig).get("/login").status == 200


# -- connections --------------------------------------------------------------------------------


def open_descriptors() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_a_flood_of_connections_cannot_take_the_descriptors_the_calls_need(rig: Rig) -> None:
    """The daemon and this test share a process: every connection is two descriptors here
    while the console holds it, one while it waits unaccepted in the kernel's queue."""
    before = open_descriptors()
    flood = [gevent.socket.create_connection(("127.0.0.1", rig.daemon.console.port))
             for _ in range(MAX_CONNECTIONS + 50)]
    try:
        most = before + len(flood) + MAX_CONNECTIONS
        assert wait_for(lambda: open_descriptors() >= most)
        for _ in range(20):
            gevent.idle()  # the console accepts here whatever more it would
        assert open_descriptors() == most
        assert rig.daemon.freeswitch_connected
    finally:
        for connection in flood:
            connection.close()
    assert browser(rig).get("/login").status == 200


def test_a_connection_that_says_nothing_is_closed(rig: Rig,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(console, "IDLE_SECONDS", 0.2)
    silent = gevent.socket.create_connection(("127.0.0.1", rig.daemon.console.port))
    try:
        with gevent.Timeout(10):
            assert silent.recv(1) == b""
    finally:
        silent.close()


# -- forged cross-site requests -----------------------------------------------------------------


def forgeries(client: Client, other_csrf: str) -> Iterator[tuple[str, dict, dict]]:
    """(what, headers, form) of each forged request a page of another site could send."""
    own = "http://localhost"
    yield "another site's Origin", {"Origin": "http://evil.example"}, {}
    yield "an opaque Origin", {"Origin": "null"}, {}
    yield "no CSRF token", {"Origin": own}, {}
    yield "a wrong token", {"Origin": own}, {"csrf": "x" * 43}
    yield "another session's token", {"Origin": own}, {"csrf": other_csrf}
    yield "another session's token in the header", {"Origin": own, "X-CSRF-Token": other_csrf}, {}


def wsgi_session(rig: Rig, client: Client, name: str) -> str:
    """Log `client` in as `name` through the real login handler; its session's CSRF token."""
    reply = client.post("/login", data={"name": name, "password": PASSWORD},
                        headers={"Origin": "http://localhost"})
    assert reply.status_code == 303, reply.text[:200]
    cookie = client.get_cookie(COOKIE)
    assert cookie is not None
    session = rig.daemon.store.console_session(token_hash(cookie.value), now=rig.clock.wall())
    assert session is not None
    return session.csrf


def test_a_forged_cross_site_action_is_refused_and_nothing_is_done(rig: Rig) -> None:
    add_user(rig, "bob")
    app, client, ran = wsgi(rig)
    wsgi_session(rig, client, "anna")
    _other_app, other_client, _ = wsgi(rig)
    other_csrf = wsgi_session(rig, other_client, "bob")
    actions = rig.daemon.store.console_actions()
    checked = 0
    for endpoint, method, url in every_route(app):
        if method in SAFE_METHODS or endpoint in PUBLIC:
            continue
        for what, headers, form in forgeries(client, other_csrf):
            reply = client.open(url, method=method, headers=headers, data=form)
            assert reply.status_code == 403, (url, what, reply.status_code)
            checked += 1
    assert checked >= len(list(forgeries(client, ""))) and ran == []
    assert rig.daemon.store.console_actions() == actions
    assert client.get("/").status_code == 200  # still logged in: the forged logout did nothing


def test_an_action_by_any_method_but_get_needs_the_token(rig: Rig) -> None:
    app, client, ran = wsgi(rig)
    app._route("/things/<ref>", "forget", lambda request, session, ref: Response("done"),
               methods=["DELETE"])
    anonymous = Browser(app)
    assert anonymous.delete("/things/1").status_code == 401
    csrf = wsgi_session(rig, client, "anna")
    assert client.delete("/things/1", headers={"Origin": "http://evil.example"}).status_code == 403
    assert client.delete("/things/1").status_code == 403
    assert client.delete("/things/1", headers={"X-CSRF-Token": csrf}).text == "done"


def test_a_cross_site_login_is_refused(rig: Rig) -> None:
    """A page elsewhere cannot log the receptionist in as someone else either."""
    stranger = browser(rig)
    reply = stranger.post("/login", {"name": "anna", "password": PASSWORD},
                          headers={"Origin": "http://evil.example"})
    assert reply.status == 403 and not stranger.cookies


def test_a_page_that_had_its_own_name_resolve_to_the_console_gets_nothing(rig: Rig) -> None:
    """DNS rebinding: evil.example resolves to the console's address, so the page's scripts
    talk to the console as their own site (same origin, SameSite does not help): every
    request naming an unknown host is refused, the login page and the login included."""
    app, client, ran = wsgi(rig)
    for _endpoint, method, url in every_route(app):
        reply = client.open(url, method=method, base_url="http://evil.example:8480")
        assert reply.status_code == 403, (method, url, reply.status_code)
    assert ran == []
    rebound = browser(rig)
    host = {"Host": f"evil.example:{rig.daemon.console.port}"}
    assert rebound.get("/login", headers=host).status == 403
    login = rebound.post("/login", {"name": "anna", "password": PASSWORD},
                         headers={**host, "Origin": f"http://evil.example:{rig.daemon.console.port}"})
    assert login.status == 403 and not rebound.cookies


def test_the_console_answers_its_addresses_localhost_and_the_names_it_is_given(
    practice: Config, tmp_path: Path
) -> None:
    config = replace(practice, console=replace(practice.console, enabled=True, port=0,
                                               hostnames=("Accueil.cabinet.lan",)))
    with Rig(config, tmp_path) as rig:
        app, client, _ = wsgi(rig)
        for base in ("http://127.0.0.1:8480", "http://192.168.1.10:8480", "http://[::1]:8480",
                     "http://localhost:8480", "http://accueil.cabinet.lan:8480"):
            assert client.get("/login", base_url=base).status_code == 200, base
        assert client.get("/login", base_url="http://cabinet.lan:8480").status_code == 403


def test_a_forged_logout_over_the_network_leaves_the_session(rig: Rig) -> None:
    anna = logged_in(rig)
    actions = rig.daemon.store.console_actions()
    assert anna.post("/logout", headers={"Origin": "http://evil.example"}).status == 403
    assert anna.post("/logout").status == 403  # no token
    assert anna.get("/").status == 200
    assert rig.daemon.store.console_actions() == actions


# -- cookies and sessions -----------------------------------------------------------------------


def test_the_session_cookie_is_httponly_strict_and_lasts_session_hours(rig: Rig) -> None:
    reply = browser(rig).log_in("anna", PASSWORD)
    morsel = reply.cookie()[COOKIE]
    assert morsel["httponly"] is True
    assert morsel["samesite"] == "Strict"
    assert morsel["path"] == "/"
    assert int(morsel["max-age"]) == rig.config.console.session_hours * 3600
    assert not morsel["secure"]  # plain HTTP: a Secure cookie would never come back
    assert len(morsel.value) >= 40


def test_a_session_ends_after_session_hours_on_the_daemons_clock(practice: Config,
                                                                 tmp_path: Path) -> None:
    with Rig(with_console(practice, session_hours=1), tmp_path) as rig:
        add_user(rig, "anna")
        anna = logged_in(rig)
        rig.clock.sleep(59 * 60)
        assert anna.get("/").status == 200
        rig.clock.sleep(60)
        assert anna.get("/").status in (302, 303)


def test_after_logout_the_old_cookie_opens_nothing(rig: Rig) -> None:
    anna = logged_in(rig)
    kept = dict(anna.cookies)
    reply = anna.post("/logout", {"csrf": anna.csrf()})
    assert reply.status == 303 and not anna.cookies
    anna.cookies = kept  # someone kept a copy of the cookie
    assert anna.get("/").status in (302, 303)


@pytest.mark.parametrize("command", [["passwd", "anna", "--password-stdin"], ["remove", "anna"]])
def test_a_new_password_or_a_removal_ends_the_users_sessions_at_once(
    practice_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: list[str]
) -> None:
    from frontdesk.cli import main
    from frontdesk.config import load_config

    config_file = practice_dir / "frontdesk.toml"
    workdir = tmp_path / "rig"
    text = config_file.read_text(encoding="utf-8")
    config_file.write_text(text.replace('database = "../var/frontdesk.db"',
                                        f'database = "{workdir}/rehearse.db"'), encoding="utf-8")
    with Rig(with_console(load_config(config_file)), workdir) as rig:
        add_user(rig, "anna")
        add_user(rig, "bob")
        anna, bob = logged_in(rig), logged_in(rig, "bob")
        monkeypatch.setattr("sys.stdin", io.StringIO(OTHER_PASSWORD + "\n"))
        assert main(["users", *command, "--config", str(config_file)]) == 0
        assert anna.get("/").status in (302, 303)
        assert bob.get("/").status == 200


# -- failed logins ------------------------------------------------------------------------------


def refused_as_locked(reply) -> bool:
    return reply.status == 401 and "réessayez dans" in html.unescape(reply.body)


def test_a_failed_login_is_answered_after_the_delay_a_good_one_at_once(rig: Rig) -> None:
    client = browser(rig)
    start = rig.clock.now()
    assert client.log_in("anna", "not the password").status == 401
    assert rig.clock.now() - start >= FAILED_LOGIN_DELAY
    rig.clock.sleep(MAX_LOCK)  # the lock the failure left is over
    start = rig.clock.now()
    assert client.log_in("anna", PASSWORD).status == 303
    assert rig.clock.now() - start < FAILED_LOGIN_DELAY


def lock_after_failure(rig: Rig, client: ConsoleClient, name: str) -> float:
    """Seconds, to a quarter (exact in binary: no rounding), the failure just answered locks
    `name` out from `client`'s address: a guess every simulated quarter of a second is
    refused unchecked until one is checked (and fails again)."""
    waited = 0.0
    while refused_as_locked(client.log_in(name, "guess")):
        assert waited <= MAX_LOCK, "still locked after the longest lock"
        rig.clock.sleep(0.25)
        waited += 0.25
    return waited


def test_from_the_second_failure_in_a_row_each_doubles_the_lockout_from_its_answer(
    rig: Rig,
) -> None:
    """A typo costs the delay only; then 1 s, 2, 4, 8..."""
    client = browser(rig)
    assert client.log_in("anna", "guess").status == 401
    locks = [lock_after_failure(rig, client, "anna") for _ in range(5)]
    assert locks == [0.0, FIRST_LOCK, 2 * FIRST_LOCK, 4 * FIRST_LOCK, 8 * FIRST_LOCK]


def test_during_a_lockout_the_right_password_is_refused_and_a_success_starts_again(
    rig: Rig,
) -> None:
    """A success forgets the name's failures (the address's are forgotten 15 minutes on)."""
    client = browser(rig)
    for _ in range(2):
        assert client.log_in("anna", "guess").status == 401
    assert refused_as_locked(client.log_in("anna", PASSWORD))
    rig.clock.sleep(FIRST_LOCK)
    assert client.log_in("anna", PASSWORD).status == 303
    elsewhere = browser(rig, source="127.0.0.2")
    assert elsewhere.log_in("anna", "guess").status == 401
    assert lock_after_failure(rig, elsewhere, "anna") == 0.0  # a first failure again


def test_knocking_during_a_lockout_is_logged_once_a_minute_at_most(rig: Rig) -> None:
    client = browser(rig)
    for _ in range(2):
        client.log_in("anna", "guess")
    with structlog.testing.capture_logs() as logs:
        for _ in range(20):
            assert refused_as_locked(client.log_in("anna", PASSWORD))
    assert [e["event"] for e in logs if e["event"] == "console.login_locked"] == [
        "console.login_locked"]


def test_a_failure_locks_the_name_from_everywhere_and_the_address_for_every_name(
    rig: Rig,
) -> None:
    add_user(rig, "bob")
    guesser, elsewhere = browser(rig), browser(rig, source="127.0.0.2")
    for _ in range(2):
        assert guesser.log_in("anna", "guess").status == 401
    assert refused_as_locked(elsewhere.log_in("anna", PASSWORD))  # the name is locked
    assert refused_as_locked(guesser.log_in("bob", PASSWORD))  # and the guessing address
    assert elsewhere.log_in("bob", PASSWORD).status == 303


def test_guesses_sent_at_once_are_checked_one_after_another(rig: Rig) -> None:
    """Five guesses at once: two are checked, one after the other, and fail; the second
    failure locks the name out, so the other three are refused unchecked."""
    guesses = [gevent.spawn(browser(rig).log_in, "anna", f"guess {n}") for n in range(5)]
    gevent.joinall(guesses, raise_error=True)
    assert [guess.value.status for guess in guesses] == [401] * 5
    assert sorted(refused_as_locked(guess.value) for guess in guesses) == [False] * 2 + [True] * 3


def test_an_unknown_name_costs_what_a_known_one_costs(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    derived: list[tuple[int, int, int]] = []
    real = passwords._derive

    def counted(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
        derived.append((n, r, p))
        return real(password, salt, n, r, p)

    monkeypatch.setattr(passwords, "_derive", counted)
    answers = []
    for name, source in (("anna", "127.0.0.2"), ("nobody", "127.0.0.3")):
        start = rig.clock.now()
        reply = browser(rig, source=source).log_in(name, "guess")
        answers.append((reply.status, reply.body, round(rig.clock.now() - start, 3)))
    assert derived == [passwords.COST, passwords.COST]
    assert answers[0] == answers[1]


def test_the_password_never_reaches_the_logs(rig: Rig, capfd: pytest.CaptureFixture) -> None:
    client = browser(rig)
    wrong = "wrong-Password-9f3c"
    with structlog.testing.capture_logs() as logs:
        client.log_in("anna", wrong)
        client.log_in("anna", wrong)
        client.log_in("anna", PASSWORD)  # locked
        rig.clock.sleep(MAX_LOCK)
        client.log_in("anna", PASSWORD)
        client.log_in(wrong, wrong)
        rig.clock.sleep(MAX_LOCK)
    written = repr(logs) + "".join(capfd.readouterr())
    assert "console.login_failed" in written and "console.login" in written
    assert wrong not in written and PASSWORD not in written


def test_a_form_of_a_megabyte_is_refused_unread(rig: Rig) -> None:
    with structlog.testing.capture_logs() as logs:
        reply = browser(rig).post("/login", {"name": "anna", "password": "x" * 1_000_000})
    assert reply.status == 413
    assert not [entry for entry in logs if entry["event"].startswith("console.login")]
    assert browser(rig).log_in("anna", PASSWORD).status == 303  # no lockout either


# -- HTTPS --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The self-signed certificate for 127.0.0.1 and its key the install makes (`make
    console-certificate`, as docs/console.md shows)."""
    root = tmp_path_factory.mktemp("root")
    subprocess.run([str(REPO / "tools/install.sh"), "console-certificate", "127.0.0.1"],
                   env={**os.environ, "DESTDIR": str(root)}, check=True, capture_output=True,
                   timeout=60)
    secrets = root / "etc/frontdesk/secrets"
    return secrets / "console.crt", secrets / "console.key"


@pytest.fixture
def tls_rig(practice: Config, tmp_path: Path, certificate: tuple[Path, Path]) -> Iterator[Rig]:
    cert, key = certificate
    with Rig(with_console(practice, certificate=cert, private_key=key), tmp_path) as running:
        add_user(running, "anna")
        yield running


def trusting(cert: Path) -> gevent.ssl.SSLContext:
    """A browser's TLS that trusts `cert` (gevent's: create_default_context makes a standard
    library context, whose sockets would block the daemon)."""
    context = gevent.ssl.SSLContext(gevent.ssl.PROTOCOL_TLS_CLIENT)
    context.load_verify_locations(cafile=str(cert))
    return context


def test_with_a_certificate_the_console_speaks_https_and_its_cookie_is_secure(
    tls_rig: Rig, certificate: tuple[Path, Path]
) -> None:
    client = browser(tls_rig, tls=trusting(certificate[0]))
    reply = client.log_in("anna", PASSWORD)
    assert reply.status == 303
    morsel = reply.cookie()[COOKIE]
    assert morsel["secure"] is True and morsel["httponly"] is True
    assert client.get("/").status == 200


def test_a_silent_client_of_the_https_port_holds_nobody_up(
    tls_rig: Rig, certificate: tuple[Path, Path]
) -> None:
    """A connection that never starts its TLS handshake (a port scanner, a stalled PC) waits
    alone: the daemon goes on serving the console and the calls."""
    silent = gevent.socket.create_connection(("127.0.0.1", tls_rig.daemon.console.port))
    try:
        client = browser(tls_rig, tls=trusting(certificate[0]))
        assert client.log_in("anna", PASSWORD).status == 303
        assert tls_rig.daemon.freeswitch_connected
    finally:
        silent.close()


def test_plain_http_to_the_https_port_gets_no_page_and_one_line_in_the_log(
    tls_rig: Rig, certificate: tuple[Path, Path], capfd: pytest.CaptureFixture
) -> None:
    with structlog.testing.capture_logs() as logs:
        for _ in range(3):
            with pytest.raises((OSError, http.client.HTTPException)):
                browser(tls_rig).log_in("anna", PASSWORD)
    assert [e["event"] for e in logs if e["event"].startswith("console.")] == [
        "console.tls_failed"]
    assert "Traceback" not in "".join(capfd.readouterr())
    assert browser(tls_rig, tls=trusting(certificate[0])).get("/login").status == 200
