"""What the services (chat, inference, tasks, authentication) need of the platform, as a protocol.

`core.Platform` wires the services together, so they must not import it back: they name this protocol
instead, and the platform's import graph stays a tree (tests/test_platform_layering.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from .artifacts import Uploads
    from .blobs import BlobStore
    from .db import Store
    from .objects import Objects
    from .pagination import Cursors
    from .runtimes import RuntimeCache
    from .sealed import Sealer
    from .settings import Settings


class Services(Protocol):
    settings: Settings
    store: Store
    blobs: BlobStore
    uploads: Uploads
    objects: Objects
    cursors: Cursors
    metrics: Any  # metrics.Metrics, whose render() itself takes a Services
    sealer: Sealer
    tasks: Any  # tasks.TaskRunner, which itself takes a Services

    @property
    def runtimes(self) -> RuntimeCache: ...
