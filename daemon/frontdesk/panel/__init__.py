"""frontdesk.panel: the desk status panel on a serial line; the only code that speaks serial.

- `frame.py`: the protocol's frames (docs/panel-protocol.md), checksum, line splitting;
- `link.py`: `Panel`, the supervisor that opens the port by URL, reconnects with backoff,
  sends the queue's state and heartbeats, and acts on the panel's buttons;
- `drivers.py`: what differs between the displays (`[panel] driver`): our protocol as it is, or
  `alpha.py`, an LED message sign of the Alpha family (write-only);
- `checkup.py`: `frontdesk panel test`, every state in turn;
- `simulate.py`: a panel played on a terminal at the end of a pty (`frontdesk panel simulate`,
  `frontdesk run --panel-simulator`).
"""

from frontdesk.panel.link import Panel

__all__ = ["Panel"]
