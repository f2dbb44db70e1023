"""Content-addressed blob storage (sha256) on the local disk or any fsspec URL (S3 through s3fs ...).

A blob only ever appears at its final key whole and verified: local disks get a hard link (or a copy
renamed into place), object stores a single put. Blobs are read-only once stored; only the garbage
collector removes them, and only those no workspace holds.
"""

from __future__ import annotations

import errno
import os
import re
import shutil
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Any

SHA256 = re.compile(r"^[0-9a-f]{64}$")


class BlobStore:
    def __init__(self, url: str) -> None:
        import fsspec

        self.url = url
        self.fs, self.root = fsspec.core.url_to_fs(url)
        self.local = "file" in (self.fs.protocol if isinstance(self.fs.protocol, tuple) else (self.fs.protocol,))
        if self.local:
            os.makedirs(self.root, exist_ok=True)

    def key(self, digest: str) -> str:
        return f"{self.root}/sha256/{digest[:2]}/{digest}"

    def has(self, digest: str) -> bool:
        key = self.key(digest)
        if not self.local:
            self.fs.invalidate_cache(key)  # another replica may have stored or collected it since
        return bool(self.fs.exists(key))

    def put(self, staged: Path, digest: str, *, link: bool = True) -> None:
        """Store a verified staged file at its key, keeping the staged file: it is released only once the
        database records the blob, so an interruption anywhere in between is finished by doing it again.
        On a local disk the blob is a hard link to the staged file, unless `link` is false (a copy)."""
        if self.has(digest):
            return  # the same bytes, stored whole by an earlier put
        key = self.key(digest)
        if not self.local:
            self.fs.put_file(str(staged), key)
            return
        os.makedirs(os.path.dirname(key), exist_ok=True)
        try:
            if not link:
                raise OSError(errno.EXDEV, "copy asked for")
            os.link(staged, key)
        except FileExistsError:
            return
        except OSError as exc:  # staging and blobs on different filesystems
            if exc.errno not in (errno.EXDEV, errno.EPERM, errno.EMLINK):
                raise
            tmp = f"{key}.{os.getpid()}.tmp"
            shutil.copyfile(staged, tmp)
            os.chmod(tmp, 0o444)
            os.replace(tmp, key)

    def place(self, digest: str, dest: Path) -> None:
        """Put a blob's bytes at `dest`: a hard link when possible, a copy otherwise."""
        key = self.key(digest)
        if self.local:
            try:
                os.link(key, dest)
                return
            except OSError:
                shutil.copyfile(key, dest)
                return
        self.fs.get_file(key, str(dest))

    def open(self, digest: str) -> IO[bytes]:
        return self.fs.open(self.key(digest), "rb")

    def remove(self, digest: str) -> None:
        try:
            self.fs.rm_file(self.key(digest))
        except FileNotFoundError:
            pass

    def stored(self) -> Iterator[tuple[str, datetime]]:
        """Every blob in the store with its modification time (the garbage collector's walk)."""
        base = f"{self.root}/sha256"
        if not self.local:
            self.fs.invalidate_cache(base)
        if not self.fs.exists(base):
            return
        for path, info in self.fs.find(base, detail=True).items():
            name = path.rsplit("/", 1)[-1]
            if SHA256.match(name):
                yield name, modified(info)


def modified(info: dict[str, Any]) -> datetime:
    """When an fsspec entry last changed, as an aware datetime, whichever filesystem reported it."""
    for field in ("mtime", "LastModified", "last_modified", "created"):
        value = info.get(field)
        if isinstance(value, datetime):
            return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
        if isinstance(value, (int, float)):
            return datetime.fromtimestamp(value, timezone.utc)
    return datetime.now(timezone.utc)  # unknown: treat as new, so it is kept
