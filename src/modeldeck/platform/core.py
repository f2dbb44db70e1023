"""The platform: one object wiring the store, the blob store, uploads, cursors, the sealer, change events, the
task runner and the runtime cache. The services it wires never import it back (they name `context.Services`)."""

from __future__ import annotations

import os
import secrets
from datetime import timedelta
import threading
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from . import accounts, chat, gc
from .artifacts import Uploads
from .blobs import BlobStore
from .db import Store
from .metrics import Metrics
from .objects import Objects
from .events import EventBus
from .pagination import Cursors
from .schema import Meta
from .sealed import Sealer, is_sealed, load_key
from .settings import Settings
from .staging import staging_for
from .tasks import TaskRunner

if TYPE_CHECKING:
    from .deployments import Deployments
    from .runtimes import RuntimeCache


CURSOR_SECRET = "cursor_secret"  # its Meta key, and the context it is sealed under


class Platform:
    """The embedded or team platform over one home (or one database + object store)."""

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or Settings()
        home = self.settings.home
        home.mkdir(parents=True, exist_ok=True)
        os.chmod(home, 0o700)
        self.metrics = Metrics()
        self.store = Store(self.settings.database_url)
        self.blobs = BlobStore(self.settings.blob_root)
        self.uploads = Uploads(
            self.store, self.blobs, staging_for(self.settings, self.blobs), home / "uploads", self.settings.max_blob_size
        )
        self.objects = Objects(self.store, self.uploads)  # the OSS / OBS facades' buckets
        self.sealer: Sealer
        self.initial_key = self._setup()
        self.cursors = Cursors(self._secret())
        self.events = EventBus(self.store)
        self.tasks = TaskRunner(self).start()
        self.tasks.register("chat", chat.run_task, check=chat.check_task_input)
        grace = timedelta(seconds=self.settings.gc_grace)
        self.sweeper = gc.Sweeper(self.uploads, self.settings.gc_interval, grace).start()
        if self._serving():
            threading.Thread(target=self.deployments.restore, name="modeldeck-restore", daemon=True).start()

    @cached_property
    def runtimes(self) -> RuntimeCache:
        """Loaded checkpoints, bounded in memory; created on the first predict (onnxruntime loads lazily)."""
        from .runtimes import RuntimeCache

        return RuntimeCache(self.settings.runtime_cache_bytes)

    @cached_property
    def deployments(self) -> Deployments:
        """The deployments this process runs (their replicas and controllers), made on first use."""
        from .deployments import Deployments

        return Deployments(self)

    def _serving(self) -> bool:
        """Whether a deployment was serving (or starting, or being deleted) when the platform last stopped."""
        from .deployments.spec import RESTORED
        from .schema import Deployment

        with self.store.read() as db:
            return db.scalar(select(Deployment.id).where(Deployment.status.in_(RESTORED)).limit(1)) is not None

    def _setup(self) -> str | None:
        """Migrate and provision once, whichever process gets here first; return a fresh admin key."""
        with self.store.exclusive(self.settings.home):
            self.sealer = self.store.sealer = Sealer(load_key(self.settings.seal_key, self.settings.seal_key_file))
            self.store.migrate()
            with self.store.write() as db:
                if db.get(Meta, CURSOR_SECRET) is None:
                    db.add(Meta(key=CURSOR_SECRET, value=self.sealer.seal(secrets.token_hex(32), CURSOR_SECRET)))
                self._seal_plaintext(db)
                key = accounts.provision(db)
            if key is not None:
                write_key_file(self.settings.admin_key_file, key)
        return key

    def _seal_plaintext(self, db: Session) -> None:
        """Seal the secrets a home from before sealing kept in plaintext (the cursor and upstream keys)."""
        for row in db.scalars(select(Meta).where(Meta.key.in_([CURSOR_SECRET]) | Meta.key.startswith("upstream-key:"))):
            if not is_sealed(row.value):
                row.value = self.sealer.seal(row.value, row.key)

    def _secret(self) -> bytes:
        with self.store.read() as db:
            return bytes.fromhex(self.sealer.open(db.get_one(Meta, CURSOR_SECRET).value, CURSOR_SECRET))

    def admin_key(self) -> str | None:
        """The main account's first key, as provisioned into the home (None once the file is removed)."""
        try:
            return self.settings.admin_key_file.read_text().strip()
        except FileNotFoundError:
            return None

    def close(self) -> None:
        self.sweeper.stop()
        if "deployments" in self.__dict__:
            self.deployments.close()
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
