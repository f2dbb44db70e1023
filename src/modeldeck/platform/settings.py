"""Where the platform keeps its state and which limits it enforces."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from pathlib import Path

from .._home import default_home

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass
class Settings:
    home: Path = field(default_factory=default_home)
    db_url: str | None = None  # default: SQLite in WAL mode at home/modeldeck.db
    blobs_url: str | None = None  # default: home/blobs; any fsspec URL
    # Address ranges an admin allows URIs to point at (loopback, private ...), refused otherwise.
    allowed_networks: tuple[Network, ...] = ()
    # Unsafe checkpoint formats callers may opt into for local inference (e.g. "PickleModel").
    allow_unsafe_formats: frozenset[str] = frozenset()
    # Let the main account's key import files by path (the embedded server: client and server are one user).
    local_imports: bool = False
    max_json_body: int = 1 << 20
    max_blob_size: int = 64 << 30
    runtime_cache_bytes: int = 1 << 30
    # The Ray cluster that `ray` deployments run on (None: the one `ray start` left on this machine), and
    # the loopback port of Ray Serve's HTTP proxy.
    ray_address: str | None = None
    ray_serve_port: int = 8000

    def __post_init__(self) -> None:
        self.home = Path(self.home).expanduser().resolve()

    @property
    def database_url(self) -> str:
        return self.db_url or f"sqlite:///{self.home / 'modeldeck.db'}"

    @property
    def blob_root(self) -> str:
        return self.blobs_url or str(self.home / "blobs")

    @property
    def admin_key_file(self) -> Path:
        return self.home / "admin.key"
