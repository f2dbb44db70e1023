"""The README as a newcomer reads it: its Python blocks run as written, top to bottom, in a fresh interpreter
on a fresh home (the installed wheel's interpreter: tests/installed.py runs it once for the session)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from installed import ReadmeRun

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


def test_the_readme_runs_as_written_on_a_fresh_home(readme_run: ReadmeRun):
    """One run, shared with test_packaging.py: the installed wheel's (the same sources as this checkout)."""
    blocks = python_blocks(README.read_text())
    assert len(blocks) >= 2 and "md.connect()" in blocks[0] and "deck.deploy(" in blocks[1]
    done = readme_run.done
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip(), "the chat printed nothing"
    assert (readme_run.cwd / "checkpoints" / "iris.onnx").is_file()
