"""Content-addressed blob storage (sha256) on the local disk or any fsspec URL.

A blob only ever appears at its final key whole and verified: local disks get an atomic rename, object
stores a single put. Blobs are read-only once stored.
"""

from __future__ import annotations

import errno
import os
import shutil
from pathlib import Path
from typing import IO


class BlobStore:
    def __init__(self, url: str) -> None:
        import fsspec

        self.fs, self.root = fsspec.core.url_to_fs(url)
        self.local = "file" in (self.fs.protocol if isinstance(self.fs.protocol, tuple) else (self.fs.protocol,))
        if self.local:
            os.makedirs(self.root, exist_ok=True)

    def key(self, digest: str) -> str:
        return f"{self.root}/sha256/{digest[:2]}/{digest}"

    def has(self, digest: str) -> bool:
        return bool(self.fs.exists(self.key(digest)))

    def put(self, staged: Path, digest: str) -> None:
        """Move a verified staged file to its key. The staged file is consumed."""
        key = self.key(digest)
        if not self.local:
            self.fs.put_file(str(staged), key)
            staged.unlink()
            return
        os.makedirs(os.path.dirname(key), exist_ok=True)
        os.chmod(staged, 0o444)
        try:
            os.replace(staged, key)
        except OSError as exc:  # staging and blobs on different filesystems
            if exc.errno != errno.EXDEV:
                raise
            tmp = f"{key}.{os.getpid()}.tmp"
            shutil.copyfile(staged, tmp)
            os.chmod(tmp, 0o444)
            os.replace(tmp, key)
            staged.unlink()

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
