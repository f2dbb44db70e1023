"""Identifiers, API keys and timestamps."""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import datetime, timezone

KEY_PREFIX = "mdk-"
TOKEN_PREFIX = "mdt-"
ACCESS_KEY_PREFIX = "AK"


ID_SHAPE = re.compile(r"^[a-z]{1,4}-[0-9a-f]{12}$")
NAME_SHAPE = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{1,63}$")  # workspace and account names


def new_id(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(6)}"


def looks_like_id(value: str) -> bool:
    """Names may not look like ids: wherever either is accepted, an id must always mean its own object."""
    return bool(ID_SHAPE.match(value))


def new_api_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(30)


def is_api_key(key: str) -> bool:
    """An API key (a token is shorter-lived and is never remembered past its expiry)."""
    return key.startswith(KEY_PREFIX)


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(30)


def new_access_key() -> tuple[str, str]:
    """An AccessKey pair: (id, secret). Ids are upper-case letters and digits, as the clouds' are."""
    alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    return ACCESS_KEY_PREFIX + "".join(secrets.choice(alphabet) for _ in range(22)), secrets.token_urlsafe(30)


def echoable(value: str) -> bool:
    """Whether a reference someone sent may be repeated in an answer: an id, or a name that does not look
    like a credential (a key pasted into the wrong header must never come back in the error)."""
    if ID_SHAPE.match(value):
        return True
    secretish = value.startswith((KEY_PREFIX, TOKEN_PREFIX, ACCESS_KEY_PREFIX, "sk-", "LTAI"))
    return bool(NAME_SHAPE.match(value)) and not secretish and not _random_looking(value)


def _random_looking(value: str) -> bool:
    """Long and mixed like a generated secret (workspace names are words)."""
    kinds = sum(any(test(c) for c in value) for test in (str.islower, str.isupper, str.isdigit))
    return len(value) >= 20 and kinds == 3


def key_digest(key: str) -> str:
    """Keys carry 240 random bits, so a plain sha256 is a safe one-way index (no slow hash needed)."""
    return hashlib.sha256(key.encode()).hexdigest()


def key_prefix(key: str) -> str:
    return key[: len(KEY_PREFIX) + 4] + "…"


def utcnow() -> datetime:
    return datetime.now(timezone.utc)
