"""Shared fixtures: a copy of the example practice, the daemon wired to the simulator, and for
the simulator's own tests the simulator against a fake daemon (tests/_sim_raw.py)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog

from _sim_raw import SCALE, FakeDaemon
from frontdesk.config import load_config
from frontdesk.config.model import Config
from frontdesk.holdmusic import FILE_NAME, write_hold_music
from frontdesk.rehearse import Rig
from frontdesk.sim import Simulator

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "examples" / "frontdesk.toml"


@pytest.fixture(autouse=True)
def log_configuration() -> Iterator[None]:
    """Each test gets structlog as it found it: a command run in-process (`main([...])`)
    configures logging for its level, which would hide the info events later tests capture."""
    saved = structlog.get_config()
    yield
    structlog.configure(**saved)


@pytest.fixture(scope="session")
def hold_music(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The synthesised hold music, written once for the session."""
    directory = tmp_path_factory.mktemp("moh")
    write_hold_music(directory)
    return directory / FILE_NAME


def copy_example_practice(parent: Path, hold_music: Path) -> Path:
    """A copy of examples/ in parent/practice (config, prompts with the hold music as the
    install writes it, a generated ESL password) and parent/var/messages; returns the copy."""
    directory = parent / "practice"
    directory.mkdir()
    shutil.copy(EXAMPLE, directory / "frontdesk.toml")
    shutil.copytree(EXAMPLE.parent / "prompts", directory / "prompts", dirs_exist_ok=True)
    (directory / "prompts" / "moh").mkdir(exist_ok=True)
    shutil.copy(hold_music, directory / "prompts" / "moh" / FILE_NAME)
    (directory / "secrets").mkdir()
    (directory / "secrets" / "esl-password").write_text("test-only-password\n")
    (directory / "secrets" / "esl-password").chmod(0o600)  # a secret: 0600 or refused
    (parent / "var" / "messages").mkdir(parents=True)  # as the install creates it
    return directory


@pytest.fixture
def practice_dir(tmp_path: Path, hold_music: Path) -> Path:
    """A copy of examples/ that a test may edit (`copy_example_practice`)."""
    return copy_example_practice(tmp_path, hold_music)


@pytest.fixture
def practice(practice_dir: Path) -> Config:
    return load_config(practice_dir / "frontdesk.toml")


@pytest.fixture
def rig(practice: Config, tmp_path: Path) -> Iterator[Rig]:
    with Rig(practice, tmp_path) as running:
        yield running


@pytest.fixture
def daemon() -> Iterator[FakeDaemon]:
    """A fake daemon the simulator hands its calls to (overridden where a test file means the
    real one)."""
    fake = FakeDaemon()
    yield fake
    fake.stop()


@pytest.fixture
def sim(daemon: FakeDaemon) -> Iterator[Simulator]:
    simulator = Simulator(
        password="pw", daemon_address=daemon.address, time_scale=SCALE, heartbeat_interval=0
    )
    simulator.start()
    yield simulator
    simulator.stop()
