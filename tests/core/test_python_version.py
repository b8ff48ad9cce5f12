"""A newcomer on an older Python is told in one line what to install (issue 19, item 11)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_an_older_python_stops_with_one_line_saying_which_python():
    """Starting the CLI on Python 3.10 prints one line naming 3.11 and exits, no traceback."""
    result = subprocess.run(
        [sys.executable, "-c", "import sys; sys.version_info = (3, 10, 12); import core.cli"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert lines == [
        "TrustPool needs Python 3.11 or newer; this is Python 3.10.12. See README, Quick start."
    ]


def test_the_readme_says_which_python_the_quick_start_needs():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    quick_start = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    assert "Python 3.11 or newer" in quick_start
