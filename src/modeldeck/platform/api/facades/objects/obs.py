"""The OBS dialect: what `esdk-obs-python` (3.26, unmodified) sends and reads (docs/clouds/objects.md).

On an IP endpoint the SDK is path-style and rewrites its `obs` signature to S3's V2
(`obs/client.py::_BasicClient.__init__`): `Authorization: AWS <AccessKeyId>:<base64 HMAC-SHA1>` over
`x-amz-*` headers, the Date (empty when `x-amz-date` is sent) and `/<bucket>[/<key quoted, safe '/~'>]`
with the sub-resources of `obs/const.py::ALLOWED_RESOURCE_PARAMTER_NAMES` (compared in lower case); a
name sent without a value is written bare (`obs/auth.py::Authentication.__make_canonical_string`). On a
hostname it may sign `OBS <id>:<sig>`: the same string over `x-obs-*` headers, accepted too.
"""

from __future__ import annotations

from urllib.parse import quote

from sqlalchemy.orm import Session

from .....errors import InvalidApiKey
from ....authn import Presented, signed_by, signed_date
from ....authz import Principal
from ....context import Services
from . import signing
from .core import Dialect

# The names of ALLOWED_RESOURCE_PARAMTER_NAMES that reach requests this facade answers (lower case).
SUB_RESOURCES = frozenset({
    "acl", "uploads", "uploadid", "partnumber", "versionid", "delete", "tagging", "append", "position",
    "metadata", "response-content-type", "response-content-language", "response-expires",
    "response-cache-control", "response-content-disposition", "response-content-encoding",
})  # fmt: skip


def mismatch(message: str) -> InvalidApiKey:
    return InvalidApiKey(message, code="SignatureDoesNotMatch",
                         hint="Sign with the AccessKey's secret as ObsClient does, over the request as sent.")  # fmt: skip


def string_to_sign(presented: Presented, prefix: str) -> str:
    bucket, key = signing.bucket_and_key(presented.path)
    resource = f"/{bucket}" + (f"/{quote(key, safe='/~')}" if key else "")

    def counted(name: str) -> bool:
        return name.lower() in SUB_RESOURCES or name.lower().startswith(prefix)

    subs = signing.sub_resources(signing.query_items(presented.query), counted, lambda v: v is None)
    date = "" if presented.header(prefix + "date") else presented.header("date") or ""
    return signing.string_to_sign(presented, prefix=prefix, date=date, resource=resource + subs)


class _V2:
    needs_body = False
    prefix = "x-amz-"

    def principal(self, platform: Services, db: Session, presented: Presented) -> Principal:
        key_id, given = signing.credential(presented.header("authorization") or "", self.scheme.upper(), mismatch)
        text = string_to_sign(presented, self.prefix)
        date = presented.header(self.prefix + "date") or presented.header("date") or ""
        return signed_by(platform, db, key_id, lambda secret: signing.sign(secret, text), given,
                         signed_at=lambda: signed_date(date, signing.HTTP_DATE, mismatch), nonce=None,
                         mismatch=mismatch)  # fmt: skip


class AwsV2Signatures(_V2):
    """`AWS <id>:<signature>` (S3 V2), what ObsClient signs on 127.0.0.1."""

    scheme = "aws"


class ObsSignatures(_V2):
    """`OBS <id>:<signature>`, what ObsClient signs against an OBS hostname."""

    scheme = "obs"
    prefix = "x-obs-"


DIALECT = Dialect(name="obs", header_prefix="x-amz-", backends=(AwsV2Signatures(), ObsSignatures()), crc=False,
                  upper_etag=False)  # fmt: skip
