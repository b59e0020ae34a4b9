"""The desk panel reached over the network, as [panel] port allows with pyserial's URLs: a
serial-to-Ethernet adapter in raw TCP mode (`socket://`) and a terminal server speaking
RFC 2217 (`rfc2217://`). The real daemon runs against the simulator; the test plays the panel
at the far end of the link, and the adapter in between."""

from __future__ import annotations

import select
import socket
import threading
from collections.abc import Iterator
from types import SimpleNamespace

import pytest
import serial
from serial.rfc2217 import PortManager

from frontdesk.panel.frame import Frame
from frontdesk.queue.feed import QueueState
from frontdesk.rehearse import Rig
from helpers import wait_for
from panel_helpers import PanelEnd, PtyPanel, enable_panel, started_rig

# -- socket://: a serial-to-Ethernet adapter in raw TCP mode ---------------------------------


class SocketPanel(PanelEnd):
    """The panel behind the adapter, on the daemon's connection to it."""

    def __init__(self, connection: socket.socket) -> None:
        super().__init__()
        self.connection = connection

    def read(self) -> bytes:
        try:
            return self.connection.recv(4096)
        except BlockingIOError:
            return b""

    def write(self, data: bytes) -> None:
        self.connection.sendall(data)


class NetworkAdapter:
    """The adapter's TCP side: listens on a port, takes the daemon's connection, and passes
    bytes to and from the panel behind it. It can be unplugged (everything closed) and
    plugged in again on the same port."""

    def __init__(self) -> None:
        self.port = 0
        self.connection: socket.socket | None = None
        self.plug()

    def plug(self) -> None:
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", self.port))
        self.listener.listen()
        self.listener.setblocking(False)
        self.port = self.listener.getsockname()[1]

    def accepted(self) -> bool:
        """Whether the daemon is connected (takes its connection when it has come)."""
        if self.connection is None:
            try:
                self.connection, _ = self.listener.accept()
            except BlockingIOError:
                return False
            self.connection.setblocking(False)
        return True

    def panel(self) -> SocketPanel:
        assert self.connection is not None
        return SocketPanel(self.connection)

    def unplug(self) -> None:
        if self.connection is not None:
            self.connection.close()
            self.connection = None
        self.listener.close()


@pytest.fixture
def adapter() -> Iterator[NetworkAdapter]:
    plugged = NetworkAdapter()
    yield plugged
    plugged.unplug()


@pytest.fixture
def networked(practice_dir, tmp_path, adapter) -> Iterator[Rig]:
    config = enable_panel(practice_dir, f"socket://127.0.0.1:{adapter.port}")
    with started_rig(config, tmp_path) as rig:
        yield rig


def test_a_panel_behind_a_network_adapter_gets_the_state_and_its_button_works(networked, adapter):
    assert wait_for(adapter.accepted, timeout=3)
    panel = adapter.panel()
    assert wait_for(lambda: panel.shows("0", "AUTO"), timeout=2)
    assert panel.frames()[0] == Frame("V", panel.frames()[0].seq, ("1", "frontdesk"))

    seq = panel.press("CLOSED")

    assert wait_for(lambda: panel.acked(seq) == "OK", timeout=2)
    assert wait_for(lambda: panel.shows("0", "CLOSED"), timeout=2)
    assert networked.daemon.store.get_override(now=networked.clock.wall()).set_by == "panel"


def test_a_network_adapter_switched_off_and_on_again_shows_the_current_state(networked, adapter):
    assert wait_for(adapter.accepted, timeout=3)
    assert wait_for(lambda: adapter.panel().shows("0", "AUTO"), timeout=2)

    adapter.unplug()
    assert wait_for(lambda: not networked.daemon.panel.connected, timeout=2)
    networked.daemon.store.set_override("lunch", until=None, set_by="test")
    networked.daemon.queue.feed.publish(QueueState(2, 0, 30.0, 1, 3, 2))
    adapter.plug()

    assert wait_for(adapter.accepted, timeout=4)  # the daemon's retries back off to 0.8 s
    panel = adapter.panel()
    assert wait_for(lambda: panel.shows("2", "LUNCH"), timeout=2)
    assert panel.frames()[0].kind == "V"
    seq = panel.press("LUNCH")  # and the buttons work again: back to the schedule
    assert wait_for(lambda: panel.acked(seq) == "OK" and panel.shows("2", "AUTO"), timeout=2)


# -- rfc2217://: a terminal server, its serial port wired to the panel -----------------------


class NullModemLine(serial.Serial):
    """A pty as the terminal server's serial port, wired as by a null-modem cable: the modem
    lines a pty does not have read as asserted, and setting ours is accepted."""

    cts = dsr = cd = True
    ri = False

    def _update_dtr_state(self) -> None:
        pass

    def _update_rts_state(self) -> None:
        pass


class TerminalServer:
    """An RFC 2217 server in a thread: one client at a time, its Telnet and COM-PORT
    negotiation answered by pyserial's PortManager (which applies the client's line settings
    to the serial port), data passed both ways between the client and the serial port."""

    def __init__(self, device: str) -> None:
        self.line = NullModemLine(device, timeout=0)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.stopping = threading.Event()
        self.clients = 0
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        self.listener.settimeout(0.05)
        while not self.stopping.is_set():
            try:
                client, _ = self.listener.accept()
            except TimeoutError:
                continue
            self.clients += 1
            with client:
                self._bridge(client)

    def _bridge(self, client: socket.socket) -> None:
        manager = PortManager(self.line, SimpleNamespace(write=client.sendall))
        while not self.stopping.is_set():
            ready = select.select([client, self.line], [], [], 0.05)[0]
            if client in ready:
                data = client.recv(4096)
                if not data:
                    return
                self.line.write(b"".join(manager.filter(data)))
            if self.line in ready:
                client.sendall(b"".join(manager.escape(self.line.read(4096))))
            manager.check_modem_lines()

    def close(self) -> None:
        self.stopping.set()
        self.thread.join(timeout=2)
        self.listener.close()
        self.line.close()


@pytest.fixture
def pty_panel() -> Iterator[tuple[PtyPanel, str]]:
    """The panel on the master of a pty; the slave is the terminal server's serial port."""
    panel = PtyPanel()
    yield panel, panel.device
    panel.close()


@pytest.mark.filterwarnings("ignore:set(Daemon|Name)\\(\\) is deprecated:DeprecationWarning")
def test_a_panel_behind_an_rfc2217_terminal_server_gets_the_state_and_its_button_works(
    practice_dir, tmp_path, pty_panel
):
    panel, device = pty_panel
    server = TerminalServer(device)
    config = enable_panel(practice_dir, f"rfc2217://127.0.0.1:{server.port}")
    try:
        with started_rig(config, tmp_path) as rig:
            assert wait_for(lambda: rig.daemon.panel.connected, timeout=4)
            assert wait_for(lambda: panel.shows("0", "AUTO"), timeout=2)
            assert server.line.baudrate == 9600  # set by the daemon, through RFC 2217

            seq = panel.press("LUNCH")

            assert wait_for(lambda: panel.acked(seq) == "OK", timeout=2)
            assert wait_for(lambda: panel.shows("0", "LUNCH"), timeout=2)
            assert rig.daemon.store.get_override(now=rig.clock.wall()).mode == "lunch"
            assert server.clients == 1
    finally:
        server.close()
