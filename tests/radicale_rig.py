"""A real CalDAV server for the CalDAV agenda's tests and bench: Radicale on loopback, in its own
process, with its own storage and htpasswd login; and small real HTTP servers that stand in
for a server in trouble (a proxy that can hold or fail requests, a server answering garbage or
nothing)."""

from __future__ import annotations

import http.client
import socket
import socketserver
import subprocess
import sys
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from caldav.davclient import DAVClient

USERNAME = "frontdesk"
PASSWORD = "test-only-caldav-password"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Radicale:
    """Radicale serving `directory`'s storage on 127.0.0.1; `url` is the user's collection
    (``http://127.0.0.1:PORT/frontdesk/``)."""

    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/{USERNAME}/"
        self.password_file = directory / "caldav-password"
        self.password_file.write_text(PASSWORD + "\n")
        self.password_file.chmod(0o600)
        users = directory / "users"
        users.write_text(f"{USERNAME}:{PASSWORD}\n")
        config = directory / "radicale.conf"
        config.write_text(
            f"[server]\nhosts = 127.0.0.1:{self.port}\n"
            f"[auth]\ntype = htpasswd\nhtpasswd_filename = {users}\n"
            "htpasswd_encryption = plain\n"
            f"[storage]\nfilesystem_folder = {directory / 'collections'}\n"
            # Radicale's advice for large calendars: a REPORT over 1500 events takes 0.13 s
            # instead of 0.7 s (it reads every event of the calendar for each query).
            "use_mtime_and_size_for_item_cache = True\n"
            "[rights]\ntype = owner_only\n"
            "[logging]\nlevel = info\n"
        )
        self.log: list[str] = []
        self.process = subprocess.Popen(
            [sys.executable, "-m", "radicale", "--config", str(config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self.process.stderr is not None
        for line in self.process.stderr:  # ends when Radicale exits
            self.log.append(line)
            if "Radicale server ready" in line:
                break
        else:
            raise RuntimeError("Radicale did not start:\n" + "".join(self.log[-20:]))
        threading.Thread(target=self._drain, daemon=True).start()

    def _drain(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.log.append(line)

    def client(self) -> DAVClient:
        return DAVClient(
            url=self.url,
            username=USERNAME,
            password=PASSWORD,
            timeout=10,
            auth_type="basic",
            enable_rfc6764=False,
        )

    def make_calendar(self, name: str) -> str:
        """A new calendar under the user's collection; its URL."""
        url = f"{self.url}{name}/"
        response = self.client().mkcalendar(url)
        assert response.status == 201, response.status
        return url

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
        self.process.wait(timeout=30)

    def __enter__(self) -> Radicale:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


class Proxy:
    """A real HTTP proxy in front of `target_port`. `before(method, path)` runs (in the
    request's thread) before each request is forwarded; it may wait, or return a status to
    answer instead of forwarding."""

    def __init__(self, target_port: int, before: Callable[[str, str], int | None]) -> None:
        self.before = before
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                pass

            def forward(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status = proxy.before(self.command, self.path)
                if status is not None:
                    self.send_response(status)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                upstream = http.client.HTTPConnection("127.0.0.1", target_port, timeout=30)
                headers = {k: v for k, v in self.headers.items() if k.lower() != "connection"}
                upstream.request(self.command, self.path, body, headers)
                answer = upstream.getresponse()
                data = answer.read()
                upstream.close()
                self.send_response(answer.status, answer.reason)
                for name, value in answer.getheaders():
                    if name.lower() not in ("connection", "content-length", "transfer-encoding"):
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_PUT = do_DELETE = do_REPORT = do_PROPFIND = forward

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Answering:
    """A TCP server on 127.0.0.1 that reads each HTTP request and answers `answer` (bytes), or
    nothing at all until closed (`answer` None: a server that hangs)."""

    def __init__(self, answer: bytes | None) -> None:
        self.closed = threading.Event()
        rig = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                head = b""
                while not head.endswith(b"\r\n\r\n"):
                    line = self.rfile.readline()
                    if not line:
                        return
                    head += line
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":")[1])
                self.rfile.read(length)
                if answer is None:
                    rig.closed.wait()
                else:
                    self.wfile.write(answer)

        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/{USERNAME}/"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.closed.set()
        self.server.shutdown()
        self.server.server_close()
