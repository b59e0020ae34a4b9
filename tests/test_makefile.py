"""The README's setup as a new user meets it: on a fresh checkout (no secrets, no messages
directory, no hold music yet), the Makefile itself makes what the example config needs before
checking it."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def fresh_checkout(tmp_path: Path) -> Path:
    """The Makefile, pyproject.toml and examples/ as git has them (nothing generated)."""
    root = tmp_path / "frontdesk"
    root.mkdir()
    for name in ("Makefile", "pyproject.toml"):
        shutil.copy2(REPO / name, root / name)
    shutil.copytree(
        REPO / "examples", root / "examples",
        ignore=shutil.ignore_patterns("secrets", "moh", ".manifest.json"),
    )
    installed = root / "installed"  # the venv the tests run in stands for `make`'s own
    installed.touch()
    return root


def test_make_check_config_on_a_fresh_checkout_makes_what_the_example_needs(tmp_path):
    root = fresh_checkout(tmp_path)
    bin_dir = Path(sys.executable).parent

    done = subprocess.run(
        ["make", "-C", str(root), "check-config", f"BIN={bin_dir}", f"STAMP={root / 'installed'}",
         f"PYTHON={sys.executable}"],
        capture_output=True, text=True,
    )

    assert done.returncode == 0, done.stdout + done.stderr
    assert (root / "var" / "messages").is_dir()
    assert (root / "examples" / "secrets" / "esl-password").stat().st_mode & 0o077 == 0
