"""The displays the desk panel supervisor (link.py) can drive, chosen by `[panel] driver`.

The supervisor always thinks in the frames of our protocol (frame.py): a hello when the port
opens, a state frame on every change (coalesced) and with every heartbeat, heartbeats, and
answers to buttons. A driver turns each frame into the bytes its display understands (nothing,
for a frame it has no use for) and says whether the display talks back."""

from __future__ import annotations

from collections.abc import Hashable
from typing import Protocol

from frontdesk.config.model import PanelSettings
from frontdesk.panel.alpha import AlphaSign
from frontdesk.panel.frame import Frame, encode


class Driver(Protocol):
    name: str
    listens: bool
    """The display sends frames of our protocol (heartbeats, buttons) that are read."""
    refresh_seconds: float
    """An unchanged state is sent again at the first heartbeat this long after the last."""

    def encode(self, frame: Frame) -> bytes:
        """The bytes for `frame`; empty when the display has no use for it."""
        ...

    def view(self, fields: tuple[str, ...]) -> Hashable:
        """What the display would show for a state: a change of it is sent at once."""
        ...


class ProtocolPanel:
    """Our own protocol (docs/panel-protocol.md): every frame as it is, the state with every
    heartbeat."""

    name = "frontdesk"
    listens = True
    refresh_seconds = 0.0

    def encode(self, frame: Frame) -> bytes:
        return encode(frame)

    def view(self, fields: tuple[str, ...]) -> Hashable:
        return fields


def driver_for(settings: PanelSettings, language: str) -> Driver:
    """The driver of `settings.driver`; `language` is the practice's, for the signs that show
    words."""
    if settings.driver == "alpha":
        return AlphaSign(language)
    return ProtocolPanel()
