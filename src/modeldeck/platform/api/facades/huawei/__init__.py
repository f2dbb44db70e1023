"""What the Huawei Cloud facades (IAM, ModelArts, Pangu, OBS) share: the error body (`errors`), the two
ways clients authenticate (`authn`: SDK-HMAC-SHA256 with an AccessKey pair, an IAM token in
`X-Auth-Token`) and the ids the SDKs parse (`ids`: projects, the domain, ModelArts workspaces).

The Huawei SDKs keep only the scheme and host of an endpoint, so these facades answer their cloud's paths
at the server's root (`Facade.roots`), each routed to its own prefix before routing.
"""

from __future__ import annotations

from ....authn import Authentication
from .authn import IamTokens, SdkHmacSignatures


def authentication() -> Authentication:
    """What a Huawei service accepts: AK/SK signatures first (what its SDK sends), then IAM tokens."""
    return Authentication(SdkHmacSignatures(), IamTokens())


__all__ = ["IamTokens", "SdkHmacSignatures", "authentication"]
