"""Whether the sidebar's three parts agree: the browser's lab extension, the server extension, this package.

Shared by the server's version handshake and `modeldeck doctor`, so both say the same fix. Light to import:
only `jupyter_core` and, for the enabled check, Jupyter Server's config reader, both loaded when asked.
"""

from __future__ import annotations

import json
from importlib import metadata
from pathlib import Path
from typing import Any

from .._version import __version__

NAME = "modeldeck"


def handshake(frontend: str | None) -> dict[str, Any]:
    """The answer to `GET /modeldeck/api/version?frontend=<v>`."""
    ok = frontend == __version__
    return {"server": __version__, "frontend": frontend, "ok": ok, "fix": None if ok else mismatch_fix(frontend)}


def mismatch_fix(other: str | None) -> str:
    """What to run when the lab extension's version `other` is not this package's."""
    try:
        installed = metadata.version(NAME)
    except metadata.PackageNotFoundError:
        installed = __version__
    if installed != __version__ and installed == other:  # upgraded while the server ran the old code
        return (f"modeldeck {installed} was installed after this Jupyter server started with {__version__}: "
                "restart Jupyter, then reload the page.")  # fmt: skip
    return (f"pip install --force-reinstall modeldeck=={__version__} (in the environment that runs Jupyter), "
            "then reload the page.")  # fmt: skip


def labextensions() -> list[tuple[Path, str | None]]:
    """Every installed copy of the lab extension as (folder, version), in JupyterLab's order: the first wins."""
    from jupyter_core.paths import jupyter_path

    found = []
    for root in jupyter_path("labextensions"):
        package = Path(root) / NAME / "package.json"
        if package.is_file():
            try:
                version = json.loads(package.read_text()).get("version")
            except (OSError, ValueError):
                version = None
            found.append((package.parent, version))
    return found


def server_extension_enabled() -> bool:
    """Whether Jupyter Server will load us, read from its config paths as `jupyter server extension list` does."""
    from jupyter_core.paths import jupyter_config_path
    from jupyter_server.extension.config import ExtensionConfigManager

    return bool(ExtensionConfigManager(read_config_path=jupyter_config_path()).enabled(NAME))
