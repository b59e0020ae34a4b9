"""Spoken prompts: the config's texts rendered with espeak-ng for the telephone.

Every local prompt of the config is written where the config expects it, as an 8 kHz mono
16-bit WAV (what FreeSWITCH plays on a G.711 line). `.manifest.json` in the prompt directory
keeps, per file, a hash of what it was made from (the voice and the text, or the bytes of the
technician's recording), so a prompt is rendered again only when that changed.

A technician's recording takes precedence: a file of the same name in the `custom/`
subdirectory is converted and used in place of the synthetic voice.

`render_sentence` renders a dynamic sentence (a queue position, a wait built with
`frontdesk.speech`) once into a cache directory, keyed by a hash of the voice and the text.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import gevent

from frontdesk.config.model import Config, Prompt

DEFAULT_VOICES = {"fr": "fr-fr", "en": "en-gb"}
"""espeak-ng voice per practice language, unless [prompts] voice says otherwise."""

MANIFEST = ".manifest.json"
CUSTOM = "custom"
RATE = 150
"""espeak-ng words per minute: a little slower than its default, clearer on a phone line."""

_TELEPHONY = ["-r", "8000", "-c", "1", "-b", "16", "-e", "signed-integer", "-t", "wav"]


class ToolMissing(RuntimeError):
    """espeak-ng or sox is not installed."""


@dataclass(frozen=True)
class Outcome:
    """What `render_prompts` did for one prompt."""

    prompt: Prompt
    action: str
    """"rendered" (synthetic voice), "recording" (the technician's, converted) or "unchanged"."""


def voice_of(config: Config) -> str:
    """The espeak-ng voice of the practice: [prompts] voice, or its language's default."""
    return config.prompt_voice or DEFAULT_VOICES[config.practice.language]


def render_prompts(config: Config, *, force: bool = False) -> list[Outcome]:
    """Bring every local prompt file of `config` up to date; return what was done to each.

    Raises `ToolMissing` when a prompt needs rendering and espeak-ng or sox is absent.
    """
    directory = config.prompt_directory
    if directory is None:
        raise ValueError("the config has no prompt directory")
    voice = voice_of(config)
    manifest_path = directory / MANIFEST
    manifest = _read_manifest(manifest_path)
    outcomes = []
    for _, prompt in sorted(config.prompts.items()):
        if prompt.path is None:
            continue
        custom = directory / CUSTOM / prompt.file
        recording = custom if custom.is_file() else None
        if recording is not None:
            source = "recording:" + hashlib.sha256(recording.read_bytes()).hexdigest()
        else:
            source = "tts:" + _text_hash(voice, prompt.text)
        if not force and manifest.get(prompt.file) == source and prompt.path.is_file():
            outcomes.append(Outcome(prompt, "unchanged"))
            continue
        if recording is not None:
            convert(recording, prompt.path)
        else:
            speak(prompt.text, voice, prompt.path)
        manifest[prompt.file] = source
        _write_manifest(manifest_path, manifest)
        outcomes.append(Outcome(prompt, "rendered" if recording is None else "recording"))
    return outcomes


def render_sentence(text: str, voice: str, cache: Path) -> Path:
    """The WAV file that says `text` in `voice`, rendered into `cache` on first use.

    Safe to call from the daemon's greenlets: the synthesis runs in gevent's thread pool, and
    the file appears atomically (a concurrent caller never plays half a file).
    """
    target = sentence_file(text, voice, cache)
    if not target.is_file():
        gevent.get_hub().threadpool.apply(speak, (text, voice, target))
    return target


def sentence_file(text: str, voice: str, cache: Path) -> Path:
    """Where `render_sentence` keeps `text` said in `voice` (named by a hash of both)."""
    return cache / f"{_text_hash(voice, text)[:24]}.wav"


def speak(text: str, voice: str, target: Path) -> None:
    """Synthesise `text` with espeak-ng and write it to `target` for the telephone."""
    _require("espeak-ng", "sox")
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "raw.wav"
        subprocess.run(
            ["espeak-ng", "-v", voice, "-s", str(RATE), "-w", str(raw), "--stdin"],
            input=text.encode("utf-8"),
            check=True,
            capture_output=True,
        )
        convert(raw, target)


def convert(source: Path, target: Path) -> None:
    """Convert any audio file sox reads into an 8 kHz mono 16-bit WAV at `target`."""
    _require("sox")
    with _atomic(target) as partial:
        subprocess.run(
            ["sox", str(source), *_TELEPHONY, str(partial)], check=True, capture_output=True
        )


def _require(*tools: str) -> None:
    missing = [tool for tool in tools if shutil.which(tool) is None]
    if missing:
        raise ToolMissing(f"{' and '.join(missing)} not installed: sudo apt install espeak-ng sox")


@contextmanager
def _atomic(target: Path) -> Iterator[Path]:
    """A temporary path beside `target` that replaces it once written."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    os.close(fd)
    partial = Path(name)
    try:
        yield partial
        partial.chmod(0o644)
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)


def _text_hash(voice: str, text: str) -> str:
    return hashlib.sha256(f"{voice}\0{RATE}\0{text}".encode()).hexdigest()


def _read_manifest(path: Path) -> dict[str, str]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _write_manifest(path: Path, manifest: dict[str, str]) -> None:
    with _atomic(path) as partial:
        partial.write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n", "utf-8")
