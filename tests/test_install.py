"""`make install` / `make uninstall` into a staging root (DESTDIR), with the real install script:
files and modes, an edited config kept on re-install, data kept on uninstall, and the
installed `frontdesk check-config` accepting the installed config."""

from __future__ import annotations

import os
import ssl
import stat
import subprocess
import tomllib
import wave
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PREFIX = "/opt/frontdesk"
CLEAN_ENV = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
"""The box's environment: nothing points at the checkout or at the test's venv."""

pytestmark = pytest.mark.skipif(
    subprocess.run(["python3", "-c", "import ensurepip, venv"], capture_output=True).returncode,
    reason="python3 cannot create virtual environments here (apt-get install python3-venv)",
)


def make(target: str, root: Path, *variables: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        ["make", "-C", str(REPO), target, f"DESTDIR={root}", f"PREFIX={PREFIX}", *variables],
        capture_output=True,
        text=True,
        env=CLEAN_ENV,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done


def mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    staged = tmp_path_factory.mktemp("root")
    make("install", staged)
    return staged


def test_install_puts_the_software_config_units_and_freeswitch_conf_in_place(root: Path):
    assert (root / "opt/frontdesk/venv/bin/frontdesk").is_file()
    assert (root / "opt/frontdesk/README.md").is_file()
    link = root / "usr/local/bin/frontdesk"
    assert os.readlink(link) == f"{PREFIX}/venv/bin/frontdesk"
    unit = (root / "etc/systemd/system/frontdesk.service").read_text()
    assert (
        f"ExecStart={PREFIX}/venv/bin/frontdesk run --config /etc/frontdesk/frontdesk.toml" in unit
    )
    assert (root / "etc/frontdesk/freeswitch/freeswitch.xml").is_file()
    assert (root / "etc/frontdesk/freeswitch/dialplan/default.xml").is_file()
    config = (root / "etc/frontdesk/frontdesk.toml").read_text(encoding="utf-8")
    assert 'database = "/var/lib/frontdesk/frontdesk.db"' in config
    assert (root / "var/lib/frontdesk/messages").is_dir()


def test_the_prompts_are_installed_as_rendered_with_their_manifest(root: Path):
    prompts = root / "etc/frontdesk/prompts"
    shipped = sorted(p.name for p in (REPO / "examples/prompts").glob("*.wav"))
    assert shipped and all((prompts / name).is_file() for name in shipped)
    assert (prompts / ".manifest.json").is_file()
    assert (prompts / "custom").is_dir()


def test_hold_music_is_written_where_local_stream_moh_plays_it(root: Path):
    conf = (root / "etc/frontdesk/freeswitch/autoload_configs/local_stream.conf.xml").read_text()
    assert 'path="$${frontdesk_prompts_dir}/moh"' in conf
    music = root / "etc/frontdesk/prompts/moh/frontdesk-hold.wav"
    assert mode(music) == 0o644 and mode(music.parent) == 0o755
    with wave.open(str(music)) as wav:  # what the stream's rate and channels say
        assert (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) == (8000, 1, 2)
        assert wav.getnframes() / wav.getframerate() >= 60


def test_secrets_are_generated_readable_by_their_owner_only(root: Path):
    password = root / "etc/frontdesk/secrets/esl-password"
    assert mode(password) == 0o600
    assert len(password.read_text().strip()) >= 24
    assert mode(root / "etc/frontdesk/secrets") == 0o750
    assert mode(root / "etc/frontdesk/frontdesk.toml") == 0o640


def test_freeswitch_writes_messages_and_reads_its_passwords_through_its_group(root: Path):
    assert mode(root / "var/lib/frontdesk") == 0o751
    for shared in ("messages", "recordings"):
        assert mode(root / "var/lib/frontdesk" / shared) == 0o2770
    conf = root / "etc/frontdesk/freeswitch"
    assert mode(conf) == 0o2750
    assert mode(conf / "frontdesk-phones.xml") == 0o640
    assert mode(conf / "frontdesk-acl.xml") == 0o644


def test_every_desk_phone_gets_its_own_random_password(root: Path):
    phones = root / "etc/frontdesk/secrets/phone-passwords"
    assert mode(phones) == 0o600
    lines = dict(line.split("=", 1) for line in phones.read_text().split())
    assert {"1001", "1002", "1003"} <= set(lines)
    assert len(set(lines.values())) == len(lines)
    assert all(len(password) >= 20 for password in lines.values())


def test_the_installed_frontdesk_accepts_the_installed_config(root: Path):
    config = root / "etc/frontdesk/frontdesk.toml"
    staged = config.read_text(encoding="utf-8").replace(  # on the box: /var/lib/frontdesk/...
        '"/var/lib/frontdesk/messages"', f'"{root}/var/lib/frontdesk/messages"'
    )
    config.write_text(staged, encoding="utf-8")
    done = subprocess.run(
        [str(root / "opt/frontdesk/venv/bin/frontdesk"), "check-config",
         str(root / "etc/frontdesk/frontdesk.toml")],
        capture_output=True,
        text=True,
        env=CLEAN_ENV,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    code = "import frontdesk; print(frontdesk.__file__)"
    imported = subprocess.run(
        [str(root / "opt/frontdesk/venv/bin/python"), "-c", code],
        capture_output=True,
        text=True,
        cwd="/",
        env=CLEAN_ENV,
    )  # fmt: skip
    assert imported.stdout.startswith(str(root / "opt/frontdesk/venv/")), imported.stdout


def test_the_installed_config_leaves_the_web_console_off(root: Path):
    """Nothing new listens after an install: the console waits for [console] enabled."""
    config = tomllib.loads((root / "etc/frontdesk/frontdesk.toml").read_text(encoding="utf-8"))
    assert config["console"]["enabled"] is False
    assert "listen" not in config["console"]  # loopback, the default, once enabled


def test_the_console_certificate_is_made_once_with_its_key_for_the_daemon_only(tmp_path: Path):
    make("console-certificate", tmp_path, "ADDRESS=192.168.1.10", "NAMES=accueil.local")
    secrets = tmp_path / "etc/frontdesk/secrets"
    cert, key = secrets / "console.crt", secrets / "console.key"
    assert (mode(key), mode(cert), mode(secrets)) == (0o600, 0o644, 0o750)
    shown = subprocess.run(["openssl", "x509", "-in", str(cert), "-noout", "-ext",
                            "subjectAltName,basicConstraints,extendedKeyUsage"],
                           capture_output=True, text=True, check=True).stdout
    assert "IP Address:192.168.1.10, DNS:accueil.local" in shown
    assert "CA:FALSE" in shown and "TLS Web Server Authentication" in shown
    ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER).load_cert_chain(cert, key)
    before = cert.read_bytes(), key.read_bytes()

    again = make("console-certificate", tmp_path, "ADDRESS=192.168.1.11")

    assert "exists: kept" in again.stdout
    assert (cert.read_bytes(), key.read_bytes()) == before


# Runs last: it changes the staged tree the tests above look at.
def test_reinstall_keeps_the_edited_config_and_uninstall_keeps_the_data(root: Path):
    config = root / "etc/frontdesk/frontdesk.toml"
    password = root / "etc/frontdesk/secrets/esl-password"
    edited = config.read_text(encoding="utf-8").replace("des Tilleuls", "des Platanes")
    config.write_text(edited, encoding="utf-8")
    secret = password.read_text()
    (root / "var/lib/frontdesk/frontdesk.db").write_bytes(b"calls")

    done = make("install", root)

    assert "frontdesk.toml exists: kept" in done.stdout
    assert config.read_text(encoding="utf-8") == edited
    assert password.read_text() == secret and mode(password) == 0o600

    make("uninstall", root)

    assert not (root / "opt/frontdesk").exists()
    assert not (root / "usr/local/bin/frontdesk").is_symlink()
    assert not (root / "etc/systemd/system/frontdesk.service").exists()
    assert config.read_text(encoding="utf-8") == edited
    assert password.read_text() == secret
    assert (root / "var/lib/frontdesk/frontdesk.db").read_bytes() == b"calls"
