"""The wheel users install: it carries the built panel and the prebuilt lab extension, and enables the server
extension, so a fresh environment with no Node.js shows both extensions enabled; installed outside a clone, its
`modeldeck` command runs and so does the README's Python session (this is the wheel-install test)."""

from __future__ import annotations

import subprocess
import sys
import sysconfig
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from modeldeck import __version__

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(out), str(ROOT)],
                   check=True)  # fmt: skip
    return next(out.glob("modeldeck-*.whl"))


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


@dataclass
class Fresh:
    """A virtualenv with only the wheel installed in it, outside any clone, with no Node.js on its PATH."""

    python: Path
    bin: Path
    site: Path
    env: dict[str, str]


@pytest.fixture(scope="module")
def fresh(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Fresh:
    base = tmp_path_factory.mktemp("fresh")
    venv = base / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--no-deps", str(wheel)], check=True)
    # The wheel's dependencies come from this environment (installing them again only costs time); modeldeck
    # itself, its console script, its lab extension and its server config come from the wheel alone.
    site = Path(subprocess.check_output([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                                        text=True).strip())  # fmt: skip
    (site / "borrowed-dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    env = {
        "PATH": str(venv / "bin"),  # no Node.js, no npm
        "HOME": str(base / "home"),
        "JUPYTER_CONFIG_DIR": str(base / "jupyter-config"),
        "JUPYTER_DATA_DIR": str(base / "jupyter-data"),
        "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring",
    }
    return Fresh(python, venv / "bin", site, env)


def test_a_fresh_environment_without_node_shows_both_extensions_enabled(fresh: Fresh):
    python, env = fresh.python, fresh.env
    where = subprocess.run([str(python), "-c", "import modeldeck; print(modeldeck.__file__)"], env=env,
                           capture_output=True, text=True, check=True).stdout  # fmt: skip
    assert where.startswith(str(fresh.site))

    def jupyter(entry: str, *args: str) -> str:
        """A `jupyter-*` command by its entry point: the fresh environment has no scripts of its own for it."""
        module, function = entry.split(":")
        code = f"import sys; from {module} import {function} as main; sys.argv = ['jupyter', *sys.argv[1:]]; main()"
        done = subprocess.run([str(python), "-c", code, *args], env=env, capture_output=True, text=True)
        return (done.stdout + done.stderr).replace("\x1b[32m", "").replace("\x1b[0m", "")

    labextensions = jupyter("jupyterlab.labextensions:main", "list")
    line = next(x for x in labextensions.splitlines() if x.strip().startswith("modeldeck"))
    assert f"v{__version__}" in line and "enabled" in line and "OK" in line, labextensions
    servers = jupyter("jupyter_server.extension.serverextension:main", "list")
    assert "modeldeck enabled" in servers and f"modeldeck {__version__} OK" in servers, servers


def test_the_installed_wheel_runs_the_readme_outside_a_clone(fresh: Fresh, tmp_path: Path):
    """What `pip install "modeldeck[...]"` gives a newcomer: the `modeldeck` command, and the README's session
    run by the installed package (not a checkout's sources) on a fresh home."""
    from test_readme import run_the_readme

    from modeldeck import embedded

    help = subprocess.run([str(fresh.bin / "modeldeck"), "--help"], env=fresh.env, capture_output=True, text=True)
    assert help.returncode == 0 and "register" in help.stdout and "predict" in help.stdout
    version = subprocess.run([str(fresh.bin / "modeldeck"), "--version"], env=fresh.env, capture_output=True,
                             text=True, check=True).stdout  # fmt: skip
    assert version.strip() == f"modeldeck {__version__}"
    home = tmp_path / "deck-home"
    env = {**fresh.env, "MODELDECK_HOME": str(home), "MODELDECK_CONFIG": str(tmp_path / "profiles.toml")}
    try:
        done = run_the_readme(str(fresh.python), tmp_path, env)
    finally:
        embedded.stop(home)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip(), "the chat printed nothing"
