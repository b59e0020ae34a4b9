"""`frontdesk panel test`: every state the panel can show, in turn, for the installation."""

from __future__ import annotations

import time
from collections.abc import Callable

from frontdesk.config.model import PanelSettings
from frontdesk.panel.drivers import driver_for
from frontdesk.panel.frame import MODES, PROTOCOL_VERSION, Frame, state_fields
from frontdesk.panel.link import level_of, open_port, write_out

SAMPLE_QUEUES = ((0, 0.0, 3), (1, 20.0, 1), (2, 95.0, 0), (5, 240.0, 0))
"""(waiting, longest wait, staff available): green, then busier and busier."""


def show_every_state(
    settings: PanelSettings,
    *,
    pause: float = 2.0,
    say: Callable[[str], None] = print,
    language: str = "fr",
) -> None:
    """Send each sample queue with the schedule, then each override mode; `say` tells what
    the panel should show now. Raises serial.SerialException when the port cannot be used."""
    driver = driver_for(settings, language)
    port = open_port(settings)
    try:
        write_out(port, driver.encode(Frame("V", 0, (str(PROTOCOL_VERSION), "frontdesk"))))
        samples = [(*queue, "AUTO") for queue in SAMPLE_QUEUES]
        samples += [(*SAMPLE_QUEUES[0], mode) for mode in MODES[1:]]
        for seq, (waiting, longest, available, mode) in enumerate(samples, start=1):
            level = level_of(settings, waiting, longest)
            write_out(
                port,
                driver.encode(
                    Frame("S", seq, state_fields(waiting, longest, available, level, mode))
                ),
            )
            say(
                f"{waiting} waiting, longest {longest:.0f} s, {available} free: "
                f"level {dict(G='green', A='amber', R='red')[level]}, mode {mode.lower()}"
            )
            time.sleep(pause)
    finally:
        port.close()
