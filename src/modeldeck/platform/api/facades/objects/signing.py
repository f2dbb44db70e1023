"""What the object-store V1/V2 signatures share: base64(HMAC-SHA1(secret, string to sign)) over the
method, Content-MD5, Content-Type, the date, the store's own headers and the resource with its
sub-resources. OSS (`OSS ak:sig`) and OBS on an IP endpoint (`AWS ak:sig`, S3's V2) differ only in which
headers and query names count and how the key is written, so each dialect passes those in."""

from __future__ import annotations

import base64
import hmac
from collections.abc import Callable
from hashlib import sha1
from urllib.parse import unquote

from .....errors import InvalidApiKey
from ....authn import Presented

HTTP_DATE = "%a, %d %b %Y %H:%M:%S GMT"


def query_items(query: str) -> list[tuple[str, str | None]]:
    """The query as sent, decoded; a name without '=' has the value None (`?uploads`)."""
    items: list[tuple[str, str | None]] = []
    for piece in query.split("&"):
        if piece:
            name, eq, value = piece.partition("=")
            items.append((unquote(name), unquote(value) if eq else None))
    return items


def bucket_and_key(path: str) -> tuple[str, str]:
    """`/<bucket>/<key>` of a path-style request (percent-encoded as sent; the key may hold '/')."""
    bucket, _, key = path.lstrip("/").partition("/")
    return unquote(bucket), unquote(key)


def sign(secret: str, text: str) -> str:
    return base64.b64encode(hmac.new(secret.encode(), text.encode(), sha1).digest()).decode()


def string_to_sign(presented: Presented, *, prefix: str, date: str, resource: str) -> str:
    """METHOD\\nContent-MD5\\nContent-Type\\nDate\\n, the `prefix` headers sorted as `name:value\\n`, the resource."""
    own = sorted((k, v.strip() if k.startswith(prefix + "meta-") else v)
                 for k, v in presented.headers if k.startswith(prefix))  # fmt: skip
    head = [presented.method, presented.header("content-md5") or "", presented.header("content-type") or "", date]
    return "\n".join(head) + "\n" + "".join(f"{k}:{v}\n" for k, v in own) + resource


def sub_resources(items: list[tuple[str, str | None]], counted: Callable[[str], bool],
                  bare: Callable[[str | None], bool]) -> str:  # fmt: skip
    chosen = sorted((k, v) for k, v in items if counted(k))
    if not chosen:
        return ""
    return "?" + "&".join(k if bare(v) else f"{k}={v}" for k, v in chosen)


def credential(authorization: str, scheme: str, mismatch: Callable[[str], InvalidApiKey]) -> tuple[str, str]:
    """(AccessKey id, signature) of `<scheme> <id>:<signature>`."""
    given, _, rest = authorization.partition(" ")
    key_id, colon, signature = rest.strip().partition(":")
    if given.upper() != scheme or not colon or not key_id or not signature:
        raise mismatch(f"The Authorization header is not of the form '{scheme} <AccessKeyId>:<Signature>'.")
    return key_id, signature
