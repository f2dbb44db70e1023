"""Where the platform keeps its state and which limits it enforces."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from pathlib import Path

from .._home import default_home
from .safety import Resolver, system_resolver

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass
class Settings:
    home: Path = field(default_factory=default_home)
    db_url: str | None = None  # default: SQLite in WAL mode at home/modeldeck.db
    blobs_url: str | None = None  # default: home/blobs; any fsspec URL
    # Address ranges an admin allows URIs to point at (loopback, private ...), refused otherwise.
    allowed_networks: tuple[Network, ...] = ()
    # How upstream host names become addresses at call time; each call resolves once and connects to
    # the address it checked. Tests pass their own to play a name that changes its answer (DNS rebinding).
    resolver: Resolver = system_resolver
    # Unsafe checkpoint formats callers may opt into for local inference (e.g. "PickleModel").
    allow_unsafe_formats: frozenset[str] = frozenset()
    # Let the main account's key import files by path (the embedded server: client and server are one user).
    local_imports: bool = False
    max_json_body: int = 1 << 20
    max_blob_size: int = 64 << 30
    runtime_cache_bytes: int = 1 << 30
    # The key sealing secrets at rest (64 hex digits); default: MODELDECK_SEAL_KEY, else HOME/seal.key.
    seal_key: str | None = field(default=None, repr=False)
    # The URL clients reach this server at (behind a proxy or load balancer); default: each request's own.
    public_url: str | None = None
    # Garbage collection (platform/gc.py): a sweep every gc_interval seconds (0: never) removes what was
    # left behind for longer than gc_grace seconds.
    gc_interval: float = 3600.0
    gc_grace: float = 3600.0
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

    @property
    def seal_key_file(self) -> Path:
        return self.home / "seal.key"
