"""Where Huawei Cloud's services live, per region (cloud-protocols.md 4.1): `https://{service}.{region}.
myhuaweicloud.com` for IAM, ModelArts, Pangu and OBS (OBS as `obs.{region}.myhuaweicloud.com`), except
ModelArts in `ap-southeast-1` (`.myhuaweicloud.cn`, as the SDK's region table has it). A profile's `url`
(ModelArts) and `endpoints = {iam = ..., pangu = ..., obs = ...}` replace them, e.g. for the local facades
all four are the server's URL (the SDKs keep only scheme and host of an endpoint).
"""

from __future__ import annotations

from collections.abc import Mapping

SERVICES = ("modelarts", "iam", "pangu", "obs")
REGION_IDS = ("cn-north-4", "cn-north-1", "cn-north-9", "cn-east-3", "cn-south-1", "cn-southwest-2",
              "ap-southeast-1", "ap-southeast-2", "ap-southeast-3", "af-south-1", "la-south-2")  # fmt: skip


def _host(service: str, region: str) -> str:
    suffix = "myhuaweicloud.cn" if (service, region) == ("modelarts", "ap-southeast-1") else "myhuaweicloud.com"
    return f"https://{service}.{region}.{suffix}"


REGIONS: dict[str, dict[str, str]] = {region: {s: _host(s, region) for s in SERVICES} for region in REGION_IDS}


def from_environment(environ: Mapping[str, str]) -> str | None:
    """The ModelArts endpoint the SDK's own variable names for the region (HUAWEICLOUD_SDK_REGION_MODELARTS_<R>)."""
    region = environ.get("HUAWEICLOUD_SDK_REGION", "")
    value = environ.get("HUAWEICLOUD_SDK_REGION_MODELARTS_" + region.upper().replace("-", "_")) if region else None
    return value.split(",")[0].strip().rstrip("/") if value else None
