"""Hold music, synthesised: a calm music-box tune written as an 8 kHz mono 16-bit WAV.

FreeSWITCH's ``local_stream://moh`` (freeswitch-conf/autoload_configs/local_stream.conf.xml)
plays the files of ``<prompts directory>/moh``; without any there it knows no ``moh`` source
and every hold playback ends at once. The install (and ``make run`` for the example) writes
this tune there, so the box has music that is free to use without a licence question:

    python -m frontdesk.holdmusic DIRECTORY     # writes DIRECTORY/frontdesk-hold.wav if missing

Arpeggios over a slow I-vi-IV-V progression in C major, soft sine tones with a short attack
and a long decay, about 64 s, looping seamlessly, peaks well below full scale (G.711).
"""

from __future__ import annotations

import array
import math
import os
import sys
import tempfile
import wave
from pathlib import Path

RATE = 8000
FILE_NAME = "frontdesk-hold.wav"
BEAT = 0.4
"""Seconds per eighth note (75 beats a minute)."""
RING = 1.6
"""Seconds a note sounds (it decays under the next ones)."""
PEAK = 0.35
"""Loudest sample, as a fraction of full scale."""
_NOTES = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
_CHORDS = {  # root and the two notes above it (names, octave of the root)
    "C": ("C", "E", "G"),
    "Am": ("A", "C", "E"),
    "F": ("F", "A", "C"),
    "G": ("G", "B", "D"),
    "Dm": ("D", "F", "A"),
    "Em": ("E", "G", "B"),
}
PROGRESSION = (
    "C", "Am", "F", "G", "C", "Am", "Dm", "G",
    "F", "G", "Em", "Am", "F", "G", "C", "C",
    "Am", "Em", "F", "G",
)
"""One chord a bar of eight eighth notes: 20 bars."""
_PATTERN = (0, 1, 2, 4, 3, 2, 1, 2)
"""Arpeggio over the chord tones [root, third, fifth, octave, tenth]."""


def frequency(name: str, octave: int) -> float:
    """Equal temperament, A4 = 440 Hz."""
    semitones = _NOTES[name] + 12 * (octave - 4) - 9
    return 440.0 * 2 ** (semitones / 12)


def _tone(hz: float, seconds: float, loudness: float) -> array.array:
    """A soft bell-like note: two harmonics, 20 ms attack, exponential decay, faded out over
    its last 100 ms (no click)."""
    count = int(seconds * RATE)
    attack, release = int(0.02 * RATE), int(0.1 * RATE)
    step = 2 * math.pi * hz / RATE
    samples = array.array("f", bytes(4 * count))
    for n in range(count):
        fade = min(n / attack, (count - n) / release, 1.0)
        envelope = fade * math.exp(-3.0 * n / count)
        phase = step * n
        samples[n] = loudness * envelope * (math.sin(phase) + 0.25 * math.sin(2 * phase))
    return samples


def _chord_tones(chord: str) -> list[float]:
    root, third, fifth = _CHORDS[chord]
    octave_of = {root: 4}
    for name in (third, fifth):
        octave_of[name] = 4 if _NOTES[name] > _NOTES[root] else 5
    tones = [frequency(n, octave_of[n]) for n in (root, third, fifth)]
    return tones + [tones[0] * 2, tones[1] * 2]


def tune() -> array.array:
    """The whole tune as float samples in [-PEAK, PEAK]; the last notes ring into the start
    (it is played in a loop)."""
    bar = 8 * BEAT
    total = int(len(PROGRESSION) * bar * RATE)
    mix = array.array("f", bytes(4 * total))
    cache: dict[tuple[float, float, float], array.array] = {}

    def add(hz: float, at: float, seconds: float, loudness: float) -> None:
        note = cache.get((hz, seconds, loudness))
        if note is None:
            note = cache[(hz, seconds, loudness)] = _tone(hz, seconds, loudness)
        start = int(at * RATE)
        for n, value in enumerate(note):
            mix[(start + n) % total] += value

    for index, chord in enumerate(PROGRESSION):
        tones = _chord_tones(chord)
        start = index * bar
        add(tones[0] / 2, start, bar, 0.5)  # the bass, an octave below
        for step, degree in enumerate(_PATTERN):
            add(tones[degree], start + step * BEAT, RING, 0.3)
    loudest = max(abs(value) for value in mix) or 1.0
    return array.array("f", (value * PEAK / loudest for value in mix))


def write_hold_music(directory: Path) -> Path | None:
    """Write the tune into `directory` (created) unless it is there; the file, or None when
    it already existed. Written atomically: FreeSWITCH never reads half a file."""
    target = directory / FILE_NAME
    if target.is_file():
        return None
    directory.mkdir(parents=True, exist_ok=True)
    pcm = array.array("h", (round(value * 32767) for value in tune()))
    if sys.byteorder != "little":
        pcm.byteswap()
    fd, name = tempfile.mkstemp(prefix=f".{FILE_NAME}.", dir=directory)
    os.close(fd)
    try:
        with wave.open(name, "wb") as out:
            out.setnchannels(1)
            out.setsampwidth(2)
            out.setframerate(RATE)
            out.writeframes(pcm.tobytes())
        os.chmod(name, 0o644)
        os.replace(name, target)
    finally:
        Path(name).unlink(missing_ok=True)
    return target


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m frontdesk.holdmusic DIRECTORY", file=sys.stderr)
        return 2
    written = write_hold_music(Path(argv[0]))
    state = "written" if written else "kept"
    print(f"hold music: {Path(argv[0]) / FILE_NAME} ({state})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
