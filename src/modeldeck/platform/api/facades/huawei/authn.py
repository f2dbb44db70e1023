"""How Huawei Cloud's clients prove who they are: an AccessKey pair signing SDK-HMAC-SHA256 (what every
`huaweicloudsdk*` client sends), or an IAM token in `X-Auth-Token` (issued by the IAM facade, verified on
every call with the platform's token machinery).

The signature is verified from the request as it arrived, with the signer's own steps
(`modeldeck.providers.huawei.auth`), then `authn.signed_by` makes the checks every scheme shares. The
scheme has no nonce: the 15-minute window of `X-Sdk-Date` alone bounds a replay (two equal requests in one
second carry equal signatures, so a nonce could not tell a replay from a repeat).
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from .....errors import AccessDenied, InvalidApiKey
from ....authn import Presented, mismatch_for, require_signed, signed_by, signed_date
from ....authz import Principal, authenticate
from ....ids import TOKEN_PREFIX
from .ids import projects

if TYPE_CHECKING:
    from ....context import Services

MUST_SIGN = frozenset({"host", "x-sdk-date"})
SIGNED_WHEN_SENT = frozenset({"x-project-id", "x-domain-id", "x-security-token", "content-type"})
TOKEN_HEADER = "x-auth-token"


def received(presented: Presented) -> dict[str, str]:
    """Header values as the client signed them: the wire's UTF-8 (ASGI hands them over as latin-1)."""
    out = {}
    for name, value in presented.headers:
        try:
            out[name] = value.encode("latin-1").decode("utf-8")
        except UnicodeError:
            out[name] = value
    return out


_mismatch = mismatch_for(
    "Sign with SDK-HMAC-SHA256 over the request as sent (the huaweicloudsdk clients and "
    "modeldeck.providers.huawei.auth.SdkHmacAuth do), with the AccessKey's secret."
)


class SdkHmacSignatures:
    """`Authorization: SDK-HMAC-SHA256 Access=…, SignedHeaders=…, Signature=…` with an AccessKey pair."""

    scheme = "sdk-hmac-sha256"
    needs_body = True

    def principal(self, platform: Services, db: Session, presented: Presented) -> Principal:
        from .....providers.huawei import auth as sdk  # loaded on the first signed request only

        try:
            key_id, names, sig = sdk.parse_authorization(presented.header("authorization") or "")
        except ValueError:
            raise _mismatch("The Authorization header is not a well-formed SDK-HMAC-SHA256 signature.") from None
        headers = received(presented)
        required = MUST_SIGN | (SIGNED_WHEN_SENT & set(headers))
        declared = headers.get(sdk.CONTENT_HEADER.lower())

        def expected(secret: str) -> str:
            require_signed(names, required, set(headers), _mismatch)
            hashed = sdk.payload_hash(presented.body, declared)
            canonical = sdk.canonical_request(presented.method, presented.path, presented.query, headers, names, hashed)
            return sdk.signature(secret, headers["x-sdk-date"], canonical)

        def body_matches() -> None:
            if presented.body and declared not in (None, sdk.UNSIGNED_PAYLOAD) \
                    and declared != hashlib.sha256(presented.body).hexdigest():  # fmt: skip
                raise _mismatch("The body does not match its X-Sdk-Content-Sha256.")

        return signed_by(
            platform, db, key_id, expected, sig,
            signed_at=lambda: signed_date(headers.get("x-sdk-date", ""), sdk.DATE_FORMAT, _mismatch),
            nonce=None, mismatch=_mismatch, after_signature=body_matches,
        )  # fmt: skip


def subject_token(token: str, project: str | None) -> str:
    """The `X-Subject-Token` IAM hands out: the platform token, scoped to a project (or to the domain)."""
    return f"{token}.{project or ''}"


def requested_project(presented: Presented) -> str | None:
    """The project a request acts in: its `/v1|v2/{project_id}/…` path segment, else `X-Project-Id`."""
    parts = presented.path.split("/")
    if len(parts) > 2 and parts[1] in ("v1", "v2") and len(parts[2]) == 32:
        return parts[2]
    return presented.header("x-project-id")


class IamTokens:
    """`X-Auth-Token: <X-Subject-Token>`: a token IAM issued, valid for its own project only."""

    scheme = TOKEN_HEADER
    header = TOKEN_HEADER
    needs_body = False

    def principal(self, platform: Services, db: Session, presented: Presented) -> Principal:
        token, _, scope = (presented.header(TOKEN_HEADER) or "").strip().rpartition(".")
        if not token.startswith(TOKEN_PREFIX):
            raise InvalidApiKey("The X-Auth-Token is not a token IAM issued.", code="Token.Invalid",
                                hint="Ask IAM for one: POST /v3/auth/tokens, and send its X-Subject-Token.")  # fmt: skip
        principal = authenticate(db, token)
        wanted = requested_project(presented)
        if wanted and wanted in projects(principal.root_id) and wanted != scope:
            raise AccessDenied(
                "The token was issued for another project than the one this request acts in.",
                code="Token.WrongProject",
                hint="Ask IAM for a token scoped to this project (scope.project.id, or its region's name).",
            )  # fmt: skip
        return principal
