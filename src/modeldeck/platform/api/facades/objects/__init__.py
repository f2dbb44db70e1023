"""The object-store facades: OSS (`oss2`) and OBS (`esdk-obs-python`) over one core (docs/clouds/objects.md).

Not mounted at a prefix like the other facades: both SDKs drop any path from their endpoint, so their
path-style requests reach the server's root and `ObjectStores` takes them by Authorization scheme.
"""

from __future__ import annotations

from starlette.types import ASGIApp

from ....context import Services
from . import obs, oss
from .core import Dialect, ObjectStores

DIALECTS: tuple[Dialect, ...] = (oss.DIALECT, obs.DIALECT)


def mount(app: ASGIApp, platform: Services) -> ASGIApp:
    """`app` with the object-store requests taken off in front of it."""
    return ObjectStores(app, platform, DIALECTS)


__all__ = ["DIALECTS", "mount"]
