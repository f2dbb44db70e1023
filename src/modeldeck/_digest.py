"""sha256 of a file's first bytes: how both sides of an upload rebuild their running hash on resume."""

from __future__ import annotations

import hashlib
from typing import IO, Any

CHUNK = 8 << 20


def sha256_prefix(fh: IO[bytes], length: int) -> Any:
    """A running sha256 over the first `length` bytes of an open binary file (read from the start)."""
    hasher = hashlib.sha256()
    fh.seek(0)
    while length:
        data = fh.read(min(CHUNK, length))
        if not data:
            break
        hasher.update(data)
        length -= len(data)
    return hasher
