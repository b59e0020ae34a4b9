"""The WAV files the simulator records, laid out as FreeSWITCH's mod_sndfile (libsndfile)
writes them: 8 kHz 16-bit mono PCM, and the ``RECORD_*`` channel variables set when the record
began as a ``LIST/INFO`` chunk ahead of the audio."""

from __future__ import annotations

from collections.abc import Mapping

RATE = 8000
INFO_TAGS = {
    "RECORD_TITLE": b"INAM",
    "RECORD_COPYRIGHT": b"ICOP",
    "RECORD_SOFTWARE": b"ISFT",
    "RECORD_ARTIST": b"IART",
    "RECORD_COMMENT": b"ICMT",
    "RECORD_DATE": b"ICRD",
}
"""Channel variable -> INFO tag, as mod_sndfile maps them to libsndfile's strings."""


def _chunk(name: bytes, payload: bytes) -> bytes:
    pad = b"\0" if len(payload) % 2 else b""
    return name + len(payload).to_bytes(4, "little") + payload + pad


def wav_bytes(samples: int, variables: Mapping[str, str]) -> bytes:
    """A silent recording of `samples` samples, tagged from the channel's `variables`."""
    fmt = _chunk(
        b"fmt ",
        (1).to_bytes(2, "little") + (1).to_bytes(2, "little") + RATE.to_bytes(4, "little")
        + (RATE * 2).to_bytes(4, "little") + (2).to_bytes(2, "little")
        + (16).to_bytes(2, "little"),
    )
    tags = b"".join(
        _chunk(tag, variables[name].encode("utf-8") + b"\0")
        for name, tag in INFO_TAGS.items()
        if variables.get(name)
    )
    info = _chunk(b"LIST", b"INFO" + tags) if tags else b""
    body = b"WAVE" + fmt + info + _chunk(b"data", b"\0\0" * samples)
    return b"RIFF" + len(body).to_bytes(4, "little") + body
