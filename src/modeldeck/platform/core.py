"""The platform: one object wiring the store, the blob store, uploads, cursors, change events and the runtime cache."""

from __future__ import annotations

import os
import secrets
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import select

from . import accounts
from .artifacts import Uploads
from .blobs import BlobStore
from .db import Store
from .events import EventBus
from .pagination import Cursors
from .schema import Meta
from .settings import Settings
from . import chat
from .tasks import TaskRunner

if TYPE_CHECKING:
    from .runtimes import RuntimeCache


class Platform:
    """The embedded or team platform over one home (or one database + object store)."""

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or Settings()
        home = self.settings.home
        home.mkdir(parents=True, exist_ok=True)
        os.chmod(home, 0o700)
        self.store = Store(self.settings.database_url)
        self.blobs = BlobStore(self.settings.blob_root)
        self.uploads = Uploads(self.store, self.blobs, home / "uploads", self.settings.max_blob_size)
        self.initial_key = self._setup()
        self.cursors = Cursors(self._secret())
        self.events = EventBus(self.store)
        self.tasks = TaskRunner(self).start()
        self.tasks.register("chat", chat.run_task, check=chat.check_task_input)

    @cached_property
    def runtimes(self) -> RuntimeCache:
        """Loaded checkpoints, bounded in memory; created on the first predict (onnxruntime loads lazily)."""
        from .runtimes import RuntimeCache

        return RuntimeCache(self.settings.runtime_cache_bytes)

    def _setup(self) -> str | None:
        """Migrate and provision once, whichever process gets here first; return a fresh admin key."""
        with self.store.exclusive(self.settings.home):
            self.store.migrate()
            with self.store.write() as db:
                if db.get(Meta, "cursor_secret") is None:
                    db.add(Meta(key="cursor_secret", value=secrets.token_hex(32)))
                key = accounts.provision(db)
            if key is not None:
                write_key_file(self.settings.admin_key_file, key)
        return key

    def _secret(self) -> bytes:
        with self.store.read() as db:
            return bytes.fromhex(db.scalar(select(Meta.value).where(Meta.key == "cursor_secret")) or "")

    def admin_key(self) -> str | None:
        """The main account's first key, as provisioned into the home (None once the file is removed)."""
        try:
            return self.settings.admin_key_file.read_text().strip()
        except FileNotFoundError:
            return None

    def close(self) -> None:
        self.events.stop()
        self.tasks.shutdown()
        self.store.dispose()


def write_key_file(path: Path, key: str) -> None:
    """Create a 0600 file atomically: the key is never readable by others, not even for an instant."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(key + "\n")
    os.chmod(path, 0o600)
