"""What a caller waiting in the queue hears: their position and an honest wait, spoken with
frontdesk.speech and rendered once into the cache (frontdesk.queue.announce)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from frontdesk.config.model import Config
from frontdesk.rehearse import Rig, moment_for
from frontdesk.sim import CallerScript, SimCall

TO_THE_DESK = CallerScript(keys=("0",))  # the operator key


@pytest.fixture
def waiting_rig(practice: Config, tmp_path: Path):
    """Desk phones that never answer: callers stay in the queue."""
    with Rig(practice, tmp_path, answer_after=None) as running:
        yield running


def spoken(rig: Rig, call: SimCall) -> list[str]:
    texts = {str(path): text for path, text in rig.daemon.announcer.texts.items()}
    return [texts[uri] for uri in call.prompts_heard if uri in texts]


def place(rig: Rig) -> SimCall:
    return rig.place(TO_THE_DESK, at=moment_for("open", rig.config, rig.now))


def test_a_waiting_caller_hears_their_position_and_an_estimated_wait(waiting_rig):
    first = place(waiting_rig)
    assert waiting_rig.wait_for(lambda: spoken(waiting_rig, first), timeout=1000)
    second = place(waiting_rig)
    assert waiting_rig.wait_for(lambda: spoken(waiting_rig, second), timeout=1000)

    assert spoken(waiting_rig, first)[0].startswith(
        "Vous êtes le premier patient en attente. Votre attente est estimée à"
    )
    assert spoken(waiting_rig, second)[0].startswith("Vous êtes le deuxième patient en attente.")
    # the example offers a callback: every announcement says how, from the first one on
    assert spoken(waiting_rig, first)[0].endswith(
        "Pour être rappelé sans perdre votre place, appuyez sur la touche cinq."
    )
    played = Path(next(uri for uri in second.prompts_heard if "announcements" in uri))
    assert played.parent == waiting_rig.daemon.config.storage.database.parent / "announcements"
    assert played.is_file()


def test_with_nobody_logged_in_the_caller_hears_so_instead_of_an_estimate(waiting_rig):
    call = place(waiting_rig)
    assert waiting_rig.wait_for(lambda: spoken(waiting_rig, call), timeout=1000)
    for ext in ("1001", "1002", "1003"):
        waiting_rig.daemon.set_staff_login(ext, False, by="cli")

    assert waiting_rig.wait_for(lambda: len(spoken(waiting_rig, call)) >= 2, timeout=1000)

    nobody = spoken(waiting_rig, call)[-1]
    assert nobody.startswith("Personne n'est disponible à l'accueil pour le moment.")
    assert "Pour être rappelé sans perdre votre place, appuyez sur la touche cinq." in nobody
    assert "un rappel vous sera proposé dans" in nobody  # the example's on_max_wait
    assert "estimée" not in nobody


def test_without_espeak_the_static_announcement_is_played(practice, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    config = replace(practice, queue=replace(practice.queue, announce_prompt="thanks"))
    with Rig(config, tmp_path, answer_after=None) as rig:
        call = place(rig)
        thanks = config.prompts["thanks"].uri

        assert rig.wait_for(lambda: thanks in call.prompts_heard, timeout=1000)
        assert spoken(rig, call) == []
