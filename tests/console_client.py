"""An HTTP client for the web console's tests, over gevent's sockets: the daemon runs in the
test's process and is not monkey-patched, so a blocking client would stop it; and on the rig's
VirtualClock a client waiting on a gevent socket lets simulated time run (the failed-login
delay), where one waiting in the thread pool would hold it."""

from __future__ import annotations

import http.client
import re
import urllib.parse
from dataclasses import dataclass, field
from http.cookies import SimpleCookie

import gevent.socket
import gevent.ssl

from frontdesk.console.auth import COOKIE

TIMEOUT = 30.0
"""Real seconds a request may take: a guard against a hang, never reached by one that ends."""


@dataclass
class Reply:
    status: int
    headers: http.client.HTTPMessage
    body: str

    @property
    def location(self) -> str | None:
        return self.headers.get("Location")

    def cookie(self, name: str = COOKIE) -> SimpleCookie | None:
        """The Set-Cookie of `name` in this reply, parsed (attributes included)."""
        for header in self.headers.get_all("Set-Cookie") or []:
            parsed = SimpleCookie()
            parsed.load(header)
            if name in parsed:
                return parsed
        return None


class _Connection(http.client.HTTPConnection):
    def __init__(self, host: str, port: int, source: str | None) -> None:
        super().__init__(host, port, timeout=TIMEOUT)
        self._source = source

    def connect(self) -> None:
        source = (self._source, 0) if self._source else None
        self.sock = gevent.socket.create_connection(
            (self.host, self.port), TIMEOUT, source_address=source)


class _TlsConnection(_Connection):
    def __init__(self, host: str, port: int, source: str | None,
                 context: gevent.ssl.SSLContext) -> None:
        super().__init__(host, port, source)
        self._context = context

    def connect(self) -> None:
        super().connect()
        self.sock = self._context.wrap_socket(self.sock, server_hostname=self.host)


@dataclass
class ConsoleClient:
    """One browser: the console at `host`:`port`, from the address `source` (None: the
    system's choice), keeping the session cookie it is given; `tls`: speak HTTPS with it."""

    host: str
    port: int
    source: str | None = None
    tls: gevent.ssl.SSLContext | None = None
    cookies: dict[str, str] = field(default_factory=dict)

    @property
    def origin(self) -> str:
        scheme = "https" if self.tls else "http"
        return f"{scheme}://{self.host}:{self.port}"

    def request(self, method: str, path: str, *, form: dict[str, str] | None = None,
                body: bytes | None = None, headers: dict[str, str] | None = None) -> Reply:
        """One request on a new connection (a POST carries this console's Origin, as a
        browser's form does, unless `headers` says otherwise)."""
        sent = {"Host": f"{self.host}:{self.port}"}
        if method != "GET":
            sent["Origin"] = self.origin
        if self.cookies:
            sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if form is not None:
            body = urllib.parse.urlencode(form).encode()
            sent["Content-Type"] = "application/x-www-form-urlencoded"
        sent.update(headers or {})
        connection = (_TlsConnection(self.host, self.port, self.source, self.tls) if self.tls
                      else _Connection(self.host, self.port, self.source))
        try:
            connection.request(method, path, body=body, headers=sent)
            response = connection.getresponse()
            reply = Reply(response.status, response.headers,
                          response.read().decode("utf-8", "replace"))
        finally:
            connection.close()
        self._keep_cookie(reply)
        return reply

    def get(self, path: str, **kwargs) -> Reply:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, form: dict[str, str] | None = None, **kwargs) -> Reply:
        return self.request("POST", path, form=form or {}, **kwargs)

    def log_in(self, name: str, password: str) -> Reply:
        return self.post("/login", {"name": name, "password": password})

    def csrf(self) -> str:
        """The CSRF token of this browser's session, as its pages carry it."""
        page = self.get("/")
        found = re.search(r'<meta name="csrf-token" content="([^"]+)"', page.body)
        assert found, f"no csrf-token in the page ({page.status}, {page.location})"
        return found.group(1)

    def _keep_cookie(self, reply: Reply) -> None:
        cookie = reply.cookie()
        if cookie is None:
            return
        morsel = cookie[COOKIE]
        if morsel.value and morsel["max-age"] not in ("0", 0):
            self.cookies[COOKIE] = morsel.value
        else:
            self.cookies.pop(COOKIE, None)
