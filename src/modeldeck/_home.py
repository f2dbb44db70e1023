"""Where the embedded platform keeps its state; shared by the client and the platform, imports nothing heavy."""

from __future__ import annotations

import os
from pathlib import Path


def default_home() -> Path:
    """`MODELDECK_HOME`, else the user's data directory: shared by every kernel, server and CLI."""
    env = os.environ.get("MODELDECK_HOME")
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_data_dir("modeldeck", appauthor=False))
