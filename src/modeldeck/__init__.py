"""modeldeck: a notebook-native control deck for model platforms.

    import modeldeck as md
    deck = md.connect()          # with nothing configured: the embedded local platform
    deck.models()

Importing the package is cheap: the client (httpx) loads on first use, the platform only in its server.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._version import __version__

if TYPE_CHECKING:
    from .deck import AsyncDeck, Deck, connect
    from .panel import Panel
    from .profiles import login

__all__ = ["AsyncDeck", "Deck", "Panel", "__version__", "connect", "errors", "login"]

_LAZY = {"connect": "deck", "Deck": "deck", "AsyncDeck": "deck", "login": "profiles", "errors": None, "Panel": "panel"}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'modeldeck' has no attribute {name!r}")
    import importlib

    module = _LAZY[name]
    value = importlib.import_module(f".{module or name}", __name__)
    return getattr(value, name) if module else value


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    """JupyterLab's entry: the prebuilt sidebar extension, built from labextension/ into this package."""
    return [{"src": "labextension", "dest": "modeldeck"}]


def _jupyter_server_extension_points() -> list[dict[str, Any]]:
    """Jupyter Server's entry: the sidebar's extension app, in a module only the server imports."""
    from .jupyter.extension import ModelDeckSidebar

    return [{"module": "modeldeck.jupyter.extension", "app": ModelDeckSidebar}]


def load_ipython_extension(ipython: Any) -> None:
    """`%load_ext modeldeck`: the `%modeldeck` magics, imported only here so `import modeldeck` stays light."""
    from .magics import load

    load(ipython)


def unload_ipython_extension(ipython: Any) -> None:
    from .magics import unload

    unload(ipython)
