"""Session fixtures for the wheel users install: it is built once, installed once into a fresh virtualenv
outside any clone, and the README's session runs once from it (test_packaging.py asserts on that one run: it
is the README as written, run by the installed package on a fresh home)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
# What the wheel's build hook (pyproject's jupyter-builder) builds with npm, and what it builds from.
FRONT_END_SOURCES = ["js/src", "js/package.json", "labextension/src", "labextension/style", "labextension/package.json"]
FRONT_END_TARGETS = ["src/modeldeck/static/panel.js", "src/modeldeck/labextension/package.json",
                     "src/modeldeck/labextension/static/style.js", "src/modeldeck/labextension/install.json"]  # fmt: skip


def front_ends_are_built() -> bool:
    """Whether the checkout's bundles are newer than every front-end source (`make install` builds them)."""
    targets = [ROOT / t for t in FRONT_END_TARGETS]
    if not all(t.is_file() for t in targets):
        return False
    sources = [f for s in FRONT_END_SOURCES for f in ([ROOT / s] if (ROOT / s).is_file() else (ROOT / s).rglob("*"))]
    newest = max((f.stat().st_mtime for f in sources if f.is_file()), default=0.0)
    return min(t.stat().st_mtime for t in targets) >= newest


@pytest.fixture(scope="session")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel of this checkout, built by its own backend (hatchling, from this environment rather than a
    fresh build environment: that one alone took a minute). The bundles `make install` built are packaged
    as they are; npm builds them only when a front-end source is newer."""
    out = tmp_path_factory.mktemp("dist")
    env = {**os.environ, "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])}
    if front_ends_are_built():
        env["HATCH_JUPYTER_BUILDER_SKIP_NPM"] = "1"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation", "-w",
                    str(out), str(ROOT)], check=True, env=env)  # fmt: skip
    return next(out.glob("modeldeck-*.whl"))


@dataclass
class Fresh:
    """A virtualenv with only the wheel installed in it, outside any clone, with no Node.js on its PATH."""

    python: Path
    bin: Path
    site: Path
    env: dict[str, str]


@pytest.fixture(scope="session")
def fresh(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Fresh:
    base = tmp_path_factory.mktemp("fresh")
    venv = base / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    # This environment's pip installs into it (`--python`): seeding the venv with a pip of its own only costs time.
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet", "--no-deps",
                    str(wheel)], check=True)  # fmt: skip
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


def python_blocks(text: str) -> list[str]:
    """The README's ```python blocks that plain Python runs (the magics' blocks need IPython and the panel's
    a notebook: tests/test_magics.py and tests/browser run those)."""
    blocks = re.findall(r"^```python\n(.*?)^```$", text, flags=re.DOTALL | re.MULTILINE)
    return [b for b in blocks if not re.search(r"^\s*%|\.panel\(\)", b, flags=re.MULTILINE)]


def run_the_readme(python: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """The README's Python blocks, each continuing the one before as a reader's session does, run by `python`."""
    code = "\n".join(python_blocks(README.read_text()))
    return subprocess.run([python, "-c", code], cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


@dataclass
class ReadmeRun:
    """The README's Python session, run once by the installed wheel in `cwd` on a home that did not exist."""

    done: subprocess.CompletedProcess[str]
    cwd: Path


@pytest.fixture(scope="session")
def readme_run(fresh: Fresh, tmp_path_factory: pytest.TempPathFactory) -> ReadmeRun:
    from modeldeck import embedded

    cwd = tmp_path_factory.mktemp("readme")
    home = cwd / "deck-home"
    assert not home.exists()
    env = {**fresh.env, "MODELDECK_HOME": str(home), "MODELDECK_CONFIG": str(cwd / "profiles.toml")}
    try:
        return ReadmeRun(run_the_readme(str(fresh.python), cwd, env), cwd)
    finally:
        embedded.stop(home)  # the embedded platform the session started, and its replicas
