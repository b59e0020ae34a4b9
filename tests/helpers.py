"""Small helpers shared by the test files."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import gevent

from frontdesk.messages import SETTLE_SECONDS

CAPTURES = Path(__file__).resolve().parent / "data" / "esl-captures"


def wait_for(condition, timeout: float = 5.0, step: float = 0.005) -> bool:
    """Poll `condition` until true (for states the code under test exposes no event for)."""
    with gevent.Timeout(timeout, False):
        while not condition():
            gevent.sleep(step)
        return True
    return False


def set_in_section(text: str, section: str, settings: dict) -> str:
    """The TOML `text` with each of `settings` set in [section] (as JSON values, which TOML
    reads alike for strings, numbers and booleans): a line of the section that sets the key is
    replaced, other keys are added at the top of the section."""
    import json
    import re

    header = f"\n[{section}]\n"
    start = text.index(header) + len(header)
    end = text.find("\n[", start)
    end = len(text) if end < 0 else end
    body = text[start:end]
    added = []
    for key, value in settings.items():
        line = f"{key} = {json.dumps(value)}"
        body, count = re.subn(rf"^{re.escape(key)} = .*$", line, body, flags=re.MULTILINE)
        if not count:
            added.append(line + "\n")
    return text[:start] + "".join(added) + body + text[end:]


def settled(path: Path) -> Path:
    """The message file as FreeSWITCH leaves it once its recording is over for a while (the
    daemon leaves a file written to in the last seconds for a later look)."""
    past = time.time() - 2 * SETTLE_SECONDS
    os.utime(path, (past, past))
    return path


def captured_reply(capture: str, command: str) -> str:
    """The body a real FreeSWITCH answered to `command` in the capture `capture`."""
    path = CAPTURES / f"{capture}.chunks.jsonl"
    blocks = [json.loads(line) for line in path.read_text().splitlines()]
    blocks = [block for block in blocks if block["dir"] != "note"]
    for asked, answer in zip(blocks, blocks[1:], strict=False):
        if asked["dir"] == "c2s" and asked["data"] == f"{command}\n\n":
            return answer["data"].partition("\n\n")[2]
    raise LookupError(f"{command!r} is not in {path.name}")
