"""The wheel users install: it carries the built panel and the prebuilt lab extension, and enables the server
extension, so a fresh environment with no Node.js shows both extensions enabled; installed outside a clone, its
`modeldeck` command runs and so does the README's Python session, as a newcomer reads it: its Python blocks run
as written, top to bottom, in a fresh interpreter on a fresh home (this is the wheel-install test). The wheel,
its virtualenv and the README's run are session fixtures of tests/installed.py; the tests that use them live
in this one module, so a parallel run (pytest-xdist, one module per worker) builds them once."""

from __future__ import annotations

import subprocess
import zipfile
from pathlib import Path

import pytest
from installed import README, Fresh, ReadmeRun, python_blocks

from modeldeck import __version__

pytestmark = pytest.mark.slow


def test_the_wheel_carries_the_built_front_ends(wheel: Path):
    names = set(zipfile.ZipFile(wheel).namelist())
    data = f"modeldeck-{__version__}.data/data"
    assert "modeldeck/static/panel.js" in names
    assert {
        f"{data}/share/jupyter/labextensions/modeldeck/package.json",
        f"{data}/share/jupyter/labextensions/modeldeck/install.json",
        f"{data}/share/jupyter/labextensions/modeldeck/static/style.js",
        f"{data}/etc/jupyter/jupyter_server_config.d/modeldeck.json",
    } <= names


def test_a_fresh_environment_without_node_shows_both_extensions_enabled(fresh: Fresh):
    python, env = fresh.python, fresh.env
    where = subprocess.run([str(python), "-c", "import modeldeck; print(modeldeck.__file__)"], env=env,
                           capture_output=True, text=True, check=True).stdout  # fmt: skip
    assert where.startswith(str(fresh.site))

    def jupyter(entry: str, *args: str) -> subprocess.Popen[str]:
        """A `jupyter-*` command by its entry point: the fresh environment has no scripts of its own for it."""
        module, function = entry.split(":")
        code = f"import sys; from {module} import {function} as main; sys.argv = ['jupyter', *sys.argv[1:]]; main()"
        return subprocess.Popen([str(python), "-c", code, *args], env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True)  # fmt: skip

    def output(command: subprocess.Popen[str]) -> str:
        return command.communicate(timeout=300)[0].replace("\x1b[32m", "").replace("\x1b[0m", "")

    # Both at once: each spends seconds importing Jupyter, and there are two cores.
    with jupyter("jupyterlab.labextensions:main", "list") as lab, \
            jupyter("jupyter_server.extension.serverextension:main", "list") as server:  # fmt: skip
        labextensions, servers = output(lab), output(server)
    line = next(x for x in labextensions.splitlines() if x.strip().startswith("modeldeck"))
    assert f"v{__version__}" in line and "enabled" in line and "OK" in line, labextensions
    assert "modeldeck enabled" in servers and f"modeldeck {__version__} OK" in servers, servers


def test_the_installed_wheel_gives_the_modeldeck_command(fresh: Fresh):
    """What `pip install "modeldeck[...]"` gives a newcomer on PATH."""
    help = subprocess.run([str(fresh.bin / "modeldeck"), "--help"], env=fresh.env, capture_output=True, text=True)
    assert help.returncode == 0 and "register" in help.stdout and "predict" in help.stdout
    version = subprocess.run([str(fresh.bin / "modeldeck"), "--version"], env=fresh.env, capture_output=True,
                             text=True, check=True).stdout  # fmt: skip
    assert version.strip() == f"modeldeck {__version__}"


def test_the_installed_wheel_runs_the_readme_as_written_outside_a_clone(readme_run: ReadmeRun):
    """The README's session, run by the installed package (not a checkout's sources) on a fresh home."""
    blocks = python_blocks(README.read_text())
    assert len(blocks) >= 2 and "md.connect()" in blocks[0] and "deck.deploy(" in blocks[1]
    done = readme_run.done
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip(), "the chat printed nothing"
    assert (readme_run.cwd / "checkpoints" / "iris.onnx").is_file()
