"""Signed keyset cursors: opaque to clients, bound to the listing and workspace that issued them.

A cursor carries the sort key of the last item served. Its MAC covers the scope (endpoint, workspace,
filters), so a cursor cannot be forged, replayed in another workspace, or used to probe other listings.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Connection, Select, tuple_
from sqlalchemy.orm import Session

from ..errors import InvalidParameter

DEFAULT_LIMIT = 50
MAX_LIMIT = 500


class Cursors:
    def __init__(self, secret: bytes) -> None:
        self._keyed = hmac.new(secret, digestmod=hashlib.sha256)  # copied for each MAC: the key is set up once

    def _mac(self, scope: str, body: bytes) -> str:
        mac = self._keyed.copy()
        mac.update(scope.encode() + b"\0" + body)
        return mac.hexdigest()[:32]

    def encode(self, scope: str, key: list[Any]) -> str:
        body = json.dumps(key, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(body).decode().rstrip("=") + "." + self._mac(scope, body)

    def decode(self, scope: str, token: str) -> list[Any]:
        try:
            data, mac = token.rsplit(".", 1)
            body = base64.urlsafe_b64decode(data + "=" * (-len(data) % 4))
            valid = hmac.compare_digest(mac, self._mac(scope, body))
            key = json.loads(body) if valid else None
        except (ValueError, UnicodeDecodeError):
            key = None
        if not isinstance(key, list):
            raise _bad_cursor()
        return key


def _bad_cursor() -> InvalidParameter:
    return InvalidParameter(
        "The pagination cursor is not valid for this listing.",
        code="InvalidParameter.Cursor",
        hint="Pass the next_cursor from the previous page of the same listing, or omit it to start over.",
    )


def clamp_limit(limit: int | None) -> int:
    if limit is None:
        return DEFAULT_LIMIT
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidParameter(
            f"limit must be between 1 and {MAX_LIMIT}.",
            code="InvalidParameter.Limit",
            hint=f"Ask for at most {MAX_LIMIT} items a page and follow next_cursor.",
        )
    return limit


@dataclass(frozen=True)
class PageRequest:
    """A listing request's limit and cursor, with the cursor codec that checks it."""

    cursors: Cursors
    limit: int | None = None
    cursor: str | None = None

    def bind(self, scope: str) -> dict[str, Any]:
        return {"cursors": self.cursors, "scope": scope, "limit": self.limit, "cursor": self.cursor}


def keyset_page(
    db: Session | Connection,
    stmt: Select[Any],
    order: Sequence[ColumnElement[Any]],
    key_of: Callable[[Any], list[Any]],
    *,
    cursors: Cursors,
    scope: str,
    limit: int | None,
    cursor: str | None,
    descending: bool = False,
) -> tuple[list[Any], str | None]:
    """One page of `stmt` ordered by the unique key `order`, resuming after the key in `cursor`.

    Costs the same on the first and the thousandth page: the database seeks to the key, it never counts
    past skipped rows as OFFSET would. Given a Connection, rows come as plain rows, past the ORM.
    """
    limit = clamp_limit(limit)
    last = resume_after(cursors, scope, cursor, len(order))
    rows = list(db.execute(keyset(stmt, order, last, limit + 1, descending=descending)).all())
    nxt = cursors.encode(scope, key_of(rows[limit - 1])) if len(rows) > limit else None
    return rows[:limit], nxt


def resume_after(cursors: Cursors, scope: str, cursor: str | None, width: int) -> list[Any] | None:
    """The sort key a cursor resumes after (None: the first page); a cursor of another listing is refused."""
    if not cursor:
        return None
    last = cursors.decode(scope, cursor)
    if len(last) != width:
        raise _bad_cursor()
    return last


def keyset(stmt: Select[Any], order: Sequence[ColumnElement[Any]], after: Sequence[Any] | None, limit: Any, *,
           descending: bool = False) -> Select[Any]:  # fmt: skip
    """`stmt` ordered by the unique key `order`, after the key `after` (values, or bind parameters for a
    statement compiled once), at most `limit` rows."""
    if after is not None:
        stmt = stmt.where(tuple_(*order) < tuple_(*after) if descending else tuple_(*order) > tuple_(*after))
    return stmt.order_by(*(c.desc() for c in order) if descending else order).limit(limit)
