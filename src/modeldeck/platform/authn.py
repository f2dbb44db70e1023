"""Authentication backends: how a request proves which account sends it.

Each sub-app (the native API, each facade) accepts the backends its protocol's clients speak, chosen by
the scheme of the `Authorization` header: `Bearer` (API keys and the platform's short-lived tokens) and
`ACS3-HMAC-SHA256` (AccessKey signatures, verified with the same canonicalization the client signs with,
`modeldeck.providers.auth`). A backend only says who the account is; `authz.enter` then decides where it
may act, the same way for every backend.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import quote

from sqlalchemy import delete, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..errors import AccessDenied, InvalidApiKey
from .accounts import ACTIVE, access_key_context
from .authz import WORKSPACE_HEADER, Principal, authenticate, bearer, principal_of
from .ids import utcnow
from .schema import AccessKey, Account, SignatureNonce

if TYPE_CHECKING:
    from .context import Services

WINDOW = timedelta(minutes=15)  # how far x-acs-date may be from the server's clock, either way
_MUST_SIGN = ("host", "x-acs-date", "x-acs-signature-nonce", "x-acs-content-sha256")
_WORKSPACE = WORKSPACE_HEADER.lower()


@dataclass(frozen=True)
class Presented:
    """What a request shows to authenticate, as it arrived (path percent-encoded as sent, raw query)."""

    method: str
    path: str
    query: str
    headers: tuple[tuple[str, str], ...]  # names in lower case
    body: bytes = b""

    @classmethod
    def of(cls, scope: Any, body: bytes = b"") -> Presented:
        raw = scope.get("raw_path")
        path = raw.decode("latin-1").partition("?")[0] if raw else quote(scope["path"])
        headers = tuple((k.decode("latin-1").lower(), v.decode("latin-1")) for k, v in scope["headers"])
        return cls(scope["method"], path, scope.get("query_string", b"").decode("latin-1"), headers, body)

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k == name), None)


class Backend(Protocol):
    scheme: str  # the Authorization scheme it answers, lower case
    needs_body: bool  # whether it must see the body (a signature covers it)
    # A backend may also answer requests without Authorization that carry its own header (`header`, lower
    # case: Huawei's `x-auth-token`); `Authentication` looks for it with getattr.

    def principal(self, platform: Services, db: Session, presented: Presented) -> Principal: ...


class BearerKeys:
    """`Authorization: Bearer <key>`: API keys (stored as sha256) and tokens the platform issued."""

    scheme = "bearer"
    needs_body = False

    def principal(self, platform: Services, db: Session, presented: Presented) -> Principal:
        return authenticate(db, bearer(presented.header("authorization")))


class AccessKeySignatures:
    """ACS3-HMAC-SHA256 signatures made with an AccessKey pair (cloud-protocols.md 3.4).

    The signature covers host, x-acs-date, the nonce, the content hash, every x-acs-* header and the
    workspace header; the body must match its declared hash. `signed_by` checks the rest, in its order.
    """

    scheme = "acs3-hmac-sha256"
    needs_body = True

    def principal(self, platform: Services, db: Session, presented: Presented) -> Principal:
        from ..providers import auth as acs3  # loaded on the first signed request only (it imports httpx)

        try:
            key_id, names, sig = acs3.parse_authorization(presented.header("authorization") or "")
        except ValueError:
            raise _mismatch("The Authorization header is not a well-formed ACS3-HMAC-SHA256 signature.") from None
        present = {name for name, _ in presented.headers}
        required = {*_MUST_SIGN, *(n for n in present if n.startswith("x-acs-") or n == _WORKSPACE)}
        declared = presented.header("x-acs-content-sha256") or ""

        def expected(secret: str) -> str:
            require_signed(names, required, present, _mismatch)
            signed = [(k, v) for k, v in presented.headers if k in set(names)]
            query = acs3.canonical_query(acs3.query_pairs(presented.query))
            return acs3.signature(secret, acs3.canonical_request(presented.method, presented.path, query, signed, declared))

        def body_matches() -> None:
            if declared != acs3.payload_hash(presented.body):
                raise _mismatch("The body does not match its x-acs-content-sha256.")

        return signed_by(
            platform, db, key_id, expected, sig,
            signed_at=lambda: signed_date(presented.header("x-acs-date") or "", acs3.DATE_FORMAT, _mismatch),
            nonce=presented.header("x-acs-signature-nonce") or "", mismatch=_mismatch, after_signature=body_matches,
        )  # fmt: skip


def signed_by(
    platform: Services, db: Session, key_id: str, expected: Callable[[str], str], given: str, *,
    signed_at: Callable[[], datetime], nonce: str | None, mismatch: Callable[[str], InvalidApiKey],
    after_signature: Callable[[], None] | None = None,
) -> Principal:  # fmt: skip
    """The account behind a request signed with one of its AccessKey pairs, whatever the signature scheme.

    Every scheme (ACS3, and the clouds' others) checks in this order, so nothing is learnt about a key
    without its secret: the key exists; `expected(secret)` equals the `given` signature; then the
    scheme's own checks of what the signature does not cover (`after_signature`, e.g. the body's hash);
    the signing time is within 15 minutes; the key is not revoked; the nonce was not seen (remembered in
    the database until its window has passed: a replay fails on every replica). `nonce=None`: the
    scheme has none, and the time window alone bounds a replay.
    """
    row = db.get(AccessKey, key_id)
    if row is None:
        raise InvalidApiKey(
            "The AccessKey id in the signature does not exist.", code="AccessKey.NotFound",
            hint="Check the AccessKey id; list yours with `modeldeck keys list`.",
        )  # fmt: skip
    secret = platform.sealer.open(row.secret, access_key_context(row.id))
    if not hmac.compare_digest(expected(secret).encode(), given.encode()):
        raise mismatch("The signature does not match the request.")
    if after_signature is not None:
        after_signature()
    when = signed_at()
    now = utcnow()
    if abs(now - when) > WINDOW:
        raise InvalidApiKey(
            "The request was signed more than 15 minutes from the server's clock.",
            code="Signature.Expired", hint="Sign each request when it is sent, and check the machine's clock.",
        )  # fmt: skip
    if row.status != ACTIVE:
        raise AccessDenied(
            "The AccessKey was revoked.", code="AccessKey.Revoked",
            hint="Create a new AccessKey (modeldeck keys create) and sign with it.",
        )  # fmt: skip
    _remember(platform, row.id, nonce, when + WINDOW, now)
    account = db.get_one(Account, row.account_id)
    return principal_of(db, account.id, account.name, account.kind, "access_key")


def _remember(platform: Services, key_id: str, nonce: str | None, until: datetime, now: datetime) -> None:
    """Record a nonce (refusing one seen within its window) and the key's last use, in one write."""
    try:
        with platform.store.write() as db:
            if nonce is not None:
                db.execute(delete(SignatureNonce).where(SignatureNonce.expires_at <= now))
                db.add(SignatureNonce(access_key_id=key_id, nonce=nonce[:128], expires_at=until))
                db.flush()
            db.execute(update(AccessKey).where(AccessKey.id == key_id).values(last_used_at=now))
    except IntegrityError:
        raise InvalidApiKey(
            "This signature's nonce was already used.", code="Signature.Replayed",
            hint="Sign every request afresh, with a new x-acs-signature-nonce (ACS3Auth does).",
        ) from None  # fmt: skip


def require_signed(names: list[str], required: set[str] | frozenset[str], present: set[str],
                   mismatch: Callable[[str], InvalidApiKey]) -> None:  # fmt: skip
    """A signature's SignedHeaders must cover what its scheme requires, and name only headers sent."""
    if not required <= set(names) or not set(names) <= present:
        raise mismatch(f"SignedHeaders must include {', '.join(sorted(required))}, and only headers sent.")


def signed_date(value: str, fmt: str, mismatch: Callable[[str], InvalidApiKey]) -> datetime:
    """The signing time a request declares (UTC, in its scheme's `fmt`); a malformed one is a mismatch."""
    try:
        return datetime.strptime(value, fmt).replace(tzinfo=timezone.utc)
    except ValueError:
        raise mismatch(f"The signing time {value[:40]!r} is not a UTC time in the format {fmt}.") from None


def mismatch_for(hint: str) -> Callable[[str], InvalidApiKey]:
    """How a signature scheme refuses a request it cannot verify: one error code, the scheme's own hint
    (which signer to use)."""

    def mismatch(message: str) -> InvalidApiKey:
        return InvalidApiKey(message, code="Signature.Mismatch", hint=hint)

    return mismatch


_mismatch = mismatch_for(
    "Sign with ACS3-HMAC-SHA256 over the request as sent (modeldeck.providers.auth.ACS3Auth does), "
    "with the AccessKey's secret."
)


class Authentication:
    """A sub-app's authentication: the backends it accepts, chosen by the Authorization scheme."""

    def __init__(self, *backends: Backend) -> None:
        self.backends = {b.scheme: b for b in backends}
        self._default = backends[0]  # answers a request with no credentials (its error says what to send)
        self._by_header = [b for b in backends if getattr(b, "header", None)]

    def backend(self, authorization: str | None, has_header: Callable[[str], bool] = lambda name: False) -> Backend:
        """The backend of the Authorization scheme; without one, the first whose own header is present."""
        if not authorization:
            return next((b for b in self._by_header if has_header(b.header)), self._default)  # type: ignore[attr-defined]
        found = self.backends.get(authorization.split(" ", 1)[0].lower())
        if found is None:
            accepted = ", ".join(b.scheme.upper() if b.scheme != "bearer" else "Bearer" for b in self.backends.values())
            raise InvalidApiKey("This endpoint does not accept that kind of credentials.", hint=f"Send one of: {accepted}.")
        return found

    def needs_body(self, authorization: str | None, has_header: Callable[[str], bool] = lambda name: False) -> bool:
        try:
            return self.backend(authorization, has_header).needs_body
        except InvalidApiKey:
            return False

    def principal(self, platform: Services, db: Session, presented: Presented) -> Principal:
        chosen = self.backend(presented.header("authorization"), lambda name: presented.header(name) is not None)
        return chosen.principal(platform, db, presented)
