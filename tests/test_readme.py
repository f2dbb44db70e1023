"""The README as a newcomer reads it: its Python blocks run as written, top to bottom, in a fresh interpreter
on a fresh home."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"

pytestmark = pytest.mark.slow


def python_blocks(text: str) -> list[str]:
    """The README's ```python blocks that plain Python runs (the magics' blocks need IPython and the panel's
    a notebook: tests/test_magics.py and tests/browser run those)."""
    blocks = re.findall(r"^```python\n(.*?)^```$", text, flags=re.DOTALL | re.MULTILINE)
    return [b for b in blocks if not re.search(r"^\s*%|\.panel\(\)", b, flags=re.MULTILINE)]


def run_the_readme(python: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """The README's Python blocks, each continuing the one before as a reader's session does, run by `python`."""
    code = "\n".join(python_blocks(README.read_text()))
    return subprocess.run([python, "-c", code], cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


def test_the_readme_runs_as_written_on_a_fresh_home(tmp_path: Path, isolated_user: Path):
    blocks = python_blocks(README.read_text())
    assert len(blocks) >= 2 and "md.connect()" in blocks[0] and "deck.deploy(" in blocks[1]
    assert not (isolated_user / "home").exists()
    done = run_the_readme(sys.executable, tmp_path, dict(os.environ))
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip(), "the chat printed nothing"
    assert (tmp_path / "checkpoints" / "iris.onnx").is_file()
