"""The receptionists' web console, served by the daemon ([console]; off unless enabled).

Werkzeug and Jinja2, on gevent's WSGI server. Why Werkzeug rather than a framework: every
handler gets its request as an argument. Frameworks that keep "the current request" in a
thread-local (Bottle) would mix up two greenlets' requests, since the daemon does not
monkey-patch threads. Werkzeug brings routing, cookies and ranged file answers (the audio
player seeks in a recording); Jinja2 escapes everything it renders. Both are well-kept Pallets
projects, packaged by Debian too.

Who may connect (`peer_allowed`): the console listens on 127.0.0.1 unless `[console] listen`
is a LAN address; then only addresses in `[network] lan_ranges` get an answer (and loopback).
Everything else is in `frontdesk.console.auth` (logins, sessions, CSRF) and
`frontdesk.console.app` (the pages).
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from contextlib import closing
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import gevent
import gevent.pool
import gevent.pywsgi
import gevent.ssl
import structlog

from frontdesk.config.model import Config
from frontdesk.logs import Throttle

if TYPE_CHECKING:
    from frontdesk.console.app import ConsoleApp, Desk

log = structlog.get_logger(__name__)

MAX_CONNECTIONS = 100
"""Connections served at once: five consoles open use a dozen (a live stream and a browser's
few others each)."""
IDLE_SECONDS = 60.0
"""Real seconds a connection may stay silent (a request not coming, a reply not read) before
it is closed (an I/O guard: real time). A live stream sends more often than that."""


def peer_allowed(address: str, config: Config) -> bool:
    """Whether a connection from `address` gets an answer: loopback always; others only when
    the console listens on a LAN address and `address` is in [network] lan_ranges."""
    try:
        peer = ipaddress.ip_address(address)
    except ValueError:
        return False
    if isinstance(peer, ipaddress.IPv6Address) and peer.ipv4_mapped:
        peer = peer.ipv4_mapped  # an IPv4 client of a console listening on "::"
    if peer.is_loopback:
        return True
    if ipaddress.ip_address(config.console.listen).is_loopback or config.network is None:
        return False
    return any(peer in ipaddress.ip_network(r) for r in config.network.lan_ranges)


def host_allowed(host: str, hostnames: tuple[str, ...]) -> bool:
    """Whether a request's ``Host`` names this console: an IP address (what the browsers open
    by default), ``localhost`` (an SSH tunnel), or one of `[console] hostnames`. Any other name
    is a page that had its own name resolve to this box (DNS rebinding): refused, so its
    scripts can neither log in through a receptionist's browser nor read a page."""
    try:
        name = urlsplit(f"//{host}").hostname
    except ValueError:
        return False
    if not name:
        return False
    try:
        ipaddress.ip_address(name)
        return True
    except ValueError:
        pass
    return name == "localhost" or name in {allowed.casefold() for allowed in hostnames}


class Console:
    """The console's server, a part of the daemon (`desk`)."""

    def __init__(self, desk: Desk) -> None:
        self.desk = desk
        self._server: gevent.pywsgi.WSGIServer | None = None
        self._app: ConsoleApp | None = None

    def start(self) -> None:
        """Listen (OSError when the address is taken); nothing when [console] is off."""
        from frontdesk.console.app import ConsoleApp

        settings = self.desk.config.console
        if not settings.enabled:
            return
        self._app = app = ConsoleApp(self.desk)
        address = (settings.listen, settings.port)
        if settings.https:
            # gevent's SSL, not the standard library's: a standard SSL socket would block
            # the daemon's one thread (every call with it) for as long as a client is slow
            # (its create_default_context makes a standard one)
            context = gevent.ssl.SSLContext(gevent.ssl.PROTOCOL_TLS_SERVER)
            context.minimum_version = gevent.ssl.TLSVersion.TLSv1_2
            context.load_cert_chain(str(settings.certificate), str(settings.private_key))
            server = _Server(address, app, tls=context)
        else:
            server = _Server(address, app)
        server.start()
        self._server = server
        if not ipaddress.ip_address(settings.listen).is_loopback and not settings.https:
            log.warning("console.plain_http", listen=settings.listen,
                        effect="passwords cross the LAN unencrypted: set [console] certificate "
                        "and private_key")
        log.info("console.listening", url=self.url)

    def stop(self) -> None:
        if self._app is not None:
            self._app.close()
        if self._server is not None:
            self._server.stop(timeout=1)
            self._server = None

    @property
    def port(self) -> int:
        assert self._server is not None, "the console is not started"
        return int(self._server.server_port or 0)

    @property
    def url(self) -> str:
        settings = self.desk.config.console
        scheme = "https" if settings.https else "http"
        return f"{scheme}://{settings.listen}:{self.port}/"

    @property
    def started(self) -> bool:
        return self._server is not None

    @property
    def serving(self) -> bool:
        return self._server is not None and self._server.started


class _Server(gevent.pywsgi.WSGIServer):
    """gevent's WSGI server, bounded: at most `MAX_CONNECTIONS` at once (more wait, not
    accepted, in the kernel's queue: a flood of connections cannot take the file descriptors
    the calls need), each closed after `IDLE_SECONDS` without a byte either way (a connection
    that says nothing does not hold a place). With TLS, a client that fails the handshake
    (plain HTTP to the HTTPS port, a scanner, a browser refusing the certificate) is dropped
    with a line in the log now and then, not a traceback each time."""

    def __init__(self, address: tuple[str, int], app: ConsoleApp,
                 tls: gevent.ssl.SSLContext | None = None) -> None:
        pool = gevent.pool.Pool(MAX_CONNECTIONS)
        if tls is None:
            super().__init__(address, app, log=None, error_log=_ErrorLog(), spawn=pool)
        else:
            super().__init__(address, app, log=None, error_log=_ErrorLog(), spawn=pool,
                             ssl_context=tls)
        self._tls = tls
        self._tls_failures = Throttle(60.0)

    def handle(self, sock: socket.socket, address: Any) -> None:
        sock.settimeout(IDLE_SECONDS)
        super().handle(sock, address)

    def wrap_socket_and_handle(self, client_socket: socket.socket, address: Any) -> Any:
        assert self._tls is not None, "gevent calls this with TLS only"
        client_socket.settimeout(IDLE_SECONDS)
        try:
            tls = self._tls.wrap_socket(client_socket, server_side=True)
        except OSError as error:  # ssl.SSLError, a reset, a timeout
            client_socket.close()
            skipped = self._tls_failures.due()
            if skipped is not None:
                log.info("console.tls_failed", address=address[0], error=str(error),
                         not_logged_before=skipped)
            return None
        with closing(tls):
            return self.handle(tls, address)


class _ErrorLog:
    """gevent's WSGI server reports a handler's crash here: to the daemon's log."""

    def write(self, text: str) -> None:
        if text.strip():
            log.error("console.server_error", error=text.strip()[-500:])

    def writelines(self, lines: Iterable[str]) -> None:
        self.write("".join(lines))

    def flush(self) -> None:
        """Nothing buffered."""
