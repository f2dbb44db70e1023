"""Secrets at rest, sealed: AES-256-GCM under a key that never sits in the database.

What the platform must be able to read back (AccessKey secrets, to verify HMAC signatures; upstream API
keys, to call upstream servers; the cursor-signing secret) is stored sealed, each value bound to the row
it belongs to (the `context`, authenticated but not stored), so a sealed value copied into another row
does not open. A copy of the database alone reveals none of them.

The sealing key comes from the server's configuration (`MODELDECK_SEAL_KEY`, or `Settings.seal_key`:
every replica of a team server must share it), else from `HOME/seal.key`, created 0600 on first use.
"""

from __future__ import annotations

import base64
import binascii
import os
import secrets
from pathlib import Path

from sqlalchemy.orm import Session

from ..errors import DeckError

PREFIX = "sealed:v1:"
KEY_ENV = "MODELDECK_SEAL_KEY"
KEY_BYTES = 32


class Sealer:
    """Seal and open short secrets with one key."""

    def __init__(self, key: bytes) -> None:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        if len(key) != KEY_BYTES:
            raise ValueError("a sealing key is 32 bytes")
        self._aead = AESGCM(key)

    def __repr__(self) -> str:
        return "Sealer(key=***)"

    def seal(self, secret: str, context: str) -> str:
        nonce = secrets.token_bytes(12)
        sealed = self._aead.encrypt(nonce, secret.encode(), context.encode())
        return PREFIX + base64.urlsafe_b64encode(nonce + sealed).decode()

    def open(self, value: str, context: str) -> str:
        from cryptography.exceptions import InvalidTag

        try:
            raw = base64.urlsafe_b64decode(value.removeprefix(PREFIX))
            return self._aead.decrypt(raw[:12], raw[12:], context.encode()).decode()
        except (InvalidTag, ValueError, binascii.Error):
            raise DeckError(
                "A stored secret cannot be opened with this server's sealing key.",
                code="Sealed.WrongKey",
                hint=f"Start every replica with the same {KEY_ENV} (or the home's seal.key) that sealed it.",
            ) from None


def of_session(db: Session) -> Sealer:
    """The sealer of the platform whose store opened this session."""
    return db.info["store"].sealer


def is_sealed(value: str) -> bool:
    return value.startswith(PREFIX)


def decode_key(text: str) -> bytes:
    """A configured key: 32 bytes as 64 hex digits or as base64."""
    text = text.strip()
    try:
        key = bytes.fromhex(text) if len(text) == 2 * KEY_BYTES else base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (ValueError, binascii.Error):
        key = b""
    if len(key) != KEY_BYTES:
        raise DeckError(
            f"The sealing key in {KEY_ENV} is not 32 bytes (64 hex digits or base64).",
            code="InvalidParameter.SealKey",
            status=None,
            hint='Generate one with: python -c "import secrets; print(secrets.token_hex(32))".',
        )
    return key


def load_key(configured: str | None, key_file: Path) -> bytes:
    """The configured key, else the home's key file, created 0600 (atomically) on first use."""
    configured = configured or os.environ.get(KEY_ENV)
    if configured:
        return decode_key(configured)
    try:
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return decode_key(key_file.read_text())
    with os.fdopen(fd, "w") as fh:
        fh.write(secrets.token_hex(KEY_BYTES) + "\n")
    return decode_key(key_file.read_text())
