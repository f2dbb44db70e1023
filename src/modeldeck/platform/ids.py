"""Identifiers, API keys and timestamps."""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import datetime, timezone

KEY_PREFIX = "mdk-"


ID_SHAPE = re.compile(r"^[a-z]{1,4}-[0-9a-f]{12}$")


def new_id(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(6)}"


def looks_like_id(value: str) -> bool:
    """Names may not look like ids: wherever either is accepted, an id must always mean its own object."""
    return bool(ID_SHAPE.match(value))


def new_api_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(30)


def key_digest(key: str) -> str:
    """Keys carry 240 random bits, so a plain sha256 is a safe one-way index (no slow hash needed)."""
    return hashlib.sha256(key.encode()).hexdigest()


def key_prefix(key: str) -> str:
    return key[: len(KEY_PREFIX) + 4] + "…"


def utcnow() -> datetime:
    return datetime.now(timezone.utc)
