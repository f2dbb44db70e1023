"""modeldeck: a notebook-native control deck for model platforms."""

from ._version import __version__

__all__ = ["__version__"]
