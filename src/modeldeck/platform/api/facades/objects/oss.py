"""The OSS dialect: what `oss2` (2.19, unmodified) sends and reads (docs/clouds/objects.md).

oss2's default `oss2.Auth` signs V1 (`Authorization: OSS <AccessKeyId>:<base64 HMAC-SHA1>`, read in
`oss2/auth.py::ProviderAuth`): the resource is `/<bucket>/<decoded key>` and the sub-resources are the
query names of its `_subresource_key_set` that the facade answers; a valueless one is written bare.
Answers carry `x-oss-request-id` and `x-oss-hash-crc64ecma`, which oss2 checks by default.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from .....errors import InvalidApiKey
from ....authn import Presented, signed_by, signed_date
from ....authz import Principal
from ....context import Services
from . import signing
from .core import Dialect

# The names of oss2's `_subresource_key_set` that reach requests this facade answers.
SUB_RESOURCES = frozenset({
    "acl", "uploadId", "uploads", "partNumber", "append", "position", "delete", "security-token", "tagging",
    "versionId", "objectMeta", "symlink", "response-content-type", "response-content-language",
    "response-expires", "response-cache-control", "response-content-disposition", "response-content-encoding",
})  # fmt: skip


def mismatch(message: str) -> InvalidApiKey:
    return InvalidApiKey(message, code="SignatureDoesNotMatch",
                         hint="Sign with the AccessKey's secret as oss2.Auth does (OSS V1), over the request as sent.")  # fmt: skip


def string_to_sign(presented: Presented) -> str:
    bucket, key = signing.bucket_and_key(presented.path)
    subs = signing.sub_resources(signing.query_items(presented.query), SUB_RESOURCES.__contains__, lambda v: not v)
    date = presented.header("x-oss-date") or presented.header("date") or ""
    return signing.string_to_sign(presented, prefix="x-oss-", date=date, resource=f"/{bucket}/{key}{subs}")


class OssSignatures:
    """`OSS <id>:<signature>`: an AccessKey pair of the platform, checked by `authn.signed_by`."""

    scheme = "oss"
    needs_body = False  # V1 covers headers only: the body is checked against Content-MD5 / returned CRC

    def principal(self, platform: Services, db: Session, presented: Presented) -> Principal:
        key_id, given = signing.credential(presented.header("authorization") or "", "OSS", mismatch)
        text = string_to_sign(presented)
        date = presented.header("x-oss-date") or presented.header("date") or ""
        return signed_by(platform, db, key_id, lambda secret: signing.sign(secret, text), given,
                         signed_at=lambda: signed_date(date, signing.HTTP_DATE, mismatch), nonce=None,
                         mismatch=mismatch)  # fmt: skip


DIALECT = Dialect(name="oss", header_prefix="x-oss-", backends=(OssSignatures(),), crc=True, upper_etag=True)
