"""The platform never stores its own secrets as blobs: not a file of its home's keys (admin.key ...), not
any API key it issued. Whoever may upload could otherwise register the key file (by path, or by uploading
the same bytes) and anyone who may read the version, a viewer included, could download it."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from ..errors import InvalidParameter
from .db import Store
from .ids import key_digest
from .schema import ApiKey

MAX_SECRET_FILE = 4096  # key files are a line; anything larger is not one of them


def refuse_secrets(store: Store, home: Path, staged: Path, size: int) -> None:
    """Raise if the staged bytes are one of the home's key files or, stripped, an API key of the platform."""
    if size > MAX_SECRET_FILE:
        return
    data = staged.read_bytes()
    if any(data == key_file.read_bytes() for key_file in home.glob("*.key")) or _is_api_key(store, data):
        raise InvalidParameter(
            "The file is one of the platform's own keys; it is never stored.",
            code="Artifact.Secret",
            hint="Register the checkpoint itself; keys stay in their files and are passed as credentials.",
        )


def _is_api_key(store: Store, data: bytes) -> bool:
    try:
        text = data.decode("ascii").strip()
    except UnicodeDecodeError:
        return False
    if not text or any(ch.isspace() for ch in text):
        return False
    with store.read() as db:
        return db.scalar(select(ApiKey.id).where(ApiKey.digest == key_digest(text))) is not None
