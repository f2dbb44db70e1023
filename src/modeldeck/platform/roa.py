"""The legacy ROA signature (`Authorization: acs AK:signature`, HMAC-SHA1) as an authentication backend.

alipai's clients and aliyun-python-sdk-core sign so (cloud-protocols.md 3.4). The string to sign is
rebuilt with the signer's own functions (`modeldeck.providers.alibaba.roa`) from the request as it
arrived; `authn.signed_by` does every other check. What the scheme leaves unsigned is bounded here: the
date must be within the window and the nonce unseen (both required), a Content-MD5, when sent, must match
the body. The scheme signs neither host nor body, so a facade taking it names its workspace in the
signed query or path wherever it can, and is meant to be reached over TLS beyond loopback.
"""

from __future__ import annotations

import base64
import hashlib
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from .authn import Presented, mismatch_for, signed_by, signed_date
from .authz import Principal

if TYPE_CHECKING:
    from .context import Services


class ROASignatures:
    """`acs <AccessKeyId>:<base64 HMAC-SHA1>` over METHOD, Accept, Content-MD5, Content-Type, Date, the
    x-acs-* headers and the path with its sorted query."""

    scheme = "acs"
    needs_body = True  # only to check a Content-MD5

    def principal(self, platform: Services, db: Session, presented: Presented) -> Principal:
        from ..providers.alibaba import roa  # loaded on the first signed request only (it imports httpx)
        from ..providers.auth import query_pairs

        try:
            key_id, sig = roa.parse_authorization(presented.header("authorization") or "")
        except ValueError:
            raise _mismatch("The Authorization header is not a well-formed `acs AK:signature`.") from None
        headers = dict(presented.headers)
        nonce = headers.get("x-acs-signature-nonce")

        def expected(secret: str) -> str:
            method = (headers.get("x-acs-signature-method"), headers.get("x-acs-signature-version"))
            if method != (roa.METHOD, roa.VERSION) or not nonce or not headers.get("date"):
                raise _mismatch(f"An ROA signature needs x-acs-signature-method {roa.METHOD}, x-acs-signature-version "
                                f"{roa.VERSION}, a date and an x-acs-signature-nonce.")  # fmt: skip
            to_sign = roa.string_to_sign(presented.method, presented.path, query_pairs(presented.query), headers)
            return roa.signature(secret, to_sign)

        def body_matches() -> None:
            md5 = headers.get("content-md5")
            if md5 and md5 != base64.b64encode(hashlib.md5(presented.body).digest()).decode():
                raise _mismatch("The body does not match its Content-MD5.")

        return signed_by(
            platform, db, key_id, expected, sig,
            signed_at=lambda: signed_date(headers.get("date") or "", roa.DATE_FORMAT, _mismatch),
            nonce=nonce, mismatch=_mismatch, after_signature=body_matches,
        )  # fmt: skip


_mismatch = mismatch_for(
    "Sign with the ROA HMAC-SHA1 scheme over the request as sent (modeldeck.providers.alibaba.roa.ROAAuth "
    "does), with the AccessKey's secret, or with ACS3-HMAC-SHA256."
)
