"""Where Alibaba Cloud's services live, per region (cloud-protocols.md 1.1, 2.2).

DashScope (inference, API key): the China host, the international (Singapore) and Hong Kong hosts, and the
per-workspace MaaS host `https://{workspace}.{region}.maas.aliyuncs.com` that the SDK recommends (the only
one in the other MaaS regions). Model Studio management (AccessKey): `modelstudio.{region}.aliyuncs.com`;
PAI's AIWorkspace (AccessKey): `aiworkspace.{region}.aliyuncs.com`; OSS (uploads for PAI): `oss-{region}.aliyuncs.com`;
EAS management (AccessKey): `pai-eas.{region}.aliyuncs.com` (a service's calls go to the endpoint it reports);
STS (who an AccessKey is, for PAI's member roles): `sts.{region}.aliyuncs.com`.
A profile's `url` (or `endpoints = {dashscope = ..., modelstudio = ...}`) replaces them, e.g. for the local
facades: `url = "http://127.0.0.1:PORT/dashscope"`, `endpoints = {modelstudio = "http://127.0.0.1:PORT", eas = "http://127.0.0.1:PORT/eas"}`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from ...errors import InvalidParameter

MAAS_REGIONS = ("cn-beijing", "ap-southeast-1", "us-east-1", "cn-hongkong", "eu-central-1", "ap-northeast-1")
SHARED_HOSTS = {
    "cn-beijing": "https://dashscope.aliyuncs.com",
    "ap-southeast-1": "https://dashscope-intl.aliyuncs.com",
    "cn-hongkong": "https://cn-hongkong.dashscope.aliyuncs.com",
}
REGIONS: dict[str, dict[str, str]] = {
    region: {**({"dashscope": SHARED_HOSTS[region]} if region in SHARED_HOSTS else {}),
             "modelstudio": f"https://modelstudio.{region}.aliyuncs.com", "eas": f"https://pai-eas.{region}.aliyuncs.com",
             "sts": f"https://sts.{region}.aliyuncs.com"}
    for region in MAAS_REGIONS
}  # fmt: skip
# PAI's AIWorkspace (`pai` service): regional, `aiworkspace.{region}.aliyuncs.com` (the SDK's endpoint rule)
PAI_REGIONS = ("cn-hangzhou", "cn-shanghai", "cn-beijing", "cn-shenzhen", "cn-hongkong", "ap-southeast-1",
               "ap-northeast-1", "us-east-1", "us-west-1", "eu-central-1")  # fmt: skip
for _region in PAI_REGIONS:
    REGIONS.setdefault(_region, {})["pai"] = f"https://aiworkspace.{_region}.aliyuncs.com"
    REGIONS[_region]["oss"] = f"https://oss-{_region}.aliyuncs.com"  # where PAI's checkpoints are uploaded
    REGIONS[_region]["sts"] = f"https://sts.{_region}.aliyuncs.com"
_WORKSPACE_LABEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")  # it becomes a DNS label (the SDK's rule)
_API_SUFFIX = re.compile(r"/api/v1/?$")


def maas_url(workspace: str, region: str) -> str:
    """The per-workspace DashScope host, `https://{workspace}.{region}.maas.aliyuncs.com`."""
    if region not in MAAS_REGIONS:
        raise InvalidParameter(f"Region {region!r} has no Model Studio gateway.", code="Profile.Invalid",
                               hint=f"Use one of: {', '.join(MAAS_REGIONS)}.")  # fmt: skip
    if not _WORKSPACE_LABEL.match(workspace):
        raise InvalidParameter("A workspace id for the MaaS host is letters, digits, '_' and '-'.",
                               code="Profile.Invalid", hint="Pass the workspace id, like ws_QTggmeA....")  # fmt: skip
    return f"https://{workspace}.{region}.maas.aliyuncs.com"


def from_environment(environ: Mapping[str, str]) -> str | None:
    """DASHSCOPE_HTTP_BASE_URL (what the SDK reads; it ends in /api/v1) as the provider's base URL."""
    value = environ.get("DASHSCOPE_HTTP_BASE_URL") or environ.get("DASHSCOPE_BASE_URL")
    return _API_SUFFIX.sub("", value.rstrip("/")) if value else None
