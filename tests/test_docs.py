"""The repository's documents stand on their own: nothing points to a file outside it."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
OUTSIDE = re.compile(
    "|".join(
        (
            r"\.\./shared\b",
            r"\bshared/esl-captures\b",
            r"\b(?:DESIGN|STYLE)\.md\b",
            r"freeswitch-observations",
            r"(?<![\w.])/work/",
        )
    )
)


def test_nothing_in_the_repository_points_to_a_file_outside_it() -> None:
    files = subprocess.run(
        ["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.split()
    found = []
    for name in files:
        path = REPO / name
        if name.endswith((".wav", ".jsonl")) or path == Path(__file__) or not path.is_file():
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        found += [f"{name}: {m.group()}" for m in OUTSIDE.finditer(text)]
    assert found == []
