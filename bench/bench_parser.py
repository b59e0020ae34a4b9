"""ESL event parsing: frontdesk.esl vs greenswitch, on the captured plain and json event frames.

Parsing only, no socket. Each run starts from the raw bytes of one whole frame.
- hot path: frame it, then read content type, Event-Name, Unique-ID and Application-UUID (what
  the dispatchers read for every event);
- full decode: frame it and build the dict of every decoded header (and the body).
greenswitch has no lazy mode, so its hot path and full decode are the same work: ESLEvent on
the header block, then parse_data on the body (after decoding both to str, as its reader does).
It cannot read text/event-json bodies at all (ESLEvent raises on the one-line JSON), so for json
the greenswitch column is what a greenswitch user would do: ESLEvent for the outer headers,
then json.loads of the body.

Usage: .venv/bin/python bench/bench_parser.py [--seconds 1.0]
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from pathlib import Path

from greenswitch.esl import ESLEvent

from frontdesk.esl import FrameReader

CAPTURES = Path(__file__).resolve().parent.parent / "tests" / "data" / "esl-captures"


def event_frames() -> dict[str, list[bytes]]:
    frames: dict[str, list[bytes]] = {"plain": [], "json": []}
    for path in sorted(CAPTURES.glob("*.chunks.jsonl")):
        for line in path.read_text().splitlines():
            block = json.loads(line)
            if block["dir"] != "s2c":
                continue
            data = block["data"].encode()
            head = data.partition(b"\n\n")[0]
            if b"Content-Type: text/event-plain" in head:
                frames["plain"].append(data)
            elif b"Content-Type: text/event-json" in head:
                frames["json"].append(data)
    return frames


def ours_hot(frame: bytes) -> tuple:
    reader = FrameReader()
    reader.feed(frame)
    event = reader.next_event()
    return event.content_type, event.name, event.uuid, event.get("Application-UUID")


def ours_full(frame: bytes) -> tuple:
    reader = FrameReader()
    reader.feed(frame)
    event = reader.next_event()
    return event.headers, event.body


def greenswitch_plain(frame: bytes) -> tuple:
    head, _, body = frame.partition(b"\n\n")
    event = ESLEvent(head.decode())
    event.parse_data(body.decode())
    return event.headers.get("Event-Name"), event.headers.get("Unique-ID")


def greenswitch_json(frame: bytes) -> tuple:
    head, _, body = frame.partition(b"\n\n")
    event = ESLEvent(head.decode())
    event.headers.update(json.loads(body))
    return event.headers.get("Event-Name"), event.headers.get("Unique-ID")


def rate(parse: Callable[[bytes], tuple], frames: list[bytes], seconds: float) -> float:
    """Events per second, best of three runs of about `seconds` / 3 each."""
    best = 0.0
    for _ in range(3):
        count = 0
        start = time.perf_counter()
        deadline = start + seconds / 3
        while (now := time.perf_counter()) < deadline:
            for frame in frames:
                parse(frame)
            count += len(frames)
        best = max(best, count / (now - start))
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.5, help="time per measurement")
    args = parser.parse_args()
    frames = event_frames()
    print(f"frames: {len(frames['plain'])} plain, {len(frames['json'])} json "
          f"(from {CAPTURES})")
    print(f"{'format':<7}{'measure':<13}{'frontdesk ev/s':>16}{'greenswitch ev/s':>18}{'ratio':>8}")
    theirs_by_format = {"plain": greenswitch_plain, "json": greenswitch_json}
    for fmt, sample in frames.items():
        theirs = rate(theirs_by_format[fmt], sample, args.seconds)
        for measure, ours in (("hot path", ours_hot), ("full decode", ours_full)):
            mine = rate(ours, sample, args.seconds)
            print(f"{fmt:<7}{measure:<13}{mine:>16,.0f}{theirs:>18,.0f}{mine / theirs:>7.1f}x")
    both = frames["plain"] + frames["json"]
    theirs_all = 1 / (
        (len(frames["plain"]) / rate(greenswitch_plain, frames["plain"], args.seconds)
         + len(frames["json"]) / rate(greenswitch_json, frames["json"], args.seconds))
        / len(both)
    )
    for measure, ours in (("hot path", ours_hot), ("full decode", ours_full)):
        mine = rate(ours, both, args.seconds)
        print(f"{'both':<7}{measure:<13}{mine:>16,.0f}{theirs_all:>18,.0f}"
              f"{mine / theirs_all:>7.1f}x")


if __name__ == "__main__":
    main()
