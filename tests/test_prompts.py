"""Spoken prompts: rendered from their texts for the telephone, again only when needed, and a
technician's recording wins over the synthetic voice."""

from __future__ import annotations

import shutil
import subprocess
import wave
from pathlib import Path

import pytest

from frontdesk.cli import main
from frontdesk.config import load_config
from frontdesk.prompts import CUSTOM, MANIFEST, ToolMissing, render_prompts, render_sentence

needs_tts = pytest.mark.skipif(
    shutil.which("espeak-ng") is None or shutil.which("sox") is None,
    reason="espeak-ng and sox are not installed (apt-get install espeak-ng sox)",
)


def telephone_format(path: Path) -> tuple[int, int, int]:
    with wave.open(str(path)) as audio:
        return audio.getframerate(), audio.getnchannels(), audio.getsampwidth()


def actions(config_path: Path, **options: bool) -> dict[str, str]:
    outcomes = render_prompts(load_config(config_path, check_files=False), **options)
    return {outcome.prompt.name: outcome.action for outcome in outcomes}


def edit(config_path: Path, old: str, new: str) -> None:
    text = config_path.read_text(encoding="utf-8")
    assert old in text
    config_path.write_text(text.replace(old, new, 1), encoding="utf-8")


@needs_tts
def test_every_local_prompt_is_rendered_as_a_telephone_wav(practice_dir: Path):
    for wav in (practice_dir / "prompts").glob("*.wav"):
        wav.unlink()
    (practice_dir / "prompts" / MANIFEST).unlink()

    done = actions(practice_dir / "frontdesk.toml")

    assert set(done.values()) == {"rendered"}
    assert "greeting" in done and "fallback" in done
    for name in done:
        assert telephone_format(practice_dir / "prompts" / f"{name}.wav") == (8000, 1, 2)
    load_config(practice_dir / "frontdesk.toml")  # the daemon's checks find every file


@needs_tts
def test_only_a_prompt_whose_text_changed_is_rendered_again(practice_dir: Path):
    config = practice_dir / "frontdesk.toml"
    assert set(actions(config).values()) == {"unchanged"}  # the example ships its manifest
    edit(config, "Merci de votre appel. Au revoir.", "Merci, et bonne journée.")

    done = actions(config)

    assert done["goodbye"] == "rendered"
    assert [name for name, action in done.items() if action != "unchanged"] == ["goodbye"]
    assert set(actions(config).values()) == {"unchanged"}


@needs_tts
def test_a_new_voice_renders_every_prompt_again(practice_dir: Path):
    config = practice_dir / "frontdesk.toml"
    edit(config, '# voice = "fr-fr"', 'voice = "fr-fr+f3"')

    assert set(actions(config).values()) == {"rendered"}


@needs_tts
def test_a_technicians_recording_takes_precedence_until_it_is_removed(practice_dir: Path):
    config = practice_dir / "frontdesk.toml"
    custom = practice_dir / "prompts" / CUSTOM
    custom.mkdir()
    recording = custom / "greeting.wav"
    subprocess.run(  # a CD-quality stereo recording, as a recorder would make it
        ["sox", "-n", "-r", "44100", "-c", "2", str(recording), "synth", "0.5", "sine", "440"],
        check=True,
    )
    greeting = practice_dir / "prompts" / "greeting.wav"

    assert actions(config)["greeting"] == "recording"
    assert telephone_format(greeting) == (8000, 1, 2)
    with wave.open(str(greeting)) as audio:
        assert audio.getnframes() == 4000  # the recording's half second, not the voice's text
    assert actions(config)["greeting"] == "unchanged"
    edit(config, "Cabinet médical des Tilleuls, bonjour.", "Bonjour.")
    assert actions(config)["greeting"] == "unchanged"  # the recording still wins

    recording.unlink()
    assert actions(config)["greeting"] == "rendered"


def test_a_missing_tool_is_named_with_the_package_to_install(practice_dir, monkeypatch, capsys):
    (practice_dir / "prompts" / MANIFEST).unlink()
    monkeypatch.setenv("PATH", str(practice_dir / "empty"))
    with pytest.raises(ToolMissing, match="apt install espeak-ng sox"):
        render_prompts(load_config(practice_dir / "frontdesk.toml", check_files=False))

    assert main(["prompts", "--config", str(practice_dir / "frontdesk.toml")]) == 1
    assert "espeak-ng and sox not installed" in capsys.readouterr().err


@needs_tts
def test_the_prompts_command_reports_each_file_and_a_summary(practice_dir, capsys):
    assert main(["prompts", "--config", str(practice_dir / "frontdesk.toml"), "--force"]) == 0
    out = capsys.readouterr().out
    assert f"{practice_dir / 'prompts' / 'greeting.wav'}: rendered" in out
    config = load_config(practice_dir / "frontdesk.toml")
    local = sum(prompt.path is not None for prompt in config.prompts.values())
    assert out.rstrip().endswith(f"{local} written, 0 unchanged (voice fr-fr)")


@needs_tts
def test_a_dynamic_sentence_is_rendered_once_and_cached_by_its_text(tmp_path: Path):
    first = render_sentence("Vous êtes le deuxième.", "fr-fr", tmp_path)
    made = first.stat().st_mtime_ns

    again = render_sentence("Vous êtes le deuxième.", "fr-fr", tmp_path)
    other = render_sentence("Vous êtes le troisième.", "fr-fr", tmp_path)

    assert again == first and again.stat().st_mtime_ns == made
    assert other != first
    assert telephone_format(other) == (8000, 1, 2)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([first.name, other.name])
